"""Stored events as tests see and change them: counted, listed, edited inside their blocks.

An edit rewrites the chunk's block with one event's part replaced and everything else
kept, its stored leaf included, as someone with write access to the database would:
`verify` and the proofs must then find the mismatch.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session

from mamori.ledger.blocks import pack, unpack
from mamori.ledger.models import LedgerBlock, LedgerChunk
from mamori.ledger.stored import chunk_holding, events_in_order

PARTS = ("head", "subject", "content")


def stored_count(connection: Connection | Session, *where: Any) -> int:
    """Stored events of the chunks matching `where` (conditions on LedgerChunk)."""
    total = connection.scalar(
        select(func.coalesce(func.sum(LedgerChunk.size), 0))
        .join(LedgerBlock, LedgerBlock.chunk_index == LedgerChunk.index)
        .where(*where)
    )
    return int(total or 0)


def stored_seqs(connection: Connection | Session) -> list[int]:
    """The positions of every stored event, in order."""
    return [event.seq for event in events_in_order(connection)]


def edit_event(connection: Connection | Session, seq: int, part: str, text: str) -> None:
    """Replace `part` (head, subject or content) of event `seq` inside its chunk's block."""
    if part not in PARTS:
        raise ValueError(f"no part {part!r} in an event")
    place = chunk_holding(connection, seq)
    assert place is not None, f"no chunk holds event {seq}"
    body = connection.scalar(select(LedgerBlock.body).where(LedgerBlock.chunk_index == place.index))
    assert body is not None, f"chunk {place.index} has no block"
    block = unpack(body)
    parts = {"head": block.heads, "subject": block.subjects, "content": block.contents}
    edited = list(parts[part])
    edited[seq - place.first_seq] = text.encode()
    parts[part] = edited
    connection.execute(
        update(LedgerBlock)
        .where(LedgerBlock.chunk_index == place.index)
        .values(
            body=pack(parts["head"], parts["subject"], parts["content"], block.leaves, block.dedups)
        )
    )
