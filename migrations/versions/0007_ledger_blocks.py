"""ledger: a chunk's events packed into one block row; de-duplication keys in their own index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

Reading, verifying and purging the ledger then cost one row per chunk rather than one per
event. Existing events are moved chunk by chunk (their bytes, leaves and keys unchanged,
so every hash, checkpoint and earlier proof stays valid); the downgrade moves them back.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from mamori.ledger.blocks import pack, unpack

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHUNKS = 'SELECT "index", first_seq, size FROM ledger_chunks ORDER BY "index"'
EVENTS = sa.table(
    "ledger_events",
    *(
        sa.column(name)
        for name in ("seq", "chunk_index", "head", "subject", "content", "leaf", "dedup")
    ),
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "ledger_blocks",
        sa.Column("chunk_index", ROW_ID, autoincrement=False, nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("chunk_index", name=op.f("pk_ledger_blocks")),
    )
    op.create_table(
        "ledger_dedup",
        sa.Column("key", sa.LargeBinary(length=16), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ledger_dedup")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("ledger_chunks", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_chunks_first_seq", ["first_seq"], unique=False)
    bind = op.get_bind()
    events = EVENTS
    blocks = sa.table("ledger_blocks", sa.column("chunk_index"), sa.column("body"))
    dedup = sa.table("ledger_dedup", sa.column("key"))
    for index, first, size in bind.execute(sa.text(CHUNKS)).all():
        rows = bind.execute(
            sa.select(events)
            .where(events.c.seq >= first, events.c.seq < first + size)
            .order_by(events.c.seq)
        ).all()
        if not rows:
            continue  # a purged chunk keeps no events
        bind.execute(
            blocks.insert(),
            [
                {
                    "chunk_index": index,
                    "body": pack(
                        [str(row.head).encode() for row in rows],
                        [str(row.subject).encode() for row in rows],
                        [str(row.content).encode() for row in rows],
                        [bytes(row.leaf) for row in rows],
                        [bytes(row.dedup) for row in rows],
                    ),
                }
            ],
        )
        bind.execute(dedup.insert(), [{"key": bytes(row.dedup)} for row in rows])
    op.drop_table("ledger_events")


def downgrade() -> None:
    """Revert this revision."""
    op.create_table(
        "ledger_events",
        sa.Column("seq", ROW_ID, autoincrement=False, nullable=False),
        sa.Column("chunk_index", sa.BigInteger(), nullable=False),
        sa.Column("head", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("leaf", sa.LargeBinary(length=32), nullable=False),
        sa.Column("dedup", sa.LargeBinary(length=16), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_events")),
        sa.UniqueConstraint("dedup", name=op.f("uq_ledger_events_dedup")),
    )
    bind = op.get_bind()
    events = EVENTS
    stored = bind.execute(
        sa.text(
            'SELECT c."index", c.first_seq, c.size, b.body FROM ledger_chunks c '
            'JOIN ledger_blocks b ON b.chunk_index = c."index" ORDER BY c."index"'
        )
    ).all()
    for index, first, size, body in stored:
        block = unpack(bytes(body), size)
        bind.execute(
            events.insert(),
            [
                {
                    "seq": first + number,
                    "chunk_index": index,
                    "head": block.heads[number].decode(),
                    "subject": block.subjects[number].decode(),
                    "content": block.contents[number].decode(),
                    "leaf": block.leaves[number],
                    "dedup": block.dedups[number],
                }
                for number in range(size)
            ],
        )
    op.drop_table("ledger_dedup")
    op.drop_table("ledger_blocks")
    with op.batch_alter_table("ledger_chunks", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_chunks_first_seq")
