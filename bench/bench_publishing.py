"""Benchmark the whitepaper PDF render in ja and en, with each supported Japanese font.

Prints `<name>: <value> <unit>` lines; see docs/benchmarks.md for what each figure means.
Run with `make bench-publishing` or `uv run python bench/bench_publishing.py --help`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

# Run as a script (`python bench/bench_publishing.py`), only bench/ is on sys.path;
# the repository root is needed for `bench._common`.
if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import emit, emit_ratio, make_parser, median_wall, note, scratch_dir, timed
from mamori.commitments.catalog_loader import DEMO_CATALOG
from mamori.commitments.registry import CheckRegistry, load_all_checks
from mamori.commitments.service import CommitmentsService
from mamori.core.db import Database
from mamori.core.errors import ConfigurationError
from mamori.core.i18n import Lang
from mamori.core.migrations import upgrade
from mamori.core.settings import Settings
from mamori.publishing.service import PublishingService

# Font family -> the suffix of its figure names.
FONTS: dict[str, str] = {"Noto Sans CJK JP": "noto", "IPAexGothic": "ipaex"}
LANGS: tuple[Lang, ...] = ("ja", "en")
PDF_TARGET_SECONDS = 3.0
PDFINFO_TIMEOUT_SECONDS = 30


def render(
    database: Database, registry: CheckRegistry, settings: Settings, *, lang: Lang, fmt: str
) -> bytes:
    """The whitepaper with status, as `mamori publish` builds it: read the database, render."""
    with database.session() as session:
        service = PublishingService(session, registry, settings)
        return service.whitepaper(lang=lang, fmt=fmt, with_status=True).content


def page_count(pdf: bytes, directory: Path) -> int | None:
    """Pages of `pdf` according to poppler's pdfinfo, or None when pdfinfo is missing."""
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo is None:
        return None
    path = directory / "page-count.pdf"
    path.write_bytes(pdf)
    # Fixed arguments and an absolute executable path: nothing here comes from input.
    completed = subprocess.run(  # noqa: S603
        [pdfinfo, str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=PDFINFO_TIMEOUT_SECONDS,
    )
    match = re.search(r"^Pages:\s+(\d+)", completed.stdout, re.MULTILINE)
    return int(match.group(1)) if match else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures; always 0 (fonts not installed are skipped)."""
    parser = make_parser(__doc__.splitlines()[0] if __doc__ else "")
    # --full changes nothing here: the document is the bundled demo either way.
    args = parser.parse_args(argv)

    if hasattr(os, "sched_getaffinity"):
        emit("cores", len(os.sched_getaffinity(0)))
    with scratch_dir("mamori-bench-") as tmp:
        url = f"sqlite:///{tmp / 'bench.db'}"
        upgrade(url)
        database = Database(url)
        try:
            registry = load_all_checks()
            with database.session() as session:
                service = CommitmentsService(session, registry)
                service.load_catalog(DEMO_CATALOG)
                service.evaluate(trigger="bench")

            # Baseline: the HTML of the same document, after one warm-up for the templates.
            base = Settings(data_dir=tmp, database_url=url)
            html_walls: dict[Lang, float] = {}
            for lang in LANGS:

                def html_render(lang: Lang = lang) -> bytes:
                    return render(database, registry, base, lang=lang, fmt="html")

                html_render()
                html_walls[lang], html = median_wall(html_render, args.repeat)
                emit(f"html_{lang}_wall", html_walls[lang], "s")
                emit(f"html_{lang}_bytes", len(html), "B")

            first = True
            for family, suffix in FONTS.items():
                settings = Settings(data_dir=tmp, database_url=url, pdf_font_family=family)
                for lang in LANGS:

                    def pdf(lang: Lang = lang, settings: Settings = settings) -> bytes:
                        return render(database, registry, settings, lang=lang, fmt="pdf")

                    try:
                        # Untimed in the median: the first render imports WeasyPrint and
                        # loads the font, which a long-running portal pays once.
                        warm_up, _ = timed(pdf)
                    except ConfigurationError:
                        note(f"{family} is not installed; skipping its figures")
                        break
                    if first:
                        emit("pdf_first_render_wall", warm_up, "s")
                        first = False
                    wall, content = median_wall(pdf, args.repeat)
                    name = f"pdf_{lang}_wall_{suffix}"
                    emit(name, wall, "s")
                    emit(f"{name}_target", PDF_TARGET_SECONDS, "s", digits=1)
                    emit_ratio(f"pdf_{lang}_{suffix}", wall, html_walls[lang])
                    emit(f"pdf_{lang}_bytes_{suffix}", len(content), "B")
                    pages = page_count(content, tmp)
                    if pages is not None:
                        emit(f"pdf_{lang}_pages_{suffix}", pages)
        finally:
            database.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
