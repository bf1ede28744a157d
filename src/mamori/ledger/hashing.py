"""The ledger's bulk hashing: event leaves, de-duplication keys, blocks and chunk roots.

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

import hashlib
import importlib
from collections.abc import Sequence
from types import ModuleType

from mamori.ledger import merkle
from mamori.ledger.blocks import DEDUP_SIZE, LEAF_SIZE, pack, unpack
from mamori.ledger.records import DEDUP_HOUR_SIZE, event_leaf_of, hour_of_head


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
    keying = hashlib.blake2b(scope, digest_size=DEDUP_SIZE - DEDUP_HOUR_SIZE).copy
    keys: list[bytes] = []
    for hour, content in zip(hours, contents, strict=True):
        key = keying()
        key.update(content)
        keys.append(hour.to_bytes(DEDUP_HOUR_SIZE, "big") + key.digest())
    return keys


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
NATIVE_API = 2


def _load_native() -> ModuleType | None:
    try:
        native = importlib.import_module("mamori.ledger._native")
    except ImportError:
        return None
    return native if getattr(native, "API", None) == NATIVE_API else None


_native_module = _load_native()
NATIVE = _native_module is not None

if _native_module is not None:
    event_leaves = _native_module.event_leaves
    dedup_keys = _native_module.dedup_keys
    merkle_root = _native_module.merkle_root
    pack_chunk = _native_module.pack_chunk
    block_digests = _native_module.block_digests
else:  # pragma: no cover - only where no C compiler was available
    event_leaves = py_event_leaves
    dedup_keys = py_dedup_keys
    merkle_root = py_merkle_root
    pack_chunk = py_pack_chunk
    block_digests = py_block_digests
