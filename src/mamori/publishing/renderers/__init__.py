"""Whitepaper renderers: one `WhitepaperRenderer` per output format.

`renderer_for("html" | "pdf" | "md")` returns a renderer whose `render(doc)`
gives the bytes to write, with `media_type` and `suffix` for serving or saving them.
Every renderer reads a `WhitepaperDocument` that is already in one language; fixed
labels come from the catalogs through `_()` in the templates under
`mamori/publishing/templates`.
"""

from __future__ import annotations

from mamori.core.errors import InputError
from mamori.core.i18n import N_
from mamori.publishing.renderers.base import WhitepaperRenderer
from mamori.publishing.renderers.html import HtmlRenderer
from mamori.publishing.renderers.markdown import MarkdownRenderer
from mamori.publishing.renderers.pdf import PdfRenderer

__all__ = [
    "FORMATS",
    "HtmlRenderer",
    "MarkdownRenderer",
    "PdfRenderer",
    "WhitepaperRenderer",
    "renderer_for",
]

_RENDERERS: dict[str, type[WhitepaperRenderer]] = {
    renderer.format: renderer for renderer in (HtmlRenderer, PdfRenderer, MarkdownRenderer)
}
_ALIASES = {"markdown": "md", "htm": "html"}

FORMATS: tuple[str, ...] = tuple(_RENDERERS)


def renderer_for(fmt: str) -> WhitepaperRenderer:
    """The renderer of format `fmt` (case-insensitive; `markdown` is accepted for `md`).

    Raises `InputError` naming the `format` field when `fmt` is not one of `FORMATS`.
    """
    name = fmt.strip().lower()
    renderer = _RENDERERS.get(_ALIASES.get(name, name))
    if renderer is None:
        raise InputError(
            N_("unknown whitepaper format %(format)s; choose one of %(choices)s"),
            field="format",
            params={"format": fmt, "choices": ", ".join(FORMATS)},
        )
    return renderer()
