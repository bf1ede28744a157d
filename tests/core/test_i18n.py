"""Every message in the source has a Japanese translation with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from mamori.core.i18n import LOCALE_DIR, negotiate, po_path, translate

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
METHOD_MAP = [
    ("src/**.py", "python"),
    ("src/**/templates/**.j2", "jinja2"),
    ("src/**/templates/**.html", "jinja2"),
]
OPTIONS = {
    "src/**/templates/**.j2": {"extensions": "jinja2.ext.i18n"},
    "src/**/templates/**.html": {"extensions": "jinja2.ext.i18n"},
}


def source_messages() -> dict[str, str]:
    """msgid -> where it was found, straight from the source tree."""
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), METHOD_MAP, OPTIONS, keywords={"_": None, "N_": None, "gettext": None}
    ):
        if isinstance(message, tuple):
            message = message[0]
        if message:
            found.setdefault(message, f"{filename}:{lineno}")
    return found


def test_messages_are_found() -> None:
    assert len(source_messages()) > 50


def test_every_message_has_japanese() -> None:
    with po_path("ja").open("rb") as handle:
        catalog = read_po(handle, locale="ja")
    missing = [
        f"{where}: {msgid!r}"
        for msgid, where in sorted(source_messages().items(), key=lambda item: item[1])
        if not (entry := catalog.get(msgid)) or not entry.string or entry.fuzzy
    ]
    assert missing == [], "messages without a Japanese translation:\n" + "\n".join(missing)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_translations_keep_placeholders(lang: str) -> None:
    with po_path(lang).open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    wrong = [
        message.id
        for message in catalog
        if message.id
        and message.string
        and sorted(PLACEHOLDER.findall(str(message.id)))
        != sorted(PLACEHOLDER.findall(str(message.string)))
    ]
    assert wrong == []


def test_both_catalogs_exist() -> None:
    assert (LOCALE_DIR / "ja" / "LC_MESSAGES" / "messages.po").is_file()
    assert (LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po").is_file()


def test_translate_fills_named_placeholders() -> None:
    assert translate("en", "Wrote %(path)s", {"path": "/x"}) == "Wrote /x"
    assert "/x" in translate("ja", "Wrote %(path)s", {"path": "/x"})
    assert translate("ja", "Wrote %(path)s", {"path": "/x"}) != "Wrote /x"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "ja"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, en;q=0.5, ja;q=0.8", "ja"),
        ("de", "ja"),
        ("en;q=0", "ja"),
        ("ja-JP", "ja"),
    ],
)
def test_negotiate(header: str | None, expected: str) -> None:
    assert negotiate(header, "ja") == expected
