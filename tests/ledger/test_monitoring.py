"""Security log monitoring: events ingested for real become stored, mailed alerts, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mamori.core.clock import as_utc
from mamori.core.db import Database
from mamori.core.errors import ConfigurationError
from mamori.core.mail.base import MailError, MailMessage, Notifier
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.settings import Settings
from mamori.ledger.detection import Detector, default_rules
from mamori.ledger.geo import StaticCountryResolver
from mamori.ledger.ingest import (
    SOURCE_RESOLUTION,
    CachedAttribution,
    IngestService,
    Request,
    attribution_from_database,
)
from mamori.ledger.models import LedgerAlert, LedgerCursor, LedgerSource, LedgerState
from mamori.ledger.monitoring import (
    Monitor,
    check_silence,
    geo_from_settings,
    rules_from_settings,
    run_detection,
)
from mamori.ledger.service import LedgerService
from mamori.tenants.permissions import Role
from mamori.tenants.service import tokens
from tests.support.identities import FakeClock, Identities

A, B = "midori-city-boe", "sakura-town-boe"
SERVICE = "total-id"
ON_CALL = "soc@provider.example.jp"
SECURITY_CONTACT_A = "k.sato@midori-city.example.jp"  # the demo tenant's, in Japanese
START = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
GEO = StaticCountryResolver({"133.11.0.0/16": "JP", "8.8.8.0/24": "US"})
FAILED_LOGINS = "repeated_failed_logins"


class World:
    """The demo provider with a tenant's ingest token, a ledger clock and an outbox."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.clock = FakeClock(START)
        self.outbox = MemoryNotifier()
        people = Identities(database, settings, self.clock, MemoryNotifier())
        admin = people.user("admin@midori.example.jp", Role.TENANT_ADMIN, A)
        with people.work() as services:
            secret = tokens.create_token(
                services, admin, name="vector", scopes=["ingest:logs"], days=30
            ).secret
            principal = tokens.authenticate(services, secret, "192.0.2.10")
        assert principal is not None
        self.principal = principal
        ledger = LedgerService(database, settings, clock=self.clock)
        self.ingest = IngestService(
            ledger,
            settings,
            CachedAttribution(lambda: attribution_from_database(database, settings)),
        )

    def send(self, *records: dict[str, object]) -> None:
        """Ingest `records` as a shipper's JSON array, through the ingest service."""
        body = json.dumps(list(records)).encode()
        self.ingest.handle(Request(self.principal, body, "application/json", None))

    def failures(self, count: int, actor: str = "alice@midori.example.jp") -> None:
        """`count` failed sign-ins of `actor`, a minute apart, ending now."""
        self.send(
            *(
                _sign_in(actor, self.clock.now - timedelta(minutes=count - n), "failure")
                for n in range(count)
            )
        )

    def alerts(self, rule_id: str = FAILED_LOGINS) -> list[LedgerAlert]:
        with self.database.session() as session:
            return list(session.scalars(select(LedgerAlert).where(LedgerAlert.rule_id == rule_id)))

    def mail_about(self, title: str) -> dict[str, MailMessage]:
        """The mail whose subject names `title`, by recipient address."""
        return {m.recipients[0]: m for m in self.outbox.sent if title in m.subject}


def _sign_in(actor: str, at: datetime, outcome: str) -> dict[str, object]:
    return {
        "timestamp": at.isoformat(),
        "message": f"sign-in of {actor} at {at.isoformat()}: {outcome}",
        "user": actor,
        "action": "login",
        "outcome": outcome,
        "source.ip": "8.8.8.8",
        "service": SERVICE,
    }


@pytest.fixture
def world(demo_database: Database, settings: Settings) -> World:
    on_call = settings.model_copy(
        update={"alert_recipients": f" {ON_CALL} ,", "default_language": "en"}
    )
    return World(demo_database, on_call)


def _detector() -> Detector:
    return Detector(default_rules(), GEO)


def _cursor(database: Database) -> tuple[int, datetime]:
    with database.session() as session:
        cursor = session.get(LedgerCursor, "detection")
        assert cursor is not None and cursor.updated_at is not None
        return cursor.next_seq, as_utc(cursor.updated_at)


def test_five_failed_sign_ins_give_one_alert_stored_once_and_mailed(world: World) -> None:
    world.failures(5)
    detector = _detector()
    run = run_detection(world.database, detector, world.outbox, world.settings, world.clock.now)
    alerts = world.alerts()
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.id in run.alerts and run.caught_up
    assert (alert.tenant_id, alert.service_id, alert.status, alert.count) == (A, SERVICE, "open", 5)
    assert alert.title == {"ja": "サインイン失敗の繰り返し", "en": "Repeated failed sign-ins"}
    assert "alice@midori.example.jp" in alert.summary["en"] and len(alert.seqs) == 5
    assert alert.notified_at is not None

    assert _cursor(world.database) == (run.next_seq, world.clock.now)
    with world.database.session() as session:
        assert session.scalar(select(LedgerState.next_seq)) == run.next_seq

    # Neither the same detector nor a fresh one reads the events again; an idle run
    # still notes when it ran (the monitoring check reads that).
    for again in (detector, _detector()):
        world.clock.advance(minutes=1)
        rerun = run_detection(world.database, again, world.outbox, world.settings, world.clock.now)
        assert rerun.events == 0 and rerun.alerts == ()
        assert _cursor(world.database) == (run.next_seq, world.clock.now)
    assert len(world.alerts()) == 1

    # On call in the default language (en here), the tenant's security contact in Japanese.
    english = world.mail_about("Repeated failed sign-ins")
    japanese = world.mail_about("サインイン失敗の繰り返し")
    assert set(english) == {ON_CALL} and set(japanese) == {SECURITY_CONTACT_A}
    assert english[ON_CALL].subject == "[Warning] Security alert: Repeated failed sign-ins"
    assert japanese[SECURITY_CONTACT_A].subject.startswith("[警告]")
    assert "alice@midori.example.jp" in english[ON_CALL].text
    assert "/alerts" in english[ON_CALL].text and english[ON_CALL].html
    assert alert.id in (english[ON_CALL].message_id or "")  # the same id on a retry
    # Other tenants' contacts hear nothing.
    assert not any("sakura-town" in r for m in world.outbox.sent for r in m.recipients)


def test_fewer_failures_do_not_alert_and_a_restart_keeps_the_window(world: World) -> None:
    world.failures(5, "bob@midori.example.jp")
    world.failures(3)
    first = Monitor(world.database, world.settings, world.outbox, geo=GEO)
    first.run(world.clock.now)
    (bob,) = world.alerts()
    assert "bob@midori.example.jp" in bob.summary["en"]
    # The worker is down for two days while two more failures arrive. Its successor
    # replays the events before the cursor without raising their alerts again, so
    # alice's three earlier failures still count.
    world.clock.advance(minutes=2)
    world.failures(2)
    world.clock.advance(days=2)
    restarted = Monitor(world.database, world.settings, world.outbox, geo=GEO)
    restarted.run(world.clock.now)
    summaries = sorted(alert.summary["en"] for alert in world.alerts())
    assert len(summaries) == 2
    assert summaries[0].startswith("alice@") and summaries[1].startswith("bob@")


class Refusing(Notifier):
    """A mail server that is down."""

    def __init__(self) -> None:
        self.tries = 0

    def send(self, message: MailMessage) -> None:
        self.tries += 1
        raise MailError("mail server mail.example.jp:587 is down")


def test_failed_mail_keeps_the_alert_and_the_next_run_mails_it(world: World) -> None:
    world.failures(5)
    down = Refusing()
    run = run_detection(world.database, _detector(), down, world.settings, world.clock.now)
    assert down.tries and run.mail_failures == down.tries and run.notified == 0
    (alert,) = world.alerts()
    assert alert.notified_at is None and alert.id in run.alerts

    world.clock.advance(minutes=1)
    later = run_detection(
        world.database, _detector(), world.outbox, world.settings, world.clock.now
    )
    assert later.alerts == () and later.notified >= 1
    (alert,) = world.alerts()
    assert alert.notified_at is not None
    assert set(world.mail_about("Repeated failed sign-ins")) == {ON_CALL}


def test_a_silent_source_raises_one_absence_alert_per_silence(world: World) -> None:
    world.send(_sign_in("bob@midori.example.jp", world.clock.now, "success"))
    with world.database.session() as session:
        source = session.get(LedgerSource, f"{A}|{SERVICE}")
        assert source is not None and source.tenant_id == A and source.service_id == SERVICE
    rules = default_rules()
    now = world.clock.now
    assert check_silence(world.database, rules, now + timedelta(minutes=59)) == ()
    (first,) = check_silence(world.database, rules, now + timedelta(hours=2))
    assert check_silence(world.database, rules, now + timedelta(hours=3)) == ()

    # The source speaks again, then falls silent again: one more alert.
    world.clock.advance(hours=4)
    world.send(_sign_in("bob@midori.example.jp", world.clock.now, "success"))
    assert check_silence(world.database, rules, world.clock.now + timedelta(minutes=30)) == ()
    (second,) = check_silence(world.database, rules, world.clock.now + timedelta(hours=2))
    silences = world.alerts("service_stopped_sending")
    assert {a.id for a in silences} == {first, second}
    assert all((a.tenant_id, a.service_id, a.count) == (A, SERVICE, 0) for a in silences)
    assert "total-id" in silences[0].summary["en"]

    # The worker mails them with the next run.
    monitor = Monitor(world.database, world.settings, world.outbox, geo=GEO)
    monitor.run(world.clock.now + timedelta(hours=2))
    assert ON_CALL in world.mail_about("Service stopped sending logs")


def test_a_busy_source_is_noted_once_per_resolution(world: World) -> None:
    def last_seen() -> datetime:
        with world.database.session() as session:
            source = session.get(LedgerSource, f"{A}|{SERVICE}")
            assert source is not None
            return as_utc(source.last_seen_at)

    first = world.clock.now
    world.send(_sign_in("bob@midori.example.jp", first, "success"))
    assert last_seen() == first
    world.clock.advance(seconds=SOURCE_RESOLUTION.total_seconds() - 1)
    world.send(_sign_in("bob@midori.example.jp", world.clock.now, "success"))
    assert last_seen() == first  # within the resolution: not written again
    world.clock.advance(seconds=2)
    world.send(_sign_in("bob@midori.example.jp", world.clock.now, "success"))
    assert last_seen() == world.clock.now


def test_sources_without_a_service_and_a_bounded_batch(world: World) -> None:
    world.send({"timestamp": START.isoformat(), "message": "no service label"})
    with world.database.session() as session:
        assert session.get(LedgerSource, f"{A}|-") is not None
    world.failures(5)
    detector = _detector()
    first = run_detection(world.database, detector, world.outbox, world.settings, START, batch=2)
    assert first.events == 2 and not first.caught_up
    rest = run_detection(world.database, detector, world.outbox, world.settings, START)
    assert rest.caught_up and rest.next_seq > first.next_seq
    assert len(world.alerts()) == 1
    with world.database.session() as session:
        total = session.scalar(select(func.count()).select_from(LedgerAlert))
    assert total == len(first.alerts) + len(rest.alerts)


def test_rules_and_country_databases_come_from_settings(tmp_path: Path) -> None:
    shipped = Settings(data_dir=tmp_path)
    assert rules_from_settings(shipped) == default_rules()
    assert geo_from_settings(shipped).country("8.8.8.8") == "US"  # Debian's geoip-database
    assert geo_from_settings(Settings(geoip_files="")).country("8.8.8.8") is None
    with pytest.raises(ConfigurationError):
        geo_from_settings(Settings(geoip_files="a.dat,b.dat,c.dat"))

    own = tmp_path / "rules.yaml"
    own.write_text(
        """rules:
  - id: any_export
    kind: threshold
    severity: notice
    title: {ja: エクスポート, en: Export}
    description: {ja: エクスポートがありました, en: Something was exported}
    match: {action: export}
    threshold: 1
    window: 1m
""",
        encoding="utf-8",
    )
    assert [rule.id for rule in rules_from_settings(Settings(detection_rules_file=own))] == [
        "any_export"
    ]
