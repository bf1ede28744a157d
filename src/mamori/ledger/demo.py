"""A morning of made-up activity for the demo provider, so the ledger has something to show.

Every subscribed service of every demo tenant sends a handful of events (sign-ins, a few
failures, an administrative change) from documentation addresses (RFC 5737), through
the same ingest path shippers use, so attribution, sources and checks all see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from mamori.core.scope import Principal
from mamori.ledger.events import IncomingEvent, Outcome, Severity
from mamori.ledger.ingest import IngestService

EVENTS_PER_SERVICE = 12


def demo_events(tenant_id: str, service_id: str, now: datetime) -> list[IncomingEvent]:
    """A short, plausible run of one service's events for one tenant, ending at `now`."""
    events = []
    for number in range(EVENTS_PER_SERVICE):
        at = now - timedelta(minutes=5 * (EVENTS_PER_SERVICE - number))
        failed = number % 5 == 4
        action = "user.role_change" if number == EVENTS_PER_SERVICE - 1 else "login"
        actor = f"teacher{number % 4 + 1}@{tenant_id}.example.jp"
        events.append(
            IncomingEvent(
                original={
                    "ts": at.isoformat(),
                    "event": action,
                    "user": actor,
                    "ip": f"192.0.2.{10 + number}",
                    "result": "failure" if failed else "success",
                    "demo": True,
                },
                occurred_at=at,
                severity=Severity.WARNING if failed else Severity.INFO,
                actor=actor,
                action=action,
                source_address=f"192.0.2.{10 + number}",
                outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
                message=f"{action} {'failed' if failed else 'succeeded'} for {actor}",
                labels={"service": service_id, "tenant": tenant_id},
            )
        )
    return events


def seed(
    ingest: IngestService,
    principal: Principal,
    subscriptions: Sequence[tuple[str, str]],
    now: datetime,
) -> int:
    """Send the demo events of every (tenant, service) pair as that tenant; how many stored."""
    stored = 0
    for tenant in sorted({tenant for tenant, _ in subscriptions}):
        events = [
            event
            for owner, service in subscriptions
            if owner == tenant
            for event in demo_events(tenant, service, now)
        ]
        sender = replace(principal, tenant_id=tenant)  # a tenant's events stay in its tenant
        stored += ingest.store(sender, events).stored
    return stored
