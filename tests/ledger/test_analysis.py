"""Per-tenant analyses: known counts from a filled ledger, tenant isolation, the checkpoint."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mamori.core.db import Database
from mamori.core.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from mamori.core.scope import Principal, TenantScope
from mamori.ledger.analysis import (
    TopCounter,
    analysis_csv,
    analysis_html,
    analysis_in,
    request_analysis,
    run_analysis,
)
from mamori.ledger.events import IncomingEvent, Outcome
from mamori.ledger.geo import StaticCountryResolver
from mamori.ledger.models import LedgerAnalysis, LedgerState
from mamori.ledger.notes import open_checkpoint
from mamori.ledger.records import Attributed, EventClass
from mamori.ledger.service import LedgerService
from mamori.tenants.permissions import PERMISSIONS, Role
from tests.ledger.conftest import sample_event
from tests.support.identities import FakeClock

A, B = "midori-city-boe", "sakura-town-boe"
ZONE = "Asia/Tokyo"
# Friday 3 April to Sunday 5 April 2026, local days in Tokyo (UTC+9).
START = datetime(2026, 4, 2, 15, 0, tzinfo=UTC)
END = datetime(2026, 4, 5, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 4, 6, 0, 0, tzinfo=UTC)
GEO = StaticCountryResolver({"133.11.0.0/16": "JP", "8.8.8.0/24": "US", "1.208.0.0/12": "KR"})
B_SECRET = "sakura-only message 9f3c"
B_ACTOR = "mallory@sakura.example.jp"


def principal(role: Role = Role.TENANT_ADMIN, tenant: str | None = A) -> Principal:
    """A signed-in user of `role` (customers of `tenant`)."""
    return Principal(
        user_id=f"user-{role}-{tenant}",
        email=f"{role}@{tenant or 'provider'}.example.jp",
        display_name=str(role),
        role=role,
        tenant_id=tenant,
        permissions=frozenset(PERMISSIONS[role]),
    )


def event(
    at: datetime,
    action: str = "login",
    *,
    tenant: str | None = A,
    actor: str = "carol@midori.example.jp",
    address: str = "133.11.0.9",
    outcome: Outcome = Outcome.SUCCESS,
    kind: EventClass = EventClass.LOG,
    original: dict[str, Any] | None = None,
    message: str = "",
) -> Attributed:
    """An event of `tenant` that happened at `at` (UTC)."""
    body = original or {"at": at.isoformat(), "action": action, "actor": actor, "n": message}
    return Attributed(
        IncomingEvent(
            original=body,
            occurred_at=at,
            actor=actor,
            action=action,
            source_address=address,
            outcome=outcome,
            message=message or f"{action} by {actor}",
        ),
        tenant_id=tenant,
        service_id="manabi-portal" if kind == EventClass.LOG else None,
        event_class=kind,
    )


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 4, day, hour, minute, tzinfo=UTC)


def known_events() -> list[Attributed]:
    """Tenant A's events with known counts, among others that must not be counted."""
    failed = Outcome.FAILURE
    return [
        # Friday 3 April (JST): 21:59 is not night, 22:00 and 05:59 are; 06:00 is not.
        event(
            utc(3, 12, 59), actor="alice@midori.example.jp", address="133.11.0.5", outcome=failed
        ),
        event(utc(3, 13, 0), actor="alice@midori.example.jp", address="8.8.8.8", outcome=failed),
        event(utc(2, 20, 59), actor="bob@midori.example.jp", address="8.8.8.8", outcome=failed),
        event(utc(2, 21, 0)),
        # Saturday 10:00 JST, from Korea; administrative by its action.
        event(utc(4, 1, 0), "iam:AttachUserPolicy", address="1.209.0.1", actor="it-admin"),
        # Sunday 11:00 JST: a provider staff grant, recorded in the tenant's audit trail.
        event(
            utc(5, 2, 0),
            "grant.approve",
            kind=EventClass.AUDIT,
            actor="so@provider.example.jp",
            address="10.0.0.1",
            original={"action": "grant.approve", "details": {"reason": "Ticket 4711"}},
        ),
        # Sunday 23:59 JST, no address: night and weekend.
        event(utc(5, 14, 59), "page.view", address=""),
        # Outside the range: Thursday 23:59 JST and Monday 00:00 JST.
        event(utc(2, 14, 59), "login", address="8.8.8.8", outcome=failed),
        event(utc(5, 15, 0), "login", address="8.8.8.8", outcome=failed),
        # Evidence is not analysed.
        event(utc(4, 3, 0), "check.result", kind=EventClass.EVIDENCE),
        # Another tenant and the provider, in the range.
        *[
            event(
                utc(3, 14, n),
                tenant=B,
                actor=B_ACTOR,
                address="8.8.4.4",
                message=B_SECRET,
                outcome=failed,
            )
            for n in range(5)
        ],
        event(utc(4, 2, 0), "grant.approve", tenant=None, kind=EventClass.AUDIT, actor="x@p.jp"),
    ]


@pytest.fixture
def analysed(ledger: LedgerService, ledger_clock: FakeClock, database: Database) -> LedgerAnalysis:
    """Tenant A's analysis of Friday to Sunday, computed over `known_events`."""
    ledger_clock.now = utc(5, 16)  # shipped together, after the range: arrivals run late
    ledger.append(known_events())
    with database.session() as session:
        requested = request_analysis(session, principal(), START, END, NOW)
        done = run_analysis(session, requested.id, GEO, ZONE, NOW)
        session.expunge(done)
    return done


def test_counts_are_known(analysed: LedgerAnalysis) -> None:
    result = analysed.result
    assert result is not None and analysed.status == "completed"
    assert result["events"] == 7 and not result["approximate"]
    assert result["days"] == [
        {"day": "2026-04-03", "events": 4, "failures": 3, "night": 2, "weekend": 0},
        {"day": "2026-04-04", "events": 1, "failures": 0, "night": 0, "weekend": 1},
        {"day": "2026-04-05", "events": 2, "failures": 0, "night": 1, "weekend": 2},
    ]
    assert result["services"] == [["manabi-portal", 6], ["-", 1]]
    assert result["failures"] == {
        "total": 3,
        "actors": [["alice@midori.example.jp", 2], ["bob@midori.example.jp", 1]],
        "addresses": [["8.8.8.8", 2], ["133.11.0.5", 1]],
    }
    assert result["admin_actions"] == {
        "total": 2,
        "actions": [["grant.approve", 1], ["iam:AttachUserPolicy", 1]],
    }
    assert result["origins"] == {
        "japan": 2,
        "outside": 3,
        "unknown": 1,
        "no_address": 1,
        "countries": [["US", 2], ["KR", 1]],
    }
    assert result["unusual"] == {"night": 3, "weekend": 3}
    assert result["staff_access"] == {
        "total": 1,
        "rows": [
            {
                "at": "2026-04-05T02:00:00+00:00",
                "actor": "so@provider.example.jp",
                "action": "grant.approve",
                "reason": "Ticket 4711",
            }
        ],
    }


def test_other_tenants_never_appear(analysed: LedgerAnalysis) -> None:
    stored = json.dumps(analysed.result)
    rendered = [stored, analysis_csv(analysed), analysis_html(analysed, "ja")]
    rendered.append(analysis_html(analysed, "en"))
    for text in rendered:
        assert B_ACTOR not in text and B_SECRET not in text and "8.8.4.4" not in text
        assert "x@p.jp" not in text
    # Raw messages of the tenant itself are not in the result either, only counts.
    assert "by carol@midori.example.jp" not in stored


def test_checkpoint_is_the_signed_head(
    analysed: LedgerAnalysis, ledger: LedgerService, database: Database
) -> None:
    assert analysed.checkpoint_note is not None and analysed.result is not None
    checkpoint = open_checkpoint(analysed.checkpoint_note, ledger.vkey)
    assert checkpoint.size == analysed.checkpoint_size
    assert analysed.result["checkpoint"] == {"size": checkpoint.size, "root": checkpoint.root.hex()}
    with database.session() as session:
        state = session.get(LedgerState, 1)
        assert state is not None and state.tree_size == checkpoint.size


def test_a_later_analysis_binds_to_the_later_head(
    analysed: LedgerAnalysis, ledger: LedgerService, database: Database
) -> None:
    ledger.append([event(utc(3, 3)), event(utc(3, 4), tenant=B)])
    with database.session() as session:
        requested = request_analysis(session, principal(), START, END, NOW)
        later = run_analysis(session, requested.id, GEO, ZONE, NOW)
    assert later.result is not None and later.result["events"] == 8
    assert later.checkpoint_size == (analysed.checkpoint_size or 0) + 2
    assert open_checkpoint(later.checkpoint_note or "", ledger.vkey).size == later.checkpoint_size
    assert open_checkpoint(analysed.checkpoint_note or "", ledger.vkey).size < later.checkpoint_size


def test_an_empty_ledger_gives_zero_counts_without_checkpoint(database: Database) -> None:
    with database.session() as session:
        requested = request_analysis(session, principal(), START, END, NOW)
        done = run_analysis(session, requested.id, GEO, ZONE, NOW)
        assert done.result is not None and done.result["events"] == 0
        assert done.result["checkpoint"] is None and done.checkpoint_note is None
        assert "The ledger held no events yet" in analysis_html(done, "en")


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "field"),
    [
        (END, START, "ends_at"),
        (START, START, "ends_at"),
        (START, NOW + timedelta(minutes=1), "ends_at"),
        (NOW + timedelta(days=1), NOW + timedelta(days=2), "starts_at"),
        (NOW - timedelta(days=367), NOW, "ends_at"),
    ],
)
def test_bad_ranges_name_their_field(
    database: Database, starts_at: datetime, ends_at: datetime, field: str
) -> None:
    with database.session() as session, pytest.raises(InputError) as caught:
        request_analysis(session, principal(), starts_at, ends_at, NOW)
    assert caught.value.field == field


def test_a_full_leap_year_is_allowed(database: Database) -> None:
    with database.session() as session:
        made = request_analysis(session, principal(), NOW - timedelta(days=366), NOW, NOW)
        assert made.tenant_id == A and made.status == "requested"


@pytest.mark.parametrize(
    ("role", "tenant"),
    [(Role.SECURITY_OFFICER, None), (Role.ADMINISTRATOR, None), (Role.TENANT_MEMBER, A)],
)
def test_only_tenant_administrators_may_request(
    database: Database, role: Role, tenant: str | None
) -> None:
    with database.session() as session, pytest.raises(ForbiddenError):
        request_analysis(session, principal(role, tenant), START, END, NOW)


def test_another_tenants_analysis_is_not_found(
    analysed: LedgerAnalysis, database: Database
) -> None:
    with database.session() as session:
        assert analysis_in(session, TenantScope.only(A), analysed.id).id == analysed.id
        with pytest.raises(NotFoundError):
            analysis_in(session, TenantScope.only(B), analysed.id)


def test_reports_state_tenant_range_zone_and_checkpoint(analysed: LedgerAnalysis) -> None:
    assert analysed.result is not None
    root = analysed.result["checkpoint"]["root"]
    ja, en = analysis_html(analysed, "ja"), analysis_html(analysed, "en")
    assert "ログ分析報告書" in ja and "2026年4月3日 00:00 JST" in ja and "アメリカ合衆国" in ja
    assert "Log analysis report" in en and "2026-04-06 00:00 JST" in en
    for page in (ja, en):
        assert A in page and ZONE in page and root in page and "mamori_verify.py" in page
        assert "Ticket 4711" in page and 'style="' not in page and "<script" not in page


def test_csv_has_a_bom_and_one_table_per_section(analysed: LedgerAnalysis) -> None:
    text = analysis_csv(analysed)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    sections = {row[0] for row in rows if row and row[0] != "section"}
    assert sections == {
        "summary",
        "per_day",
        "per_service",
        "failures_by_actor",
        "failures_by_address",
        "admin_actions",
        "origins",
        "staff_access",
    }
    assert ["per_day", "2026-04-05", "2", "0", "1", "2"] in rows
    assert ["origins", "US", "2"] in rows
    assert ["summary", "timezone", ZONE] in rows


def test_csv_cells_never_start_a_formula(
    ledger: LedgerService, ledger_clock: FakeClock, database: Database
) -> None:
    ledger_clock.now = utc(5, 16)
    ledger.append([event(utc(3, 3), outcome=Outcome.FAILURE, actor="=HYPERLINK(1)")])
    with database.session() as session:
        requested = request_analysis(session, principal(), START, END, NOW)
        text = analysis_csv(run_analysis(session, requested.id, GEO, ZONE, NOW))
    assert "'=HYPERLINK(1)" in text and ",=HYPERLINK" not in text


def test_an_uncomputed_analysis_has_no_report(database: Database) -> None:
    with database.session() as session:
        requested = request_analysis(session, principal(), START, END, NOW)
        with pytest.raises(ConflictError):
            analysis_csv(requested)


def test_counters_stay_bounded() -> None:
    counter = TopCounter(cap=8)
    for n in range(1000):
        counter.add("often")
        counter.add(f"rare-{n}")
        assert len(counter.counts) <= 8
    assert counter.pruned and counter.top(1) == [["often", 1000]]


def test_a_day_of_busy_traffic_streams(
    ledger: LedgerService, ledger_clock: FakeClock, database: Database
) -> None:
    ledger_clock.now = utc(5, 16)
    for batch in _batches(3000, 500):
        ledger.append(batch)
    with database.session() as session:
        requested = request_analysis(session, principal(), START, END, NOW)
        result = run_analysis(session, requested.id, GEO, ZONE, NOW).result
    assert result is not None and result["events"] == 3000
    assert sum(d["events"] for d in result["days"]) == 3000


def _batches(total: int, size: int) -> Iterator[list[Attributed]]:
    """`total` of tenant A's sample events moved into the range, `size` at a time."""
    for first in range(0, total, size):
        items = []
        for number in range(first, first + size):
            sample = sample_event(number)
            assert sample.event.occurred_at is not None
            moved = sample.event.occurred_at + (utc(3, 0) - utc(1, 8))
            items.append(event(moved, actor=sample.event.actor, message=sample.event.message))
        yield items
