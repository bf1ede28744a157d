"""The whitepaper as an A4 PDF, typeset by WeasyPrint from the print build of the HTML."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from typing import Any

from mamori.core.errors import ConfigurationError
from mamori.core.i18n import N_
from mamori.publishing.document import WhitepaperDocument
from mamori.publishing.renderers.base import WhitepaperRenderer
from mamori.publishing.renderers.html import HtmlRenderer

_GENERIC_FAMILIES = frozenset(
    {"serif", "sans-serif", "monospace", "cursive", "fantasy", "system-ui", "emoji", "math"}
)
_FC_LIST_TIMEOUT_SECONDS = 30


class PdfRenderer(WhitepaperRenderer):
    """Prints the whitepaper with a Japanese font that is installed on this machine."""

    format = "pdf"
    media_type = "application/pdf"
    suffix = ".pdf"

    def render(self, doc: WhitepaperDocument) -> bytes:
        """The PDF; raises `ConfigurationError` when no family of `doc.pdf_font_family`
        is an installed Japanese font."""
        families = installed_families(doc.pdf_font_family)
        html = HtmlRenderer().build(doc, for_print=True, font_families=families)
        return _write_pdf(html)


def parse_font_families(css_value: str) -> list[str]:
    """The family names of a CSS `font-family` list, unquoted, without generic families."""
    names = (part.strip().strip("\"'").strip() for part in css_value.split(","))
    return [name for name in names if name and name.casefold() not in _GENERIC_FAMILIES]


def installed_families(css_value: str) -> list[str]:
    """The families of `css_value` that are installed and cover Japanese, in order.

    Only these are handed to WeasyPrint, so Japanese text can never fall back to
    whatever font fontconfig would substitute for a missing family.
    """
    japanese = _japanese_font_families()
    found = [name for name in parse_font_families(css_value) if name.casefold() in japanese]
    if not found:
        raise ConfigurationError(
            N_(
                "no Japanese font matching %(family)s is installed; "
                "install fonts-noto-cjk or fonts-ipaexfont-gothic"
            ),
            params={"family": css_value},
            hint=N_("List the installed Japanese fonts with: fc-list :lang=ja family"),
        )
    return found


@cache
def _japanese_font_families() -> frozenset[str]:
    """Casefolded names (every localized alias) of the installed fonts that cover Japanese."""
    fc_list = shutil.which("fc-list")
    try:
        if fc_list is None:
            raise FileNotFoundError("fc-list")
        # Fixed arguments and an absolute executable path: nothing here comes from input.
        listing = subprocess.run(  # noqa: S603
            [fc_list, ":lang=ja", "family"],
            capture_output=True,
            text=True,
            check=True,
            timeout=_FC_LIST_TIMEOUT_SECONDS,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise ConfigurationError(
            N_("could not list the installed fonts with fc-list; install the fontconfig package")
        ) from error
    return frozenset(
        alias.strip().casefold()
        for line in listing.splitlines()
        for alias in line.split(",")
        if alias.strip()
    )


def _write_pdf(html: str) -> bytes:
    """Typeset `html` with WeasyPrint, fetching nothing but `data:` URLs."""
    # Imported here because loading WeasyPrint (Pango, fontTools) takes most of a second
    # that the HTML and Markdown renderers should not pay.
    from weasyprint import HTML, URLFetcher

    fetcher: Any = URLFetcher(allowed_protocols=("data",))
    pdf = HTML(string=html, url_fetcher=fetcher).write_pdf()
    if not isinstance(pdf, bytes):
        raise TypeError("WeasyPrint returned no PDF bytes")
    return pdf
