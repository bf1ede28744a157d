"""Retention: nothing erased inside the period whatever the clock says; holds keep; proofs last."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mamori.core.db import Database
from mamori.core.errors import ConflictError, InputError
from mamori.ledger.models import LedgerChunk
from mamori.ledger.proofs import build_bundle, bundle_bytes
from mamori.ledger.retention import (
    PURGE_GROUP_EVENTS,
    RetentionPolicy,
    add_months,
    expired_chunks,
    new_hold,
    policy_from_catalog,
    purge,
    purge_groups,
    release_hold,
)
from mamori.ledger.service import LedgerService
from tests.ledger.conftest import sample_event
from tests.ledger.stored_support import stored_seqs
from tests.support.identities import FakeClock

_purged = LedgerChunk.purged_at.is_not(None)
VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "mamori_verify.py"
MOMENTS = st.datetimes(
    min_value=datetime(2001, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2090, 12, 31),  # noqa: DTZ001
    timezones=st.timezones(),
)


@given(MOMENTS, st.integers(min_value=1, max_value=120))
def test_expiry_is_never_less_than_the_calendar_months(received: datetime, months: int) -> None:
    expiry = add_months(received, months)
    utc = received.astimezone(UTC)
    # At least `months` calendar months: the same day and time, or the next month's start.
    total = utc.year * 12 + utc.month - 1 + months
    assert (expiry.year * 12 + expiry.month - 1) in (total, total + 1)
    if expiry.year * 12 + expiry.month - 1 == total:
        assert (expiry.day, expiry.time()) == (utc.day, utc.time())
    else:
        assert expiry.day == 1 and utc.day > 28
    assert expiry > utc + timedelta(days=27 * months)


@given(MOMENTS, MOMENTS, st.integers(min_value=1, max_value=36))
def test_an_expiry_is_the_same_instant_in_every_zone(
    received: datetime, other: datetime, months: int
) -> None:
    assert other.tzinfo is not None
    shifted = received.astimezone(other.tzinfo)
    assert add_months(received, months) == add_months(shifted, months)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        add_months(datetime(2026, 1, 31), 1)  # noqa: DTZ001 - the point of the test


def test_the_policy_is_read_from_the_commitments(demo_database: Database) -> None:
    with demo_database.session() as session:
        policy = policy_from_catalog(session)
    assert policy.default_months == 12
    assert policy.months_for("log") == 12


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a database case is slow
)
@given(
    receipts=st.lists(MOMENTS, min_size=1, max_size=4),
    purges=st.lists(MOMENTS, min_size=1, max_size=4),
    months=st.integers(min_value=1, max_value=14),
)
def test_purges_erase_exactly_what_expired_whatever_the_clock_does(
    ledger: LedgerService,
    ledger_clock: FakeClock,
    database: Database,
    receipts: list[datetime],
    purges: list[datetime],
    months: int,
) -> None:
    policy = RetentionPolicy(months)
    for number, moment in enumerate(receipts):  # the clock jumps about, zones and all
        ledger_clock.now = moment
        ledger.append([sample_event(number + len(str(moment)) * 1000 + months)])
    for moment in purges:
        with database.session() as session:
            before = set(session.scalars(select(LedgerChunk.index).where(_purged)).all())
            purge(session, ledger.writer, policy, moment)
        with database.session() as session:
            for chunk in session.scalars(select(LedgerChunk)).all():
                received = chunk.received_at.replace(tzinfo=chunk.received_at.tzinfo or UTC)
                expiry = policy.expires_at(received, chunk.event_class)
                if chunk.index in before:
                    continue  # purged in an earlier example, under that example's policy
                if chunk.purged_at is not None:
                    purged = chunk.purged_at.replace(tzinfo=chunk.purged_at.tzinfo or UTC)
                    assert purged >= expiry, "erased inside the retention period"
                elif chunk.event_class != "ledger":  # a run's own record comes after it
                    assert expiry > moment.astimezone(UTC), "kept after it expired"
    assert ledger.verify().ok


def test_holds_keep_events_and_earlier_proofs_still_verify(
    ledger: LedgerService, ledger_clock: FakeClock, database: Database, tmp_path: Path
) -> None:
    start = ledger_clock.now
    ledger.append([sample_event(n, "midori-city-boe") for n in range(5)])
    ledger.append([sample_event(n, "sakura-town-boe") for n in range(5, 10)])
    ledger_clock.advance(days=40)
    ledger.append([sample_event(n, "midori-city-boe") for n in range(10, 15)])  # newer
    with database.session() as session:
        bundle = build_bundle(session, ledger.vkey, [2, 12])
        hold = new_hold(
            "sakura-town-boe",
            start - timedelta(days=1),
            start + timedelta(days=1),
            "court",
            "so",
            ledger_clock.now,
        )
        session.add(hold)
    exported = tmp_path / "bundle.json"
    exported.write_bytes(bundle_bytes(bundle))

    policy = RetentionPolicy(1)
    a_month_on = start + timedelta(days=31)
    with database.session() as session:
        assert [c.tenant_id for c in expired_chunks(session, policy, a_month_on)[0]] == [
            "midori-city-boe"
        ]
        result = purge(session, ledger.writer, policy, a_month_on)
    assert (result.chunks, result.events, result.held_chunks) == (1, 5, 1)
    with database.session() as session:
        left = stored_seqs(session)
        assert left[:10] == list(range(5, 15))  # A's old chunk went; B's held one stayed
        purged = session.scalars(select(LedgerChunk).where(LedgerChunk.index == 0)).one()
        assert purged.secret is None and purged.root  # the hash stays
    report = ledger.verify()
    assert report.ok and report.purged_chunks == 1

    checked = subprocess.run(
        [sys.executable, "-I", str(VERIFIER), "bundle", str(exported), "--vkey", ledger.vkey],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with database.session() as session, pytest.raises(ConflictError):
        build_bundle(session, ledger.vkey, [2])  # purged events cannot be proved any more

    with database.session() as session:
        release_hold(session, hold.id, ledger_clock.now)
        with pytest.raises(ConflictError):
            release_hold(session, hold.id, ledger_clock.now)
    with database.session() as session:
        again = purge(session, ledger.writer, policy, a_month_on)
    assert (again.chunks, again.events, again.held_chunks) == (1, 5, 0)
    # Each run is itself in the ledger.
    with database.session() as session:
        runs = session.scalars(select(LedgerChunk).where(LedgerChunk.event_class == "ledger")).all()
    assert len(runs) == 2
    assert ledger.verify().ok
    assert json.loads(exported.read_text())["format"] == "mamori-proof-bundle/v1"


def test_a_hold_needs_a_range_and_a_reason() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(InputError):
        new_hold(None, now, now, "x", "so", now)
    with pytest.raises(InputError):
        new_hold(None, now, now + timedelta(days=1), " ", "so", now)


def test_chunks_are_erased_in_groups_of_about_a_group_of_events() -> None:
    n = PURGE_GROUP_EVENTS
    sizes = {3: 2 * n, 0: n * 3 // 4, 4: 1, 1: n // 5, 2: n // 10}  # listed out of order
    chunks = [LedgerChunk(index=i, first_seq=0, size=size) for i, size in sizes.items()]
    # A group closes once it holds a group's worth; a chunk larger than that is alone.
    assert purge_groups(chunks) == [[0, 1, 2], [3], [4]]
    assert purge_groups([LedgerChunk(index=7, first_seq=0, size=1)]) == [[7]]
    assert purge_groups([]) == []
