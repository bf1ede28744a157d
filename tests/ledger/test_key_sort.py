"""De-duplication keys put in index order for a merge or a purge: `_native.sort_keys`
against Python's sort, and the SQLite merge of one blob against the keys it was given."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from mamori.core.db import Database
from mamori.ledger import dedup
from mamori.ledger.dedup import in_key_order, py_sort_keys
from mamori.ledger.models import LedgerDedup, LedgerState
from mamori.ledger.service import LedgerService
from mamori.ledger.store import Prepared
from tests.ledger.conftest import sample_event
from tests.support.simd import native

# Keys sharing their first 4, 8 or 12 bytes with others, as keys of one hour do (and as
# keys ground to share a prefix would): every word and byte of the order is exercised.
PREFIXES = st.sampled_from([b"", b"\x00\x06\x3e\x10", b"\x00\x06\x3e\x10\xff\x00\x01\x02"])
KEY = st.builds(
    lambda prefix, rest: (prefix + rest)[:16].ljust(16, b"\x00"),
    PREFIXES,
    st.binary(min_size=16, max_size=16),
)
both_implementations = pytest.mark.parametrize(
    "sort_keys", [native.sort_keys, py_sort_keys], ids=["native", "python"]
)


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(KEY, max_size=300))
def test_native_order_is_byte_order(keys: list[bytes]) -> None:
    ordered = list(keys)
    native.sort_keys(ordered)
    assert ordered == sorted(keys)


def test_many_keys_of_one_hour_and_many_equal_first_words() -> None:
    rng = random.Random(27017)  # noqa: S311 - reproducible keys, not secrets
    hour = b"\x00\x06\x3e\x10"
    one_hour = [hour + rng.randbytes(12) for _ in range(50_000)]
    same_first_word = [hour + b"\x00" * 4 + rng.randbytes(8) for _ in range(5_000)]
    for keys in (one_hour, same_first_word, one_hour + same_first_word + one_hour[:100]):
        ordered = list(keys)
        native.sort_keys(ordered)
        assert ordered == sorted(keys)


@both_implementations
def test_anything_but_16_byte_keys_is_refused_and_the_list_left_alone(
    sort_keys: Callable[[list[bytes]], None],
) -> None:
    for bad in ([b"\x01" * 16, b"short"], [b"\x02" * 16, "x" * 16], [b"\x03" * 17]):
        before = list(bad)
        with pytest.raises(ValueError, match="is not 16 bytes"):
            sort_keys(bad)  # type: ignore[arg-type]
        assert bad == before
    with pytest.raises(TypeError):
        native.sort_keys((b"\x00" * 16,))
    empty: list[bytes] = []
    sort_keys(empty)
    assert empty == []


def test_in_key_order_uses_the_native_sort_when_built() -> None:
    assert dedup.sort_keys is native.sort_keys
    assert in_key_order({b"\x02" * 16, b"\x01" * 16}) == [b"\x01" * 16, b"\x02" * 16]


def test_a_merge_adds_every_pending_key_once_beside_those_already_indexed(
    ledger: LedgerService, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dedup, "MERGE_BLOB_SLICE", 7)  # SQLite: 40 keys in 6 statements
    items = [sample_event(n) for n in range(40)]
    expected = sorted(event.dedup for event in Prepared.of(items).encoded)
    assert ledger.append(items).stored == 40
    with database.engine.begin() as connection:
        # Some of them in the index already (keys an erased month held, sent again, say):
        # ON CONFLICT skips them without an error.
        connection.execute(insert(LedgerDedup), [{"key": k} for k in expected[::7]])
        ledger.writer.merge_keys(connection)
    with database.session() as session:
        indexed = sorted(bytes(key) for key in session.scalars(select(LedgerDedup.key)))
        state = session.get(LedgerState, 1)
        assert state is not None and state.dedup_merged == state.tree_size
    assert indexed == expected
    assert ledger.append(items[:5]).duplicates == 5
    report = ledger.verify()
    assert report.ok, report.problems
