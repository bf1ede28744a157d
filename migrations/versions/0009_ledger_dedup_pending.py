"""ledger: de-duplication keys are merged into their index in batches

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

Appends no longer add each event's key to `ledger_dedup` straight away: the keys of the
chunks from `ledger_state.dedup_merged` on stay in their blocks (which keep them anyway)
until a writer merges many of them at once, in key order (`mamori.ledger.dedup`). Every
existing key is already in the index, so the mark starts at the head. The downgrade
merges whatever is pending before it drops the mark.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mamori.ledger.blocks import BlockError, dedups_of

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING_BLOCKS = (
    "SELECT body FROM ledger_blocks WHERE chunk_index >= "
    "(SELECT dedup_merged FROM ledger_state WHERE id = 1) ORDER BY chunk_index"
)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("ledger_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dedup_merged", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.execute("UPDATE ledger_state SET dedup_merged = tree_size")


def downgrade() -> None:
    """Revert this revision."""
    bind = op.get_bind()
    index_table = sa.table("ledger_dedup", sa.column("key"))
    for (body,) in bind.execute(sa.text(PENDING_BLOCKS)):
        try:
            keys = dedups_of(bytes(body))
        except BlockError:
            continue  # `verify` names a damaged block; its keys cannot be read
        if keys:
            bind.execute(index_table.insert(), [{"key": key} for key in keys])
    with op.batch_alter_table("ledger_state", schema=None) as batch_op:
        batch_op.drop_column("dedup_merged")
