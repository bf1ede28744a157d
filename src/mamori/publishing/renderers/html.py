"""The whitepaper as one standalone HTML page: inline CSS, no script, no external resources."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from mamori.publishing.document import WhitepaperDocument
from mamori.publishing.renderers.base import WhitepaperRenderer, template_env

TEMPLATE = "whitepaper.html.j2"


def css_font_family(families: Sequence[str]) -> Markup:
    """`families` as a CSS `font-family` value, every name quoted.

    The value lands inside `<style>`, where HTML escaping does not apply, so quotes,
    backslashes and `<` are CSS-escaped instead.
    """
    quoted = []
    for family in families:
        escaped = family.replace("\\", "\\\\").replace('"', '\\"').replace("<", "\\3c ")
        quoted.append(f'"{escaped}"')
    return Markup(", ".join(quoted))  # noqa: S704 - every name is CSS-escaped above


class HtmlRenderer(WhitepaperRenderer):
    """A page that reads well on screen and prints cleanly from a browser."""

    format = "html"
    media_type = "text/html; charset=utf-8"
    suffix = ".html"

    def render(self, doc: WhitepaperDocument) -> bytes:
        """The screen page as UTF-8."""
        return self.build(doc).encode("utf-8")

    def build(
        self,
        doc: WhitepaperDocument,
        *,
        for_print: bool = False,
        font_families: Sequence[str] = (),
    ) -> str:
        """The page's HTML.

        `for_print` adds the paged-media rules (running header, page numbers, table of
        contents page numbers) that WeasyPrint understands, and sets the body font to
        `font_families`, which must be installed.
        """
        template = template_env(doc.lang, autoescape=True).get_template(TEMPLATE)
        return template.render(
            doc=doc,
            for_print=for_print,
            font_family=css_font_family(font_families) if font_families else None,
        )
