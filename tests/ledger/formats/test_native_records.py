"""Free-form records normalised natively: the same events as `record_to_event`, the reference.

`formats.base.records_to_events` hands records to `_native.normalise_records`, which follows
the keys and words of `NATIVE_PLAN` and gives back to `record_to_event` whatever it does
not take itself (numbers for text fields, epoch times, offsets, non-ASCII words). Random
records built from every well-known key, nested and flat, check that nothing differs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.ledger.events import IncomingEvent, Outcome, Severity
from mamori.ledger.formats import base
from mamori.ledger.formats.base import (
    outcome_from,
    record_to_event,
    records_to_events,
    severity_from,
)
from mamori.ledger.formats.json_records import (
    long_digit_run,
    parse_json_records,
    py_long_digit_run,
    records_at_once,
)
from mamori.ledger.hashing import NATIVE_MODULE

KNOWN_KEYS = sorted(
    {
        *base.TIME_KEYS,
        *base.SEVERITY_KEYS,
        *base.ACTOR_KEYS,
        *base.ACTION_KEYS,
        *base.SOURCE_KEYS,
        *base.OUTCOME_KEYS,
        *base.MESSAGE_KEYS,
        *(key for keys in base.LABEL_KEYS.values() for key in keys),
    }
)
WORDS = [
    *base._SEVERITY_NAMES,
    *base._SUCCESS_WORDS,
    *base._FAILURE_WORDS,
    "Warning",
    "ERROR",
    " info ",
    "\tOK\n",
    "\x1cdenied\x1f",
    "İnfo",
    "²",
    "٣",
    "",
    "7",
    "30",
    " 200 ",
    "404",
    "99",
    "600",
    "-1",
    "4a",
    "0" * 25,
    "9" * 19,
]
TIMES = st.one_of(
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.builds(
        lambda day, sep, clock, fraction, zone, pad: f"{pad}{day}{sep}{clock}{fraction}{zone}{pad}",
        st.sampled_from(["2026-11-28", "2024-02-29", "2023-02-29", "0000-01-01", "9999-12-31"]),
        st.sampled_from(["T", "t", " ", "_"]),
        st.sampled_from(["03:04:05", "23:59:59", "23:59:60", "24:00:00", "03:04", "3:04:05"]),
        st.sampled_from(["", ".5", ",123", ".123456789", ".", ".12a"]),
        st.sampled_from(["", "Z", "z", "UTC", "+09:00", "-0130", " Z", "+00:00"]),
        st.sampled_from(["", " ", "\t"]),
    ),
    st.sampled_from(["2026-11-28", "1732762800", "1732762800123", "  ", "not a time", "NaN"]),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 3, 7, 8, 10, 30, 60, 100, 200, 399, 400, 599, 600]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(WORDS),
    TIMES,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["name", "id", "ip", "address", "level", "x"]), inner),
    ),
    max_leaves=8,
)


@st.composite
def _records(draw: st.DrawFn) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(KNOWN_KEYS), max_size=12, unique=True)):
        value = draw(VALUES)
        if "." in key and draw(st.booleans()):
            head, _, rest = key.partition(".")  # nested: {"user": {"name": ...}}
            node = record.setdefault(head, {})
            if isinstance(node, dict):
                node[rest] = value
        else:
            record[key] = value
    record.update(draw(st.dictionaries(st.text(max_size=6), VALUES, max_size=3)))
    return record


def _reference(record: dict[str, Any]) -> IncomingEvent | type[BaseException]:
    try:
        return record_to_event(record, original=record)
    except Exception as exc:  # the same failure is expected from the native path
        return type(exc)


def test_the_native_module_normalises() -> None:
    assert NATIVE_MODULE is not None


@settings(max_examples=500, deadline=None)
@given(st.lists(_records(), max_size=8))
def test_events_match_the_reference(records: list[dict[str, Any]]) -> None:
    for record in records:
        expected = _reference(record)
        if isinstance(expected, type):
            with pytest.raises(expected):
                records_to_events([record])
        else:
            (event,) = records_to_events([record])
            assert event == expected
            assert type(event) is IncomingEvent
            if event.occurred_at is not None:
                assert event.occurred_at.tzinfo is UTC


def _count_fallbacks(records: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> int:
    fallen: list[dict[str, Any]] = []
    reference = base._own_original

    def counting(record: dict[str, Any]) -> IncomingEvent:
        fallen.append(record)
        return reference(record)

    monkeypatch.setattr(base, "_own_original", counting)
    assert records_to_events(records) == [record_to_event(r, original=r) for r in records]
    return len(fallen)


def test_shipper_records_are_normalised_without_the_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records: list[dict[str, Any]] = [
        {  # Vector-style web access
            "timestamp": "2026-11-28T03:04:05.123456Z",
            "host": "web-01",
            "service": "portal",
            "level": "warning",
            "message": "GET /x 404",
            "user": "u1@example.jp",
            "client_ip": "203.0.113.7",
            "action": "page.read",
            "outcome": "failure",
            "status": 404,
        },
        {  # ECS-style nesting, a status code and a syslog number
            "@timestamp": "2026-11-28 03:04:05",
            "user": {"name": "admin"},
            "source": {"ip": "198.51.100.2"},
            "event": {"action": "login", "outcome": "success"},
            "log.level": 3,
            "status": 200,
            "msg": "signed in",
        },
        {
            "message": "",
            "severity": " ERROR ",
            "success": True,
            "time": None,
            "ts": "2026-01-01t00:00:00,5z",
        },
        {"nothing": ["known"], "level": 50},
    ]
    assert _count_fallbacks(records, monkeypatch) == 0
    events = records_to_events(records)
    assert events[1].actor == "admin" and events[1].source_address == "198.51.100.2"
    assert events[2].occurred_at == datetime(2026, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)


def test_values_the_native_code_leaves_go_to_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records: list[dict[str, Any]] = [
        {"timestamp": 1732762800},  # epoch seconds
        {"timestamp": "2026-11-28T12:04:05+09:00"},  # an offset
        {"user": 42},  # a number for a text field
        {"level": "İNFO"},  # not ASCII
        {"service": 3.5},
    ]
    assert _count_fallbacks(records, monkeypatch) == len(records)
    assert records_to_events(records)[1].occurred_at == datetime(2026, 11, 28, 3, 4, 5, tzinfo=UTC)


def test_a_bad_plan_is_refused() -> None:
    assert NATIVE_MODULE is not None
    with pytest.raises(TypeError, match="normalising plan"):
        NATIVE_MODULE.normalise_records([{}], (), record_to_event)
    broken = list(base.NATIVE_PLAN)
    broken[2] = (("message", "not parts"),)
    with pytest.raises(TypeError, match="plan key"):
        NATIVE_MODULE.normalise_records([{}], tuple(broken), record_to_event)
    uncreatable: tuple[Any, ...] = (type(iter([])), *base.NATIVE_PLAN[1:])
    with pytest.raises(TypeError, match="cannot be instantiated"):
        NATIVE_MODULE.normalise_records([{}], uncreatable, record_to_event)
    wrong_message_key = (*base.NATIVE_PLAN[:-1], b"message")
    with pytest.raises(TypeError, match="normalising plan"):
        NATIVE_MODULE.normalise_records([{}], wrong_message_key, record_to_event)


# --- reading a whole body at once ------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(_records(), max_size=6), st.sampled_from(["array", "lines", "one"]))
def test_bodies_read_at_once_match_the_scanner(records: list[dict[str, Any]], shape: str) -> None:
    safe = [json.loads(json.dumps(r, allow_nan=True), parse_constant=str) for r in records]
    texts = [json.dumps(r, allow_nan=True) for r in records]
    if shape == "array":
        body = ("[" + ",".join(texts) + "]").encode()
    elif shape == "lines":
        body = "\n".join(texts).encode()
    else:
        body = (texts[0] if texts else "").encode()
        safe = safe[:1]
    fast = records_at_once(body)
    if fast is not None:
        assert fast == safe
    failures = [f for f in map(_reference, safe) if isinstance(f, type)]
    if failures:
        with pytest.raises(failures[0]):
            parse_json_records(body)
    else:
        assert parse_json_records(body) == [record_to_event(r, original=r) for r in safe]


def test_numbers_int_refuses_are_not_numbers() -> None:
    # str.isdigit() accepts superscripts and other digits int() cannot read
    for text in ("\u00b2", "\u00b3\u00b9", "\u2460", "\u0663"):
        assert severity_from(text) is None
        assert outcome_from(text) is None
        (event,) = parse_json_records(json.dumps([{"severity": text, "status": text}]).encode())
        assert event.severity is Severity.INFO
        assert event.outcome is Outcome.UNKNOWN


def test_bodies_the_scanner_must_read() -> None:
    for body in (
        b'[{"n": 123456789012345678901234567890}]',  # orjson would make a float of it
        b'[{"n": NaN}]',
        b"\xef\xbb\xbf[{}]",
        b"[1, 2]",
        b'{"a": 1}{"b": 2}',
    ):
        assert records_at_once(body) is None
    assert parse_json_records(b'[{"n": 123456789012345678901234567890}]')[0].original == {
        "n": 123456789012345678901234567890
    }
    assert records_at_once(orjson.dumps([{"a": 1}, {"b": [2]}])) == [{"a": 1}, {"b": [2]}]
    assert records_at_once(b'{"a": 1}\r\n\n  \n{"b": 2}\n') == [{"a": 1}, {"b": 2}]


class _Meddler:
    """A key whose hash collides with a well-known key's and whose comparison empties the
    record it is in: a lookup in the record runs this Python code."""

    def __init__(self, record: dict[Any, Any], collides_with: str) -> None:
        self.record = record
        self.collides_with = collides_with

    def __hash__(self) -> int:
        return hash(self.collides_with)

    def __eq__(self, other: object) -> bool:
        self.record.clear()
        return False


def test_records_changed_while_they_are_read_do_not_break_it() -> None:
    """Hostile input from Python itself (not JSON): the native code holds its references."""
    assert NATIVE_MODULE is not None
    record: dict[Any, Any] = {"user": {"name": "x"}, "message": "m", "level": "info"}
    record[_Meddler(record, "message")] = "odd"
    record[_Meddler(record, "user")] = "odd"
    events = NATIVE_MODULE.normalise_records([record], base.NATIVE_PLAN, base._own_original)
    assert len(events) == 1 and isinstance(events[0], IncomingEvent)

    records: list[Any] = [{"ts": 1}, {"ts": 2}, {"ts": 3}]

    def shrinking(record: dict[str, Any]) -> IncomingEvent:
        records.clear()  # the native code walks its own copy of the list
        return record_to_event(record, original=record)

    events = NATIVE_MODULE.normalise_records(records, base.NATIVE_PLAN, shrinking)
    assert [event.original for event in events] == [{"ts": 1}, {"ts": 2}, {"ts": 3}]


def test_a_severity_stays_alive_when_the_plan_changes_while_it_is_read() -> None:
    """The severity found in the plan's table is referenced at once: a later lookup that
    runs Python code may empty that table."""
    assert NATIVE_MODULE is not None
    found = object()
    names = {"warn": found}
    plan = (*base.NATIVE_PLAN[:9], names, *base.NATIVE_PLAN[10:])
    record: dict[Any, Any] = {"level": "warn"}

    class EmptiesTheTable:
        def __hash__(self) -> int:
            return hash("actor")

        def __eq__(self, other: object) -> bool:
            names.clear()
            return False

    record[EmptiesTheTable()] = "x"
    (event,) = NATIVE_MODULE.normalise_records([record], plan, base._own_original)
    assert event.severity is found


# --- long integers: where orjson and the scanner part ways ------------------------------

DIGIT_TEXTS = st.text(alphabet='0123456789"\\ ,-.e', max_size=40)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(VALUES, DIGIT_TEXTS, st.integers(min_value=-(10**25), max_value=10**25))),
    st.booleans(),
)
def test_long_digit_runs_are_found_as_the_reference_finds_them(
    values: list[Any], ensure_ascii: bool
) -> None:
    body = json.dumps(values, ensure_ascii=ensure_ascii, allow_nan=True).encode()
    found = long_digit_run(body)
    assert found == py_long_digit_run(body)
    longest = max((abs(v) for v in _leaves(values) if type(v) is int), default=0)
    if longest >= 10**18:
        assert found >= 0 and body[found : found + 19].isdigit()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_long_digit_runs_in_any_bytes(body: bytes) -> None:
    found = long_digit_run(body)
    assert found == -1 or body[found : found + 19].isdigit()
    if b'"' not in body:
        assert found == py_long_digit_run(body)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    else:
        yield value


def test_long_digits_in_strings_do_not_stop_reading_at_once() -> None:
    body = b'[{"id": "12345678901234567890123", "note": "\\\\", "n": 1}]'
    assert records_at_once(body) == [{"id": "12345678901234567890123", "note": "\\", "n": 1}]
    assert records_at_once(b'[{"note": "\\"", "n": 12345678901234567890}]') is None
