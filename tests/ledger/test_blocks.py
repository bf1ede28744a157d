"""Blocks: a chunk's events packed into one stored row, and every way one can be unreadable."""

from __future__ import annotations

import struct

import pytest

from mamori.ledger.blocks import BlockError, dedups_of, pack, stored_events, unpack


def _parts(count: int) -> tuple[list[bytes], ...]:
    heads = [f'{{"seq":{n}}}'.encode() for n in range(count)]
    subjects = [f'{{"actor":"u{n}"}}'.encode() for n in range(count)]
    contents = [f'{{"message":"{"é" * n}"}}'.encode() for n in range(count)]
    leaves = [bytes([n]) * 32 for n in range(count)]
    dedups = [bytes([n + 100]) * 16 for n in range(count)]
    return heads, subjects, contents, leaves, dedups


def test_a_block_unpacks_to_what_was_packed() -> None:
    parts = _parts(5)
    block = unpack(pack(*parts), 5)
    assert len(block) == 5
    assert (block.heads, block.subjects, block.contents, block.leaves, block.dedups) == parts
    assert dedups_of(pack(*parts)) == parts[4]


def test_stored_events_are_positioned_from_the_chunks_first_seq() -> None:
    events = stored_events(7, 100, pack(*_parts(3)), 3)
    assert [event.seq for event in events] == [100, 101, 102]
    assert {event.chunk_index for event in events} == {7}
    assert events[2].content == '{"message":"éé"}'
    assert events[1].leaf == bytes([1]) * 32 and events[1].dedup == bytes([101]) * 16


def test_an_empty_block_is_a_block() -> None:
    assert len(unpack(pack([], [], [], [], []), 0)) == 0


def _corrupted(body: bytes, at: int, value: bytes) -> bytes:
    return body[:at] + value + body[at + len(value) :]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda body: b"XX1" + body[3:], "not a block"),
        (lambda body: b"MB", "not a block"),
        (lambda body: body[:-1], "do not add up"),
        (lambda body: body + b"x", "do not add up"),
        (lambda body: body[:20], "shorter than its table"),
        (lambda body: _corrupted(body, 7, struct.pack(">I", 999)), "do not add up"),
        (lambda body: _corrupted(body, 3, struct.pack(">I", 4)), "holds 4 events"),
    ],
)
def test_an_unreadable_block_says_why(change: object, reason: str) -> None:
    body = pack(*_parts(3))
    with pytest.raises(BlockError, match=reason):
        unpack(change(body), 3)  # type: ignore[operator]


def test_an_event_that_is_not_utf8_is_named() -> None:
    heads, subjects, contents, leaves, dedups = _parts(3)
    contents[1] = b"\xff\xfe"
    with pytest.raises(BlockError, match="event 11 is not UTF-8"):
        stored_events(0, 10, pack(heads, subjects, contents, leaves, dedups), 3)


def test_parts_of_unequal_length_or_size_are_refused() -> None:
    heads, subjects, contents, leaves, dedups = _parts(2)
    with pytest.raises(ValueError, match="one entry per event"):
        pack(heads, subjects[:1], contents, leaves, dedups)
    with pytest.raises(ValueError, match="32 bytes"):
        pack(heads, subjects, contents, [b"short", leaves[1]], dedups)
    with pytest.raises(ValueError, match="16 bytes"):
        pack(heads, subjects, contents, leaves, [b"short", dedups[1]])
