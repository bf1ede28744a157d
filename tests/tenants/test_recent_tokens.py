"""Ingest tokens a server process identified a moment ago are answered from its memory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from mamori.core.scope import Principal
from mamori.tenants.models import ApiToken
from mamori.tenants.service import recent_tokens
from mamori.tenants.service.recent_tokens import RecentTokens
from tests.support.identities import FakeClock

LIVE_UNTIL = datetime(2026, 11, 27, 1, 0, 10, tzinfo=UTC)  # the clock starts at 01:00:00


class Directory:
    """Stands for the database: the live tokens, and how often it was asked."""

    def __init__(self) -> None:
        self.live: dict[str, str] = {"mmr_a_1": "a", "mmr_b_2": "b"}
        self.asked = 0

    def look_up(self, raw: str) -> Callable[[], tuple[Principal, ApiToken] | None]:
        def found() -> tuple[Principal, ApiToken] | None:
            self.asked += 1
            token_id = self.live.get(raw)
            if token_id is None:
                return None
            principal = Principal(
                user_id=f"user-{token_id}",
                email=f"{token_id}@example.jp",
                display_name=token_id,
                role="tenant_admin",
                tenant_id="midori-city-boe",
                permissions=frozenset({"ingest"}),
                address="192.0.2.1",
                token_scopes=frozenset({"ingest:logs"}),
            )
            principal.extra["token_id"] = token_id
            return principal, ApiToken(id=token_id, expires_at=LIVE_UNTIL)

        return found


def test_a_token_is_looked_up_once_within_the_time_and_again_after() -> None:
    clock, directory = FakeClock(), Directory()
    recent = RecentTokens(5.0, clock)
    first = recent.identify("mmr_a_1", "192.0.2.1", directory.look_up("mmr_a_1"))
    again = recent.identify("mmr_a_1", "198.51.100.7", directory.look_up("mmr_a_1"))
    assert directory.asked == 1
    assert first is not None and again is not None
    assert (again.user_id, again.address, again.extra) == ("user-a", "198.51.100.7", first.extra)
    again.extra["seen"] = True  # each request's principal is its own
    assert "seen" not in first.extra
    del directory.live["mmr_a_1"]  # revoked by another process
    clock.advance(seconds=4.9)
    assert recent.identify("mmr_a_1", "", directory.look_up("mmr_a_1")) is not None
    clock.advance(seconds=0.1)
    assert recent.identify("mmr_a_1", "", directory.look_up("mmr_a_1")) is None
    assert directory.asked == 2


def test_expiry_is_checked_at_every_request_and_refusals_are_never_kept() -> None:
    clock, directory = FakeClock(), Directory()
    recent = RecentTokens(60.0, clock)
    assert recent.identify("mmr_b_2", "", directory.look_up("mmr_b_2")) is not None
    clock.advance(seconds=10)  # past the token's expiry, within the 60 s
    del directory.live["mmr_b_2"]
    assert recent.identify("mmr_b_2", "", directory.look_up("mmr_b_2")) is None
    for _ in range(3):
        assert recent.identify("mmr_x_9", "", directory.look_up("mmr_x_9")) is None
    assert directory.asked == 5


def test_forgetting_a_token_and_a_time_of_zero() -> None:
    clock, directory = FakeClock(), Directory()
    recent = RecentTokens(5.0, clock)
    recent.identify("mmr_a_1", "", directory.look_up("mmr_a_1"))
    recent.identify("mmr_b_2", "", directory.look_up("mmr_b_2"))
    recent.forget("a")
    recent.identify("mmr_a_1", "", directory.look_up("mmr_a_1"))
    recent.identify("mmr_b_2", "", directory.look_up("mmr_b_2"))
    assert directory.asked == 3  # only the forgotten one was looked up again
    never = RecentTokens(0.0, clock)
    for _ in range(2):
        assert never.identify("mmr_a_1", "", directory.look_up("mmr_a_1")) is not None
    assert directory.asked == 5


def test_a_clock_set_back_or_a_full_memory_means_looking_up_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock, directory = FakeClock(), Directory()
    recent = RecentTokens(5.0, clock)
    recent.identify("mmr_a_1", "", directory.look_up("mmr_a_1"))
    clock.now -= timedelta(seconds=1)
    recent.identify("mmr_a_1", "", directory.look_up("mmr_a_1"))
    assert directory.asked == 2
    monkeypatch.setattr(recent_tokens, "CAPACITY", 1)
    recent.identify("mmr_b_2", "", directory.look_up("mmr_b_2"))  # fills it: a is dropped
    recent.identify("mmr_a_1", "", directory.look_up("mmr_a_1"))
    assert directory.asked == 4
