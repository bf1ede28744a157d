"""Publishing rules: render the whitepaper in a language and format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from mamori.commitments.registry import CheckRegistry
from mamori.core.i18n import Lang
from mamori.core.settings import Settings
from mamori.publishing.renderers import FORMATS, renderer_for
from mamori.publishing.whitepaper import build_whitepaper

WHITEPAPER_FORMATS: tuple[str, ...] = FORMATS


@dataclass(frozen=True)
class RenderedWhitepaper:
    """A rendered whitepaper and how to serve or save it."""

    content: bytes
    media_type: str
    filename: str


class PublishingService:
    """Renders the customer whitepaper from the database."""

    def __init__(self, session: Session, registry: CheckRegistry, settings: Settings) -> None:
        self.session = session
        self.registry = registry
        self.settings = settings

    def whitepaper(self, *, lang: Lang, fmt: str, with_status: bool) -> RenderedWhitepaper:
        """The whitepaper in `lang` as `fmt` (html, pdf or md)."""
        renderer = renderer_for(fmt)
        document = build_whitepaper(
            self.session, self.registry, self.settings, lang=lang, with_status=with_status
        )
        return RenderedWhitepaper(
            content=renderer.render(document),
            media_type=renderer.media_type,
            filename=f"whitepaper-{lang}{renderer.suffix}",
        )

    def write_whitepapers(
        self, directory: Path, *, langs: tuple[Lang, ...], formats: tuple[str, ...]
    ) -> list[Path]:
        """Write every language × format, with status, into `directory`."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for lang in langs:
            for fmt in formats:
                rendered = self.whitepaper(lang=lang, fmt=fmt, with_status=True)
                path = directory / rendered.filename
                path.write_bytes(rendered.content)
                written.append(path)
        return written
