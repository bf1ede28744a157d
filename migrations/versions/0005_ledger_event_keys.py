"""ledger: events keyed by the SQLite rowid, no index on chunk_index

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Two B-trees fewer per stored event. On SQLite an `INTEGER` primary key is the rowid
itself, while `BIGINT` made a second index beside the rowid; both store 64-bit values.
A chunk's events are the seq range [first_seq, first_seq + size), so reads walk the
primary key instead of a chunk_index index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("ledger_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_events_chunk_index"))
        if _sqlite():
            # Batch mode copies the rows into a new table whose seq is the rowid.
            batch_op.alter_column(
                "seq", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
            )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("ledger_events", schema=None) as batch_op:
        if _sqlite():
            batch_op.alter_column(
                "seq", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
            )
        batch_op.create_index(
            batch_op.f("ix_ledger_events_chunk_index"), ["chunk_index"], unique=False
        )
