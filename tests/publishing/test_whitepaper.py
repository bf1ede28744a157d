"""The published whitepaper, read back the way a customer's tools would read it."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.db import Database
from mamori.core.i18n import Lang
from mamori.core.settings import Settings
from mamori.publishing.service import PublishingService
from mamori.tenants.service import TenantsService

POPPLER = ("pdftotext", "pdffonts", "pdftoppm")


@pytest.fixture(scope="session", autouse=True)
def _poppler_installed() -> None:
    missing = [tool for tool in POPPLER if shutil.which(tool) is None]
    assert not missing, f"install poppler-utils (make system-deps): missing {missing}"


@dataclass(frozen=True)
class Expected:
    """What the database says the whitepaper must contain, in one language."""

    headings: list[str]
    clauses: list[list[str]]
    services: list[str]
    policy: list[str]


def expected(database: Database, registry: CheckRegistry, lang: Lang) -> Expected:
    with database.session() as session:
        commitments = CommitmentsService(session, registry).commitments()
        tenants = TenantsService(session)
        provider = tenants.provider()
        return Expected(
            headings=[f"{c.position}. {c.title.get(lang)}" for c in commitments],
            clauses=[[link.clause_number for link in c.clauses] for c in commitments],
            services=[s.name.get(lang) for s in tenants.services()],
            policy=[s.text.get(lang) for s in provider.policy_statements],
        )


def squeeze(text: str) -> str:
    """Text without any whitespace: PDF extraction breaks lines wherever it likes."""
    return re.sub(r"\s+", "", text)


def render(
    database: Database, registry: CheckRegistry, tmp_path: Path, lang: Lang, fmt: str, font: str
) -> Path:
    settings = Settings(data_dir=tmp_path, pdf_font_family=font)
    with database.session() as session:
        CommitmentsService(session, registry).evaluate()
        rendered = PublishingService(session, registry, settings).whitepaper(
            lang=lang, fmt=fmt, with_status=True
        )
    path = tmp_path / rendered.filename
    path.write_bytes(rendered.content)
    return path


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def find_in_order(text: str, needles: list[str], start: int = 0) -> list[int]:
    """Positions of `needles` found one after another; fails naming the first one missing."""
    positions = []
    for needle in needles:
        found = text.find(squeeze(needle), start)
        assert found >= 0, f"not found in order: {needle!r}"
        positions.append(found)
        start = found + 1
    return positions


@pytest.fixture(params=["ja", "en"])
def lang(request: pytest.FixtureRequest) -> Iterator[Lang]:
    yield request.param


def test_pdf_has_every_commitment_in_order_with_clauses(
    demo_database: Database, registry: CheckRegistry, tmp_path: Path, lang: Lang
) -> None:
    want = expected(demo_database, registry, lang)
    text = squeeze(pdf_text(render(demo_database, registry, tmp_path, lang, "pdf", "IPAexGothic")))

    table_of_contents = find_in_order(text, want.headings)
    body = find_in_order(text, want.headings, start=table_of_contents[-1] + 1)
    ends = [*body[1:], len(text)]
    for heading, clauses, begin, end in zip(want.headings, want.clauses, body, ends, strict=True):
        section = text[begin:end]
        for clause in clauses:
            assert clause in section, f"{clause} missing under {heading!r}"
    assert sum(len(c) for c in want.clauses) >= 21
    assert "CLD.9.5.1" in text

    find_in_order(text, want.services)
    for statement in want.policy:
        assert squeeze(statement) in text, f"policy statement missing: {statement[:30]!r}"


def test_japanese_glyphs_come_from_an_embedded_cjk_font(
    demo_database: Database, registry: CheckRegistry, tmp_path: Path
) -> None:
    path = render(demo_database, registry, tmp_path, "ja", "pdf", "IPAexGothic")
    listing = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True)
    rows = [line.split() for line in listing.stdout.splitlines()[2:] if line.strip()]
    assert rows, "the PDF lists no fonts"
    for row in rows:
        name, embedded = row[0], row[-5]
        assert "IPAex" in name, f"a non-CJK font is used: {name}"
        assert embedded == "yes", f"{name} is not embedded"
    assert "当社" in pdf_text(path)


def test_production_font_noto_cjk_is_embedded(
    demo_database: Database, registry: CheckRegistry, tmp_path: Path
) -> None:
    path = render(demo_database, registry, tmp_path, "ja", "pdf", Settings().pdf_font_family)
    listing = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True)
    names = [line.split()[0] for line in listing.stdout.splitlines()[2:] if line.strip()]
    assert names and all("Noto-Sans-CJK-JP" in name for name in names), names


def test_pdf_is_a4_and_pages_are_not_blank(
    demo_database: Database, registry: CheckRegistry, tmp_path: Path
) -> None:
    path = render(demo_database, registry, tmp_path, "en", "pdf", "IPAexGothic")
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    assert re.search(r"Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)", info)
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    assert pages >= 5
    footer = pdf_text(path)
    assert re.search(rf"\b3\s*/\s*{pages}\b", footer), "page numbers missing"

    prefix = tmp_path / "page"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", "-f", "6", "-l", "6", str(path), str(prefix)], check=True
    )
    image = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    stats = ImageStat.Stat(image)
    dark = sum(image.histogram()[:128]) / (image.width * image.height)
    assert stats.stddev[0] > 10, "the page is uniform: nothing was drawn"
    assert dark > 0.004, "almost no ink on the page"


def test_markdown_and_html_carry_the_same_content(
    demo_database: Database, registry: CheckRegistry, tmp_path: Path, lang: Lang
) -> None:
    want = expected(demo_database, registry, lang)
    markdown = render(demo_database, registry, tmp_path, lang, "md", "IPAexGothic").read_text(
        "utf-8"
    )
    html = render(demo_database, registry, tmp_path, lang, "html", "IPAexGothic").read_text("utf-8")
    find_in_order(squeeze(markdown), want.headings)
    assert re.search(r"^\|.*\|$", markdown, re.M), "the responsibility matrix is not a table"
    assert f'<html lang="{lang}"' in html
    assert "<script" not in html
    for service in want.services:
        assert service in html


def test_status_appears_only_when_asked(
    demo_database: Database, registry: CheckRegistry, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    with demo_database.session() as session:
        CommitmentsService(session, registry).evaluate()
        publishing = PublishingService(session, registry, settings)
        plain = publishing.whitepaper(lang="en", fmt="md", with_status=False).content.decode()
        live = publishing.whitepaper(lang="en", fmt="md", with_status=True).content.decode()
    assert "Not evidenced" not in plain
    assert "Not evidenced" in live and "Met" in live


def test_missing_cjk_font_is_a_configuration_error(
    demo_database: Database, registry: CheckRegistry, tmp_path: Path
) -> None:
    from mamori.core.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        render(demo_database, registry, tmp_path, "ja", "pdf", "DejaVu Sans, No Such Font")
    assert "No Such Font" in caught.value.render("en")
