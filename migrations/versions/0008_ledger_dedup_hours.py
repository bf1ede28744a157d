"""ledger: de-duplication keys start with the hour their event occurred

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28

A key was 16 bytes of BLAKE2b over the chunk's scope and the event's content, so keys fell
at random places in the `ledger_dedup` index: every append dirtied a page of it per event
and a purge deleted keys from all over it. A key is now the hour its event occurred
(4 bytes) and 12 bytes of BLAKE2b (`records.dedup_key_of`), which keeps the index in time
order. Keys are not part of any leaf, so every hash, checkpoint and proof stays valid; the
blocks and the index are rewritten chunk by chunk, and the downgrade writes the old keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from mamori.ledger.blocks import pack, unpack
from mamori.ledger.hashing import dedup_keys
from mamori.ledger.records import dedup_scope, hour_of_head

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STORED = (
    'SELECT c."index", c.tenant_id, c.event_class, c.size FROM ledger_chunks c '
    'JOIN ledger_blocks b ON b.chunk_index = c."index" ORDER BY c."index"'
)
BODY = "SELECT body FROM ledger_blocks WHERE chunk_index = :index"
Keying = Callable[[bytes, list[bytes], list[bytes]], list[bytes]]


def _hourly_keys(scope: bytes, heads: list[bytes], contents: list[bytes]) -> list[bytes]:
    return dedup_keys(scope, [hour_of_head(head) for head in heads], contents)


def _old_keys(scope: bytes, _heads: list[bytes], contents: list[bytes]) -> list[bytes]:
    return [hashlib.blake2b(scope + content, digest_size=16).digest() for content in contents]


def _rekey(keying: Keying) -> None:
    """Rewrite every block's keys with `keying`, and the index with them."""
    bind = op.get_bind()
    blocks = sa.table("ledger_blocks", sa.column("chunk_index"), sa.column("body"))
    index_table = sa.table("ledger_dedup", sa.column("key"))
    bind.execute(index_table.delete())
    for index, tenant, event_class, size in bind.execute(sa.text(STORED)).all():
        body = bytes(bind.execute(sa.text(BODY), {"index": index}).scalar_one())
        block = unpack(body, size)
        keys = keying(dedup_scope(tenant, event_class), block.heads, block.contents)
        rewritten = pack(block.heads, block.subjects, block.contents, block.leaves, keys)
        bind.execute(blocks.update().where(blocks.c.chunk_index == index).values(body=rewritten))
        bind.execute(index_table.insert(), [{"key": key} for key in keys])


def upgrade() -> None:
    """Apply this revision."""
    _rekey(_hourly_keys)


def downgrade() -> None:
    """Revert this revision."""
    _rekey(_old_keys)
