"""The shortcuts of the append path give exactly the bytes of their definitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.ledger.records import (
    NO_HOUR,
    head_bytes,
    head_of,
    head_pieces,
    hour_of_head,
    occurred_hour,
    timestamp,
)

TEXT = st.text(max_size=40)  # any Unicode, quotes and backslashes included
MOMENTS = st.datetimes(
    min_value=datetime(2, 1, 1),  # noqa: DTZ001 - made aware below
    max_value=datetime(9998, 12, 31),  # noqa: DTZ001
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(-timedelta(hours=5))]),
)


def _fields(texts: list[str | None], moment: datetime | None) -> dict[str, object]:
    action, outcome, service, severity, tenant = texts
    return {
        "action": action,
        "class": "log",
        "occurred_at": timestamp(moment),
        "outcome": outcome,
        "service": service,
        "severity": severity,
        "tenant": tenant,
        "v": 1,
    }


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(st.one_of(st.none(), TEXT), min_size=5, max_size=5),
    moment=st.one_of(st.none(), MOMENTS),
    seq=st.integers(min_value=0, max_value=2**63),
)
def test_head_of_its_pieces_is_the_head(
    texts: list[str | None], moment: datetime | None, seq: int
) -> None:
    fields = _fields(texts, moment)
    received = "2026-11-28T01:02:03.000004Z"
    start, end = head_pieces(fields)
    assert head_of(start, end, seq, received.encode()) == head_bytes(fields, seq, received)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(st.one_of(st.none(), TEXT), min_size=5, max_size=5), moment=MOMENTS)
def test_the_hour_read_from_a_head_is_the_hour_it_occurred(
    texts: list[str | None], moment: datetime
) -> None:
    head = head_bytes(_fields(texts, moment), 7, "2026-11-28T00:00:00.000000Z")
    hour = hour_of_head(head)
    assert hour == occurred_hour(moment)
    utc = moment.astimezone(UTC)
    if utc.year >= 1970:
        start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=hour)
        assert start <= utc < start + timedelta(hours=1)
    else:
        assert hour == NO_HOUR


def test_events_without_a_readable_time_have_no_hour() -> None:
    assert occurred_hour(None) == NO_HOUR
    assert hour_of_head(head_bytes(_fields([None] * 5, None), 1, "x")) == NO_HOUR
    assert hour_of_head(b'{"occurred_at":"2026-13-01T00:00:00.000000Z"}') == NO_HOUR
    assert hour_of_head(b'{"occurred_at":"2026-1x-01T00"}') == NO_HOUR
    assert hour_of_head(b'{"action":"\\"occurred_at\\":\\"2026-01-01T05"}') == NO_HOUR
    assert hour_of_head(b"") == NO_HOUR
