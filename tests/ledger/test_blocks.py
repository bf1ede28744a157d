"""Blocks: a chunk's events packed into one stored row, and every way one can be unreadable."""

from __future__ import annotations

import struct
import zlib

import pytest

from mamori.ledger.blocks import (
    COMPRESSED_MAGIC,
    MAGIC,
    BlockError,
    compress,
    dedups_of,
    expanded,
    pack,
    stored_events,
    unpack,
)


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


# Compressed blocks (b"MB2"): what the ledger writes.


def _trailer_at(count: int) -> int:
    return 7 + (12 + 32 + 16) * count


def _with_checksum(body: bytes) -> bytes:
    """`body` (compressed) with its checksum made to match its compressed parts again."""
    at = _trailer_at(struct.unpack_from(">I", body, 3)[0])
    return body[: at + 4] + struct.pack(">I", zlib.crc32(body[at + 8 :])) + body[at + 8 :]


def test_a_compressed_block_reads_as_the_block_it_was() -> None:
    parts = _parts(40)
    plain = pack(*parts)
    body = compress(plain)
    assert body[:3] == COMPRESSED_MAGIC and plain[:3] == MAGIC
    assert bytes(expanded(body)) == plain
    assert expanded(plain) is plain  # a block written before compression is read as it is
    block = unpack(body, 40)
    assert (block.heads, block.subjects, block.contents, block.leaves, block.dedups) == parts
    assert dedups_of(body) == parts[4]  # the keys are where an uncompressed block has them
    assert [e.content for e in stored_events(0, 10, body, 40)] == [
        e.content for e in stored_events(0, 10, plain, 40)
    ]


def test_json_logs_are_stored_in_a_fraction_of_their_size() -> None:
    record = '{"action":"file.download","host":"nimot-%d","message":"GET /api/v1/files/%d 200"}'
    contents = [(record % (n % 7, n)).encode() for n in range(500)]
    parts = (
        [b'{"class":"log","tenant":"hikari-gakuen"}'] * 500,
        [b'{"actor":"u1@hikari-gakuen.example.jp"}'] * 500,
        contents,
        [bytes(32)] * 500,
        [bytes(16)] * 500,
    )
    plain = pack(*parts)
    parts_size = sum(len(p) for part in parts[:3] for p in part)
    assert len(compress(plain)) - _trailer_at(500) < parts_size / 3


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda body: _corrupted(body, 3, struct.pack(">I", 4)), "holds 4 events"),
        # A changed compressed byte, or checksum, fails the checksum.
        (lambda body: body[:-1] + bytes([body[-1] ^ 1]), "do not match their checksum"),
        (lambda body: _corrupted(body, _trailer_at(3) + 4, b"\0\0\0\0"), "checksum"),
        (lambda body: body + b"x", "do not match their checksum"),
        # Past the checksum: a stated size that LZ4 could not make, or does not make.
        (
            lambda body: _corrupted(body, _trailer_at(3), struct.pack(">I", 2**32 - 1)),
            "cannot hold",
        ),
        (lambda body: _corrupted(body, _trailer_at(3), struct.pack(">I", 1)), "decompressed"),
        (lambda body: _with_checksum(body[:-3]), "decompress"),
        (lambda body: _with_checksum(body[: _trailer_at(3) + 8] + b"\xff" * 9), "decompress"),
        (lambda body: body[: _trailer_at(3) + 5], "shorter than its table"),
        (lambda body: body[:20], "shorter than its table"),
    ],
)
def test_an_unreadable_compressed_block_says_why(change: object, reason: str) -> None:
    body = compress(pack(*_parts(3)))
    with pytest.raises(BlockError, match=reason):
        unpack(change(body), 3)  # type: ignore[operator]


def test_a_block_stating_a_larger_size_is_refused_before_any_memory_is_taken() -> None:
    body = compress(pack(*_parts(3)))
    at = _trailer_at(3)
    packed = len(body) - at - 8
    too_large = _with_checksum(_corrupted(body, at, struct.pack(">I", 255 * packed + 1)))
    with pytest.raises(BlockError, match="cannot hold the size it states"):
        expanded(too_large)


def test_only_an_uncompressed_block_is_compressed() -> None:
    body = compress(pack(*_parts(2)))
    with pytest.raises(BlockError, match="only an uncompressed block"):
        compress(body)
