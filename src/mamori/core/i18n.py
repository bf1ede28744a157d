"""Japanese and English message catalogs (Babel .po files under mamori/locale).

Message ids are English source text with named `%(name)s` placeholders. Code marks
them with `N_()` where they are defined and translates with `translate()` where a
reader's language is known; templates call `_()`. `make i18n` re-extracts them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeGuard

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

Lang = Literal["ja", "en"]
LANGUAGES: tuple[Lang, ...] = ("ja", "en")
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"


def is_language(value: object) -> TypeGuard[Lang]:
    """Whether `value` names a supported language."""
    return value in LANGUAGES


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark `message` for extraction without translating it yet."""
    return message


def po_path(lang: str) -> Path:
    """The .po file of `lang`."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: Lang) -> Translations:
    """Compiled translations of `lang`, built in memory from its .po file."""
    with po_path(lang).open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


def translate(lang: Lang, message: str, params: Mapping[str, Any] | None = None) -> str:
    """`message` in `lang` with its named placeholders filled from `params`."""
    text = translations(lang).gettext(message)
    return text % dict(params) if params else text


def negotiate(accept_language: str | None, default: Lang) -> Lang:
    """Pick ja or en from an Accept-Language header, by quality then order."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            quality = float(q) if q else 1.0
        except ValueError:
            quality = 0.0
        ranked.append((-quality, position, tag.strip().lower()))
    for negative_quality, _position, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if negative_quality < 0 and is_language(primary):
            return primary
    return default
