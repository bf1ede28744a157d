"""Time: stored in UTC, shown in the configured zone (Asia/Tokyo by default)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Treat naive datetimes (as SQLite returns them) as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def to_local(moment: datetime, zone: str) -> datetime:
    """Convert a stored UTC moment to the display zone."""
    return as_utc(moment).astimezone(ZoneInfo(zone))


def format_local(moment: datetime, zone: str, lang: str) -> str:
    """A date-time for readers, e.g. `2026年11月27日 22:16 JST` or `2026-11-27 22:16 JST`."""
    local = to_local(moment, zone)
    abbrev = local.tzname() or zone
    if lang == "ja":
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M} {abbrev}"
    return f"{local:%Y-%m-%d %H:%M} {abbrev}"


def format_date(moment: datetime, zone: str, lang: str) -> str:
    """A date alone, in the display zone."""
    return format_day(to_local(moment, zone).date(), lang)


def format_day(day: date, lang: str) -> str:
    """A calendar date (no time zone involved), e.g. `2024年4月1日` or `2024-04-01`."""
    if lang == "ja":
        return f"{day.year}年{day.month}月{day.day}日"
    return day.isoformat()
