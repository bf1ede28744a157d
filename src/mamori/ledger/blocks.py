"""A chunk's events packed into one stored block.

Every event of a chunk is kept in one `ledger_blocks` row rather than a row each: reading
or verifying the ledger then costs one row per chunk, and a purge deletes one row per
chunk. The block keeps each event's three exact parts (head, subject, content; UTF-8
JSON as `records` makes them), its leaf hash and its de-duplication key:

    magic      b"MB1"
    count      4 bytes, big-endian: the chunk's size
    lengths    3 x 4 bytes per event: head, subject and content lengths
    leaves     32 bytes per event
    dedups     16 bytes per event
    parts      head || subject || content of each event, in order

An event's position is its chunk's `first_seq` plus its place in the block (its head
says the same, and its leaf commits to it). Anything that does not add up is a
BlockError naming what is wrong, so `verify` can say where the ledger was changed.

The ledger stores blocks compressed (`compress`): the same header, table, leaves and
keys, then the parts as one LZ4 block (about a fifth of their size for JSON logs):

    magic      b"MB2"
    count, lengths, leaves, dedups as above
    size       4 bytes, big-endian: the parts' length before compression
    checksum   4 bytes, big-endian: CRC-32 of the compressed parts
    parts      head || subject || content of each event, in order, LZ4-compressed

The leaves commit to the parts as they were, so compression changes no hash and no
proof. The checksum is there for the bytes that only encode them: a change that would
decompress to the same events (another LZ4 match for the same text) is still a change
to the stored row, and `verify` names the chunk. Keys stay uncompressed, where a purge
reads them. Blocks written before compression (b"MB1") are read as they are.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import cramjam

MAGIC = b"MB1"
COMPRESSED_MAGIC = b"MB2"
LEAF_SIZE = 32
DEDUP_SIZE = 16
_COUNT = struct.Struct(">I")
_HEADER = len(MAGIC) + _COUNT.size
_TRAILER = struct.Struct(">II")  # an MB2 block's parts size and checksum
# LZ4 cannot expand its input more than this: a larger stated size is not believed, so a
# changed size cannot make a reader allocate without bound.
LZ4_MOST_EXPANSION = 255


class BlockError(ValueError):
    """A stored block that cannot be read, and why."""


@dataclass(frozen=True, slots=True)
class Block:
    """The decoded parts of a block, one list entry per event in order."""

    heads: list[bytes]
    subjects: list[bytes]
    contents: list[bytes]
    leaves: list[bytes]
    dedups: list[bytes]

    def __len__(self) -> int:
        return len(self.heads)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as stored: its position, exact parts, leaf and de-duplication key."""

    seq: int
    chunk_index: int
    head: str
    subject: str
    content: str
    leaf: bytes
    dedup: bytes


def pack(
    heads: Sequence[bytes],
    subjects: Sequence[bytes],
    contents: Sequence[bytes],
    leaves: Sequence[bytes],
    dedups: Sequence[bytes],
) -> bytes:
    """The block holding these events (all sequences in event order, of equal length)."""
    count = len(heads)
    if not count == len(subjects) == len(contents) == len(leaves) == len(dedups):
        raise ValueError("every part of a block needs one entry per event")
    lengths: list[int] = []
    parts: list[bytes] = []
    for head, subject, content in zip(heads, subjects, contents, strict=True):
        lengths += (len(head), len(subject), len(content))
        parts += (head, subject, content)
    if any(len(leaf) != LEAF_SIZE for leaf in leaves):
        raise ValueError(f"a leaf is not {LEAF_SIZE} bytes")
    if any(len(dedup) != DEDUP_SIZE for dedup in dedups):
        raise ValueError(f"a de-duplication key is not {DEDUP_SIZE} bytes")
    return b"".join(
        (
            MAGIC,
            _COUNT.pack(count),
            struct.pack(f">{3 * count}I", *lengths),
            *leaves,
            *dedups,
            *parts,
        )
    )


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a block's parts lie: its event count, lengths and offsets."""

    count: int
    lengths: tuple[int, ...]  # head, subject and content length of each event in turn
    leaves_at: int
    dedups_at: int
    parts_at: int


def layout(body: bytes | bytearray, expected: int | None = None) -> Layout:
    """The layout of `body`; `expected` is the size its chunk says it has.

    Raises BlockError when the block is not one, holds another number of events than
    expected, or its lengths do not add up to its size.
    """
    if len(body) < _HEADER or body[: len(MAGIC)] != MAGIC:
        raise BlockError("it is not a block of events")
    (count,) = _COUNT.unpack_from(body, len(MAGIC))
    if expected is not None and count != expected:
        raise BlockError(f"it holds {count} events, its chunk says {expected}")
    table = _HEADER + 12 * count
    parts_at = table + (LEAF_SIZE + DEDUP_SIZE) * count
    if len(body) < parts_at:
        raise BlockError("it is shorter than its table of events")
    lengths = struct.unpack_from(f">{3 * count}I", body, _HEADER)
    if parts_at + sum(lengths) != len(body):
        raise BlockError("its events' lengths do not add up to its size")
    return Layout(count, lengths, table, table + LEAF_SIZE * count, parts_at)


def _table_end(body: bytes | bytearray | memoryview, expected: int | None = None) -> int:
    """Where the leaves and keys of `body` (either kind) end: its parts, or its trailer."""
    if len(body) < _HEADER or bytes(body[: len(MAGIC)]) not in (MAGIC, COMPRESSED_MAGIC):
        raise BlockError("it is not a block of events")
    (count,) = _COUNT.unpack_from(body, len(MAGIC))
    if expected is not None and count != expected:
        raise BlockError(f"it holds {count} events, its chunk says {expected}")
    end = _HEADER + (12 + LEAF_SIZE + DEDUP_SIZE) * count
    if len(body) < end:
        raise BlockError("it is shorter than its table of events")
    return int(end)


def compress(body: bytes) -> bytes:
    """`body`, a block as `pack` makes it, with its parts compressed (b"MB2")."""
    if body[: len(MAGIC)] != MAGIC:
        raise BlockError("only an uncompressed block can be compressed")
    parts_at = _table_end(body)
    parts = memoryview(body)[parts_at:]
    packed = bytes(cramjam.lz4.compress_block(parts, store_size=False))
    trailer = _TRAILER.pack(len(parts), zlib.crc32(packed))
    return b"".join((COMPRESSED_MAGIC, body[len(MAGIC) : parts_at], trailer, packed))


def expanded(body: bytes | bytearray, expected: int | None = None) -> bytes | bytearray:
    """`body` as `pack` made it: itself, or a compressed block with its parts decompressed.

    Raises BlockError when a compressed block holds another number of events than
    `expected` (if given), its checksum does not match its compressed parts, its stated
    size is impossible, or the parts do not decompress to that size.
    """
    if bytes(body[: len(COMPRESSED_MAGIC)]) != COMPRESSED_MAGIC:
        return body
    parts_at = _table_end(body, expected)
    if len(body) < parts_at + _TRAILER.size:
        raise BlockError("it is shorter than its table of events")
    size, checksum = _TRAILER.unpack_from(body, parts_at)
    packed = memoryview(body)[parts_at + _TRAILER.size :]
    if zlib.crc32(packed) != checksum:
        raise BlockError("its compressed events do not match their checksum")
    if size > LZ4_MOST_EXPANSION * len(packed):
        raise BlockError("its compressed events cannot hold the size it states")
    out = bytearray(parts_at + size)
    out[: len(MAGIC)] = MAGIC
    out[len(MAGIC) : parts_at] = body[len(MAGIC) : parts_at]
    try:
        written = cramjam.lz4.decompress_block_into(packed, memoryview(out)[parts_at:])
    except cramjam.DecompressionError as exc:
        raise BlockError("its compressed events cannot be decompressed") from exc
    if written != size:
        raise BlockError("its compressed events do not decompress to the size it states")
    return out


def unpack(body: bytes, expected: int | None = None) -> Block:
    """The events of `body` (either kind), checked as `layout` checks it."""
    body = bytes(expanded(body, expected))
    shape = layout(body, expected)
    count, lengths, parts_at = shape.count, shape.lengths, shape.parts_at
    table, dedup_at = shape.leaves_at, shape.dedups_at
    leaves = [body[i : i + LEAF_SIZE] for i in range(table, table + LEAF_SIZE * count, LEAF_SIZE)]
    dedups = [
        body[i : i + DEDUP_SIZE] for i in range(dedup_at, dedup_at + DEDUP_SIZE * count, DEDUP_SIZE)
    ]
    heads: list[bytes] = []
    subjects: list[bytes] = []
    contents: list[bytes] = []
    at = parts_at
    for number in range(count):
        head_end = at + lengths[3 * number]
        subject_end = head_end + lengths[3 * number + 1]
        content_end = subject_end + lengths[3 * number + 2]
        heads.append(body[at:head_end])
        subjects.append(body[head_end:subject_end])
        contents.append(body[subject_end:content_end])
        at = content_end
    return Block(heads, subjects, contents, leaves, dedups)


HEADER_SIZE = _HEADER


def dedups_at(header: bytes) -> tuple[int, int]:
    """Where a block's de-duplication keys lie (offset, length), from its first
    HEADER_SIZE bytes (either kind): a purge needs only them, not the events."""
    if len(header) < _HEADER or header[: len(MAGIC)] not in (MAGIC, COMPRESSED_MAGIC):
        raise BlockError("it is not a block of events")
    (count,) = _COUNT.unpack_from(header, len(MAGIC))
    return _HEADER + (12 + LEAF_SIZE) * count, DEDUP_SIZE * count


def dedups_of(body: bytes) -> list[bytes]:
    """Only the de-duplication keys of a block (what a purge removes from the index)."""
    body = bytes(body)
    start, size = dedups_at(body)
    if len(body) < start + size:
        raise BlockError("it is shorter than its table of events")
    return split_keys(body[start : start + size])


def split_keys(section: bytes) -> list[bytes]:
    """The keys of a block's de-duplication section."""
    return [section[i : i + DEDUP_SIZE] for i in range(0, len(section), DEDUP_SIZE)]


def stored_events(chunk_index: int, first_seq: int, body: bytes, size: int) -> list[StoredEvent]:
    """The events of a chunk's block as text, positioned from `first_seq`.

    Raises BlockError as `unpack` does, or naming the event whose bytes are not UTF-8.
    """
    block = unpack(body, size)
    found: list[StoredEvent] = []
    for number in range(len(block)):
        seq = first_seq + number
        try:
            head = block.heads[number].decode()
            subject = block.subjects[number].decode()
            content = block.contents[number].decode()
        except UnicodeDecodeError as exc:
            raise BlockError(f"event {seq} is not UTF-8 text") from exc
        found.append(
            StoredEvent(
                seq, chunk_index, head, subject, content, block.leaves[number], block.dedups[number]
            )
        )
    return found
