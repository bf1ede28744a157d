"""Bilingual text as stored: a ja/en pair kept in one JSON column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from mamori.core.i18n import Lang


@dataclass(frozen=True)
class LText:
    """A text a customer reads, in Japanese and English."""

    ja: str
    en: str

    def get(self, lang: Lang) -> str:
        """The text in `lang`."""
        return self.ja if lang == "ja" else self.en

    def as_dict(self) -> dict[str, str]:
        """The stored form."""
        return {"ja": self.ja, "en": self.en}


class LTextType(TypeDecorator[LText]):
    """Stores an `LText` as `{"ja": ..., "en": ...}` JSON on SQLite and PostgreSQL."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: LText | None, dialect: Dialect) -> Any:
        return None if value is None else value.as_dict()

    def process_result_value(self, value: Any, dialect: Dialect) -> LText | None:
        if value is None:
            return None
        return LText(ja=str(value.get("ja", "")), en=str(value.get("en", "")))


class LTextIn(BaseModel):
    """Bilingual text as written in catalogs and API input: both languages required."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    ja: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def to_text(self) -> LText:
        """The stored form."""
        return LText(ja=self.ja, en=self.en)
