"""Reading stored events back from blocks: by position either way, by chunk, at positions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import delete, event, update

from mamori.core.db import Database
from mamori.core.errors import ConflictError
from mamori.ledger import stored
from mamori.ledger.blocks import BlockError
from mamori.ledger.models import LedgerBlock, LedgerChunk
from mamori.ledger.proofs import build_bundle
from mamori.ledger.reading import decode
from mamori.ledger.service import LedgerService
from mamori.ledger.stored import Place

Filled = Callable[[int, int], None]
SAKURA = "sakura-town-boe"  # fill(…, 30) gives chunks of 10, one tenant each in turn


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """The queries run on `database` meanwhile."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            seen.append(str(args[2]))

    event.listen(database.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", note)


def test_events_come_in_order_either_way_a_few_chunks_at_a_time(
    ledger: LedgerService, database: Database, fill: Filled, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(4, 30)
    monkeypatch.setattr(stored, "CHUNKS_PER_READ", 2)  # pages and block reads of two chunks
    with database.session() as session:
        forward = list(stored.events_in_order(session, 7, 53))
        assert [e.seq for e in forward] == list(range(7, 53))
        assert all(
            decode(e.chunk_index, e.head, e.subject, e.content).seq == e.seq for e in forward
        )
        assert [e.chunk_index for e in forward[:4]] == [0, 0, 0, 1]
        backward = [e.seq for e in stored.events_in_order(session, 7, 53, descending=True)]
        assert backward == list(range(52, 6, -1))
        assert [e.seq for e in stored.events_between(session, 115, 500)] == list(range(115, 120))
        assert list(stored.events_in_order(session, 120)) == []
        sakura = [LedgerChunk.tenant_id == SAKURA]
        newest = stored.events_in_order(session, where=sakura, descending=True)
        assert [e.chunk_index for e in newest] == [10] * 10 + [7] * 10 + [4] * 10 + [1] * 10
        unindexed = [stored.unindexed(LedgerChunk.tenant_id) == SAKURA]
        oldest = stored.events_in_order(session, 15, where=unindexed)
        assert [e.seq for e in oldest][:12] == [*range(15, 20), *range(40, 47)]
    with database.engine.connect() as connection:  # detection reads on a plain connection
        places = list(stored.chunk_places(connection, 25, 61, descending=True))
        assert places == [Place(index, index * 10, 10) for index in (6, 5, 4, 3, 2)]


def test_events_at_reads_only_the_chunks_holding_them(
    ledger: LedgerService, database: Database, fill: Filled
) -> None:
    fill(4, 30)
    with database.session() as session:
        session.execute(delete(LedgerBlock).where(LedgerBlock.chunk_index == 3))  # as purged
        found = stored.events_at(session, [119, 0, 9, 35, 31, 500, 64, 0, -1])
        assert sorted(found) == [0, 9, 64, 119]
        assert (found[64].seq, found[64].chunk_index) == (64, 6)
        assert stored.chunk_holding(session, 35) == Place(3, 30, 10)
        assert stored.chunk_holding(session, 120) is None
        assert stored.stored_event_count(session) == 110
        assert stored.chunk_leaves(session, Place(3, 30, 10)) is None
        leaves = stored.chunk_leaves(session, Place(2, 20, 10))
        assert leaves is not None and len(leaves) == 10
        assert leaves[4] == stored.events_at(session, [24])[24].leaf
    with database.session() as session, statements(database) as seen:
        assert sorted(stored.events_at(session, [*range(10), 64])) == [*range(10), 64]
    # One look-up per chunk touched (two), then one read of their blocks.
    assert len(seen) == 3, seen


def test_an_unreadable_block_names_its_chunk(
    ledger: LedgerService, database: Database, fill: Filled
) -> None:
    fill(2, 30)
    with database.session() as session:
        session.execute(
            update(LedgerBlock).where(LedgerBlock.chunk_index == 4).values(body=b"nonsense")
        )
        with pytest.raises(stored.UnreadableBlockError, match="chunk 4") as caught:
            list(stored.events_in_order(session))
        assert caught.value.chunk_index == 4 and isinstance(caught.value, BlockError)
        assert [e.seq for e in stored.events_in_order(session, 0, 40)] == list(range(40))
        with pytest.raises(ConflictError, match="chunk 4"):
            build_bundle(session, ledger.vkey, [41])
        # Only the chunks a bundle needs are read: chunk 0's events are still proved.
        assert build_bundle(session, ledger.vkey, [4])["events"][0]["seq"] == 4
