"""The renderer interface and the helpers every whitepaper renderer shares."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import ClassVar, Literal

from jinja2 import Environment

from mamori.core.i18n import Lang
from mamori.core.templating import jinja_env
from mamori.publishing.document import CommitmentView, WhitepaperDocument

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"

# Line starts that authors use for bullet items, in ja and en. `*` and `＊` are left
# out: Japanese documents use them to mark notes, not list items.
_BULLET = re.compile(r"^\s*(?:[・•●◦‣▪]|-(?=\s))\s*")
_NOT_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_WEB_URL = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)


class WhitepaperRenderer(ABC):
    """Turns a `WhitepaperDocument` into the bytes of one output format."""

    format: ClassVar[str]
    media_type: ClassVar[str]
    suffix: ClassVar[str]

    @abstractmethod
    def render(self, doc: WhitepaperDocument) -> bytes:
        """The whole whitepaper in this renderer's format."""


@dataclass(frozen=True)
class TextBlock:
    """A paragraph (`p`, one line) or a bullet list (`ul`, one line per item)."""

    kind: Literal["p", "ul"]
    lines: tuple[str, ...]


def text_blocks(text: str) -> list[TextBlock]:
    """Split authored text into paragraphs, one per non-blank line.

    Consecutive lines that start with a bullet (`・`, `•`, `- `) become one list,
    because commitment statements enumerate measures that way.
    """
    blocks: list[TextBlock] = []
    items: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        bullet = _BULLET.match(line)
        if bullet and line[bullet.end() :]:
            items.append(line[bullet.end() :])
            continue
        if items:
            blocks.append(TextBlock("ul", tuple(items)))
            items = []
        if line:
            blocks.append(TextBlock("p", (line,)))
    if items:
        blocks.append(TextBlock("ul", tuple(items)))
    return blocks


def commitment_anchor(commitment: CommitmentView) -> str:
    """A fragment id for `commitment` that is safe in `id` and `href`."""
    return "commitment-" + (
        _NOT_ID_CHARS.sub("-", commitment.id).strip("-") or str(commitment.order)
    )


def is_web_url(value: str) -> bool:
    """Whether `value` is an http(s) URL we may publish as a link."""
    return bool(_WEB_URL.match(value))


@cache
def template_env(lang: Lang, *, autoescape: bool) -> Environment:
    """A Jinja environment over the publishing templates whose `_()` speaks `lang`.

    Autoescaping is off only for Markdown, whose templates escape every value with
    md()/md_cell().
    """
    env = jinja_env(TEMPLATE_DIR, lang, autoescape=autoescape)
    env.globals.update(
        lang=lang,
        text_blocks=text_blocks,
        anchor=commitment_anchor,
        is_web_url=is_web_url,
    )
    return env
