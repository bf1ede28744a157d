"""The native encoder: the same stored bytes and keys as `records.encode`, or the reference.

`_native.encode_events` writes an event's head pieces, subject and content as canonical
JSON in C and hashes its de-duplication key on the SIMD lanes; `_native.pack_events`
completes the heads with their positions and packs the block. Both are compared here with
their pure-Python references (`hashing.py_encode_events`, `hashing.py_pack_events`) over
random events, including the values the C code leaves to the reference (floats, tuples,
times outside UTC, non-str keys, lone surrogates), once per SIMD level of this CPU.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mamori.ledger import hashing
from mamori.ledger.events import IncomingEvent, Outcome, Severity
from mamori.ledger.records import Attributed, Encoded, EventClass, encode
from tests.support import simd

native = simd.native
simd_level = simd.simd_level  # every test once per SIMD level (the keys use the lanes)


# --- strategies ------------------------------------------------------------------------

# Text with control characters, quotes, backslashes, non-ASCII and astral characters.
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from('"\\/\x00\x01\x08\t\n\x0c\r\x1f\x7f\u2028é漢😀'),
        st.characters(codec="utf-8"),
    ),
    max_size=40,
)
KEYS = st.one_of(TEXT, st.sampled_from(["a", "b", "ab", "a\x00", "", "é", "\uffff", "😀"]))
INTS = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from([2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30]),  # the reference decides
)
SCALARS = st.one_of(st.none(), st.booleans(), INTS, TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(KEYS, inner, max_size=20)),
    max_leaves=40,
)
# What the C code leaves to the reference, mixed in now and then.
ODD = st.one_of(
    st.floats(allow_nan=False),
    st.tuples(TEXT, INTS),
    st.dictionaries(st.integers(), TEXT, min_size=1, max_size=2),  # orjson refuses these
    st.just("lone \ud800 surrogate"),  # orjson refuses these too
)
ORIGINALS = st.one_of(
    st.dictionaries(KEYS, JSON, max_size=25),
    st.dictionaries(KEYS, st.one_of(JSON, ODD), max_size=5),
)
MOMENTS = st.one_of(
    st.none(),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(timezones=st.just(timezone(timedelta(hours=9)))),  # converted by the reference
    st.datetimes(max_value=datetime(1970, 1, 2)).map(  # noqa: DTZ001 - made UTC below
        lambda moment: moment.replace(tzinfo=UTC)
    ),
)
LABELS = st.one_of(
    st.dictionaries(KEYS, TEXT, max_size=6),
    st.dictionaries(KEYS, TEXT, max_size=2).map(MappingProxyType),  # dict(labels) in Python
)


@st.composite
def _items(draw: st.DrawFn) -> Attributed:
    event = IncomingEvent(
        original=draw(ORIGINALS),
        occurred_at=draw(MOMENTS),
        severity=draw(st.sampled_from(Severity)),
        actor=draw(TEXT),
        action=draw(TEXT),
        source_address=draw(TEXT),
        outcome=draw(st.sampled_from(Outcome)),
        message=draw(TEXT),
        labels=draw(LABELS),
    )
    tenant = draw(st.one_of(st.none(), st.just(""), TEXT))
    service = draw(st.one_of(st.none(), TEXT))
    event_class = draw(st.one_of(st.sampled_from(EventClass), TEXT))
    return Attributed(event, tenant, service, event_class)  # type: ignore[arg-type]


def _encode_each(items: list[Attributed]) -> list[Any]:
    """Each item's reference encoding, or the type of the exception it raises."""
    results: list[Any] = []
    for item in items:
        try:
            results.append(tuple(encode(item)))
        except Exception as exc:
            results.append(type(exc))
    return results


# --- encode_events ---------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(_items(), max_size=12))
def test_encoded_events_match_the_reference(items: list[Attributed]) -> None:
    expected = _encode_each(items)
    failures = [result for result in expected if isinstance(result, type)]
    if failures:
        # The reference refuses one of them: so does the native encoder, the same way.
        with pytest.raises(failures[0]):
            hashing.encode_events(items)
        return
    encoded = hashing.encode_events(items)
    assert [tuple(event) for event in encoded] == expected
    for event in encoded:
        assert event.dedup[:4] == event.hour.to_bytes(4, "big")


def _encoded_in_c(items: list[Attributed]) -> list[Any]:
    """`items` through the native encoder, checking that none went to the reference."""
    fallen: list[Attributed] = []

    def fallback(item: Attributed) -> Encoded:
        fallen.append(item)
        return encode(item)

    encoded: list[Any] = native.encode_events(items, fallback)
    assert fallen == []
    return encoded


def test_plain_events_never_reach_the_fallback() -> None:
    """The fast path is really taken: a shipper's usual record is encoded in C."""
    items = [
        Attributed(
            IncomingEvent(
                original={"msg": f"GET /item/{n} 200", "status": n, "ok": True, "tags": ["a"]},
                occurred_at=datetime(2026, 11, 28, 3, 4, 5, n, tzinfo=UTC),
                severity=Severity.INFO,
                actor=f"u{n}@example.jp",
                action="item.read",
                source_address="203.0.113.9",
                outcome=Outcome.SUCCESS,
                message="GET",
                labels={"service.name": "web", "host.name": "web-01"},
            ),
            "t-1" if n % 2 else None,
            "web",
            EventClass.LOG,
        )
        for n in range(300)
    ]
    encoded = _encoded_in_c(items)
    assert all(type(event) is native.EncodedEvent for event in encoded)
    assert [tuple(event) for event in encoded] == [tuple(encode(item)) for item in items]
    assert encoded[0].tenant_id is None and encoded[0].event_class is EventClass.LOG


# Bytes either side of the ones a JSON string escapes, one- to four-byte UTF-8 too.
EDGES = ["\x00", "\x1f", " ", "!", '"', "#", "[", "\\", "]", "\x7f", "é", "漢", "😀"]


def test_every_escape_at_every_place_of_a_word_is_encoded_as_the_reference() -> None:
    """An escaped byte (or one beside those escaped) at any place of a string, before,
    between or after runs of plain bytes, comes out as the reference's."""
    texts = [
        "a" * before + edge + "b" * after
        for before in range(18)
        for after in (0, 1, 7, 8, 9)
        for edge in EDGES
    ]
    texts += [
        f"{'x' * n}{a}{'y' * m}{b}"
        for n in range(9)
        for m in range(9)
        for a in '"\\'
        for b in "\n\x01"
    ]
    items = [
        Attributed(
            IncomingEvent(
                original={text: text},
                occurred_at=datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
                severity=Severity.INFO,
                actor=text,
                action="a",
                source_address="",
                outcome=Outcome.SUCCESS,
                message=text,
                labels={"k": text},
            ),
            None,
            "web",
            EventClass.LOG,
        )
        for text in texts
    ]
    encoded = _encoded_in_c(items)
    assert [tuple(event) for event in encoded] == [tuple(encode(item)) for item in items]


def test_values_left_to_the_reference_go_to_the_fallback() -> None:
    plain = IncomingEvent(original={"a": 1}, occurred_at=datetime(2026, 1, 1, tzinfo=UTC))
    tokyo = timezone(timedelta(hours=9))
    odd = [
        IncomingEvent(original={"ratio": 0.5}),
        IncomingEvent(original={"pair": (1, 2)}),
        IncomingEvent(original={"big": 2**64 - 1}),
        IncomingEvent(original={}, occurred_at=datetime(2026, 1, 1, 9, tzinfo=tokyo)),
        IncomingEvent(original={}, labels=MappingProxyType({"k": "v"})),
    ]
    items = [Attributed(event, None, None, EventClass.LOG) for event in [plain, *odd]]
    fallen: list[Attributed] = []

    def fallback(item: Attributed) -> Encoded:
        fallen.append(item)
        return encode(item)

    encoded = native.encode_events(items, fallback)
    assert fallen == items[1:]
    assert [tuple(event) for event in encoded] == [tuple(encode(item)) for item in items]
    # The Tokyo time is stored in UTC, in the hour it occurred there.
    assert b'"occurred_at":"2026-01-01T00:00:00.000000Z"' in encoded[4].head_start


def test_a_deep_record_goes_to_the_reference() -> None:
    deep: Any = "leaf"
    for _ in range(100):
        deep = {"d": deep}
    item = Attributed(IncomingEvent(original={"deep": deep}), "t", "s", EventClass.LOG)
    assert [tuple(e) for e in hashing.encode_events([item])] == [tuple(encode(item))]


def test_encode_events_argument_errors() -> None:
    with pytest.raises(TypeError, match="not iterable"):
        native.encode_events(5, encode)
    with pytest.raises(AttributeError):
        native.encode_events([object()], encode)
    item = Attributed(IncomingEvent(original={"x": 0.5}), None, None, EventClass.LOG)
    with pytest.raises(ZeroDivisionError):
        native.encode_events([item], lambda _item: 1 / 0)


# --- pack_events -----------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_items(), max_size=40),
    st.integers(min_value=0, max_value=2**62),
    st.binary(min_size=0, max_size=40),
)
def test_packed_events_match_the_reference(
    items: list[Attributed], first_seq: int, received: bytes
) -> None:
    encoded = []
    for item in items:
        try:
            encoded.append(hashing.encode_events([item])[0])
        except Exception:  # noqa: S112 - refused by both encoders; not packed
            continue
    secret = os.urandom(32)
    as_reference = [Encoded(*event) for event in encoded]
    assert hashing.pack_events(secret, first_seq, received, encoded) == hashing.py_pack_events(
        secret, first_seq, received, as_reference
    )


def test_pack_events_argument_errors() -> None:
    secret = os.urandom(32)
    event = encode(Attributed(IncomingEvent(original={}), None, None, EventClass.LOG))
    with pytest.raises(TypeError, match=r"events\[0\] is not an encoded event"):
        native.pack_events(secret, 0, b"now", [("too", "short")])
    with pytest.raises(TypeError, match="head pieces must be bytes"):
        native.pack_events(secret, 0, b"now", [(*event[:2], "text", *event[3:])])
    with pytest.raises(TypeError, match="must be bytes"):
        native.pack_events(secret, 0, b"now", [(*event[:7], "text")])
    with pytest.raises(ValueError, match="not 16 bytes"):
        native.pack_events(secret, 0, b"now", [event._replace(dedup=b"short")])
    with pytest.raises(OverflowError):
        native.pack_events(secret, 2**64 - 1, b"now", [event, event])
    with pytest.raises(OverflowError):
        native.pack_events(secret, -1, b"now", [event])


def test_a_list_changed_by_the_fallback_is_encoded_as_it_was() -> None:
    """The fallback runs Python code; the native code walks its own copy of the items."""
    items = [
        Attributed(IncomingEvent(original={"n": n + 0.5}), None, None, EventClass.LOG)
        for n in range(5)
    ]
    walked = list(items)

    def shrinking(item: Attributed) -> Encoded:
        items.clear()
        return encode(item)

    encoded = native.encode_events(items, shrinking)
    assert [tuple(event) for event in encoded] == [tuple(encode(item)) for item in walked]
