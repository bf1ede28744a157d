"""The whitepaper as GitHub-flavoured Markdown (tables as pipe tables)."""

from __future__ import annotations

import re
import unicodedata

from mamori.publishing.document import WhitepaperDocument
from mamori.publishing.renderers.base import WhitepaperRenderer, template_env

TEMPLATE = "whitepaper.md.j2"

# Characters that start inline markup in GFM: code, emphasis, strikethrough, links,
# raw HTML, table cells. Escaping them keeps authored text literal.
_INLINE_SPECIAL = re.compile(r"([\\`*_~\[\]<>|])")
# Line starts that GFM reads as a heading, quote, list item or setext underline.
_BLOCK_START = re.compile(r"^(\s*)(#|>|[-+=]|\d+(?=[.)]))")
_BLANK_RUNS = re.compile(r"\n{3,}")


def md(text: str) -> str:
    """`text` as literal inline Markdown on one line, for use after other text."""
    line = " ".join(part.strip() for part in text.splitlines() if part.strip())
    return _INLINE_SPECIAL.sub(r"\\\1", line)


def md_line(text: str) -> str:
    """`text` as literal Markdown that starts a line (a paragraph or a list item)."""
    return _BLOCK_START.sub(_escape_block_start, md(text), count=1)


def md_cell(text: str) -> str:
    """`text` as the content of a pipe-table cell; its lines are joined with `<br>`."""
    return "<br>".join(md(line) for line in text.splitlines() if line.strip())


def gfm_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading: lowercase, punctuation dropped, spaces to `-`."""
    kept = []
    for char in heading.strip().lower():
        if char == " ":
            kept.append("-")
        elif char in "-_" or unicodedata.category(char)[0] in "LMN":
            kept.append(char)
    return "#" + "".join(kept)


def _escape_block_start(match: re.Match[str]) -> str:
    """Backslash-escape the block marker of a line start found by `_BLOCK_START`."""
    indent, marker = match.group(1), match.group(2)
    if marker[0].isdigit():
        return indent + marker + "\\"
    return indent + "\\" + marker


class MarkdownRenderer(WhitepaperRenderer):
    """GitHub-flavoured Markdown, for repositories and review diffs."""

    format = "md"
    media_type = "text/markdown; charset=utf-8; variant=GFM"
    suffix = ".md"

    def render(self, doc: WhitepaperDocument) -> bytes:
        """The Markdown as UTF-8."""
        return self.build(doc).encode("utf-8")

    def build(self, doc: WhitepaperDocument) -> str:
        """The Markdown text, with single blank lines between blocks."""
        template = template_env(doc.lang, autoescape=False).get_template(TEMPLATE)
        text = template.render(
            doc=doc, md=md, md_line=md_line, md_cell=md_cell, gfm_anchor=gfm_anchor
        )
        return _BLANK_RUNS.sub("\n\n", text).strip() + "\n"
