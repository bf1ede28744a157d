"""The ledger's bulk work: encoding events, their leaves, de-duplication keys, blocks and
chunk roots.

Every function here has two implementations that give the same bytes: the native module
`mamori.ledger._native` (C, compiled when mamori is installed; see hatch_build.py) and
the pure-Python code below, which is the reference and the fallback when no compiler was
available. `NATIVE` says which one is in use. The formulas are those of `records` and
`merkle`:

    salts(seq)  = BLAKE2b-512(key = chunk secret, message = seq as 8 bytes big-endian)
    leaf        = SHA-256(0x00 || head || 0x0A || SHA-256(salt1 || subject)
                                                 || SHA-256(salt2 || content))
    dedup key   = hour as 4 bytes big-endian || BLAKE2b-96(scope || content),
                  scope = "<tenant or ->|<class>|", hour = `records.occurred_hour`
    chunk root  = the RFC 9162 root of the chunk's event leaves
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from types import ModuleType

from mamori.ledger import merkle
from mamori.ledger.blocks import LEAF_SIZE, pack, unpack
from mamori.ledger.records import (
    Attributed,
    Encoded,
    dedup_key,
    encode,
    event_leaf_of,
    head_of,
    hour_of_head,
)


def py_encode_events(items: Sequence[Attributed]) -> list[Encoded]:
    """The stored parts and key of each event (`records.encode`, the reference)."""
    return [encode(item) for item in items]


def py_pack_events(
    secret: bytes, first_seq: int, received: bytes, events: Sequence[Encoded]
) -> tuple[bytes, bytes]:
    """`py_pack_chunk` of encoded events, their heads completed with their positions from
    `first_seq` and the receipt time `received` (`records.head_of`)."""
    heads = [
        head_of(event.head_start, event.head_end, first_seq + offset, received)
        for offset, event in enumerate(events)
    ]
    return py_pack_chunk(
        secret,
        first_seq,
        heads,
        [event.subject for event in events],
        [event.content for event in events],
        [event.dedup for event in events],
    )


def py_event_leaves(
    secret: bytes,
    first_seq: int,
    heads: Sequence[bytes],
    subjects: Sequence[bytes],
    contents: Sequence[bytes],
) -> list[bytes]:
    """The leaf of each event, the first at position `first_seq` (`records.event_leaf_of`)."""
    return [
        event_leaf_of(secret, first_seq + offset, head, subject, content)
        for offset, (head, subject, content) in enumerate(
            zip(heads, subjects, contents, strict=True)
        )
    ]


def py_dedup_keys(scope: bytes, hours: Sequence[int], contents: Sequence[bytes]) -> list[bytes]:
    """The de-duplication key of each content in `scope`, occurred in the hour beside it."""
    return [dedup_key(scope, hour, content) for hour, content in zip(hours, contents, strict=True)]


def py_merkle_root(leaves: bytes) -> bytes:
    """The RFC 9162 root of the leaf hashes concatenated in `leaves`."""
    if len(leaves) % LEAF_SIZE:
        raise ValueError(f"leaves are not a multiple of {LEAF_SIZE} bytes")
    return merkle.root([leaves[i : i + LEAF_SIZE] for i in range(0, len(leaves), LEAF_SIZE)])


def py_pack_chunk(
    secret: bytes,
    first_seq: int,
    heads: Sequence[bytes],
    subjects: Sequence[bytes],
    contents: Sequence[bytes],
    dedups: Sequence[bytes],
) -> tuple[bytes, bytes]:
    """(the block of these events with their leaves, the root of those leaves)."""
    leaves = py_event_leaves(secret, first_seq, heads, subjects, contents)
    return pack(heads, subjects, contents, leaves, dedups), merkle.root(leaves)


def py_block_digests(
    body: bytes, first_seq: int, secret: bytes, scope: bytes
) -> tuple[bytes, bytes, bytes]:
    """Recompute a block: (its events' leaves, their keys, the root of its stored leaves).

    The leaves and keys are concatenated in event order, to be compared with the ones the
    block stores. Raises ValueError (BlockError) for a body that is not a well-formed block.
    """
    block = unpack(body)
    leaves = py_event_leaves(secret, first_seq, block.heads, block.subjects, block.contents)
    hours = [hour_of_head(head) for head in block.heads]
    keys = py_dedup_keys(scope, hours, block.contents)
    return b"".join(leaves), b"".join(keys), merkle.root(block.leaves)


# The formulas the native module must implement; a build of another version (a stale
# compiled file beside newer sources) is not used.
NATIVE_API = 5


def _load_native() -> ModuleType | None:
    try:
        native = importlib.import_module("mamori.ledger._native")
    except ImportError:
        return None
    return native if getattr(native, "API", None) == NATIVE_API else None


_native_module = _load_native()
NATIVE = _native_module is not None
NATIVE_MODULE: ModuleType | None = _native_module
"""The native module (also for `formats.base.records_to_events`), or None."""


def _native_encoding(native: ModuleType) -> Callable[[Sequence[Attributed]], list[Encoded]]:
    """`py_encode_events` in C; an event the C code leaves alone goes to `records.encode`.

    The C code's events are `_native.EncodedEvent`s: the same tuple as `Encoded`.
    """

    def encode_events(items: Sequence[Attributed]) -> list[Encoded]:
        events: list[Encoded] = native.encode_events(items, encode)
        return events

    return encode_events


if _native_module is not None:
    encode_events = _native_encoding(_native_module)
    pack_events = _native_module.pack_events
    event_leaves = _native_module.event_leaves
    dedup_keys = _native_module.dedup_keys
    merkle_root = _native_module.merkle_root
    pack_chunk = _native_module.pack_chunk
    block_digests = _native_module.block_digests
else:  # pragma: no cover - only where no C compiler was available
    encode_events = py_encode_events
    pack_events = py_pack_events
    event_leaves = py_event_leaves
    dedup_keys = py_dedup_keys
    merkle_root = py_merkle_root
    pack_chunk = py_pack_chunk
    block_digests = py_block_digests
