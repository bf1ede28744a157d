"""Security log monitoring (commitment 17): detection over the ledger, alerts kept and mailed.

A long-running worker keeps one `Monitor` and calls `run(now)` every minute or so. A run

1. raises an absence alert for each source silent longer than its rule allows, once per
   silence (`LedgerSource.silent_alerted_at`; hearing from the source again ends it);
2. reads the log and audit events appended since the cursor `detection`, at most
   `BATCH_EVENTS`, in sequence order, and feeds them to the detector;
3. stores the alerts and the advanced cursor in one transaction, so rerunning never
   stores an alert twice (the cursor moves only if it is still where the run began);
   the cursor's `updated_at` is the time of the last run, even of one that found nothing;
4. after that commit, mails every alert not mailed yet: to `MAMORI_ALERT_RECIPIENTS` and,
   for a tenant's alert, to that tenant's contacts with the `security` role, each in
   their language. When no recipient accepts it, `notified_at` stays empty and later
   runs try again for `NOTIFY_WITHIN` (an alert with nobody to mail is marked at once).

The detector's open windows live in memory. A new `Monitor` (after a restart) first
replays the events that arrived within the longest rule window before the cursor, at
most `PRIME_EVENTS`, discarding their alerts; a run that fails to commit drops its detector
so the next run rebuilds it the same way. A burst straddling the replay limit may thus be
reported twice; none is missed. Run one worker: a second one's runs fail with a conflict
rather than store alerts twice.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

from sqlalchemy import ColumnElement, Connection, select, update
from sqlalchemy.orm import Session

from mamori.core.audit import AuditRecord
from mamori.core.clock import as_utc, format_local
from mamori.core.db import READ_ONLY, Database
from mamori.core.errors import (
    ConfigurationError,
    ConflictError,
    ForbiddenError,
    InputError,
    NotFoundError,
)
from mamori.core.i18n import N_, Lang, is_language, translate
from mamori.core.mail.base import MailError, MailMessage, Notifier
from mamori.core.mail.templates import render_mail
from mamori.core.scope import Principal, TenantScope
from mamori.core.settings import Settings
from mamori.ledger.detection import (
    AbsenceRule,
    Alert,
    Detector,
    EventRule,
    Rule,
    default_rules,
    load_rules,
)
from mamori.ledger.events import Severity
from mamori.ledger.geo import CountryResolver, GeoIPDatResolver, StaticCountryResolver
from mamori.ledger.models import (
    LedgerAlert,
    LedgerChunk,
    LedgerCursor,
    LedgerSource,
    LedgerState,
)
from mamori.ledger.reading import Entry, decode
from mamori.ledger.records import EventClass
from mamori.ledger.stored import events_in_order, unindexed
from mamori.tenants.permissions import Permission
from mamori.tenants.service import TenantsService
from mamori.tenants.service.context import Services

log = logging.getLogger(__name__)

CURSOR = "detection"
CLASSES = (EventClass.LOG.value, EventClass.AUDIT.value)
BATCH_EVENTS = 10_000  # per run: short runs and a small memory; a backlog takes several
PRIME_EVENTS = 50_000
NOTIFY_LIMIT = 100  # alerts mailed per run
NOTIFY_WITHIN = timedelta(days=7)  # older unmailed alerts are left to the portal
MAX_MAIL_FAILURES = 3  # per run: the mail server is likely down, do not wait on it more
SECURITY_CONTACT = "security"  # the TenantContact role mailed about its tenant's alerts
PAGE_SIZE = 100

OPEN, ACKNOWLEDGED, CLOSED = "open", "acknowledged", "closed"
STATUS_LABELS = {OPEN: N_("Open"), ACKNOWLEDGED: N_("Acknowledged"), CLOSED: N_("Closed")}
FILTERS = ("open", "closed", "all")  # "open" includes acknowledged alerts
ACTIONS = {"acknowledge": (OPEN,), "close": (OPEN, ACKNOWLEDGED)}  # action: from statuses
ALREADY = {
    "acknowledge": N_("the alert has already been acknowledged or closed"),
    "close": N_("the alert has already been closed"),
}
SEVERITY_LABELS = {
    Severity.EMERGENCY: N_("Emergency"),
    Severity.ALERT: N_("Alert"),
    Severity.CRITICAL: N_("Critical"),
    Severity.ERROR: N_("Error"),
    Severity.WARNING: N_("Warning"),
    Severity.NOTICE: N_("Notice"),
    Severity.INFO: N_("Information"),
    Severity.DEBUG: N_("Debug"),
}


@dataclass(frozen=True)
class DetectionRun:
    """What one run did: events read, alerts stored (ids), the cursor, mail sent."""

    events: int
    alerts: tuple[str, ...]
    next_seq: int
    caught_up: bool  # False: more events are waiting; run again soon
    notified: int = 0
    mail_failures: int = 0


# Setting up ------------------------------------------------------------------------------


def rules_from_settings(settings: Settings) -> tuple[Rule, ...]:
    """The provider's rules file (`MAMORI_DETECTION_RULES_FILE`), else the shipped rules."""
    path = settings.detection_rules_file
    return load_rules(path) if path else default_rules()


def geo_from_settings(settings: Settings) -> CountryResolver:
    """The GeoIP databases of `MAMORI_GEOIP_FILES`: the IPv4 one, then optionally IPv6."""
    paths = [Path(part.strip()) for part in settings.geoip_files.split(",") if part.strip()]
    if not paths:
        return StaticCountryResolver({})  # no database: no address has a country
    if len(paths) > 2:
        raise ConfigurationError(
            N_("MAMORI_GEOIP_FILES names at most two files: the IPv4 and the IPv6 database")
        )
    return GeoIPDatResolver(paths[0], paths[1] if len(paths) > 1 else None)


class Monitor:
    """What the worker keeps between runs: the rules, the country resolver, the detector."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        notifier: Notifier,
        *,
        rules: Sequence[Rule] | None = None,
        geo: CountryResolver | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.notifier = notifier
        self.rules = tuple(rules) if rules is not None else rules_from_settings(settings)
        self.geo = geo if geo is not None else geo_from_settings(settings)
        self._detector: Detector | None = None

    def run(self, now: datetime) -> DetectionRun:
        """Check for silent sources, detect over new events, mail what is new."""
        silent = check_silence(self.database, self.rules, now)
        if self._detector is None:
            detector = Detector(self.rules, self.geo)
            prime(self.database, detector, self.rules)
            self._detector = detector
        try:
            done = run_detection(self.database, self._detector, self.notifier, self.settings, now)
        except Exception:
            # It saw events whose alerts were not stored: rebuild it from the ledger.
            self._detector = None
            raise
        return replace(done, alerts=(*silent, *done.alerts))


# Detection -------------------------------------------------------------------------------


def _detected() -> ColumnElement[bool]:
    """The chunks detection reads: log and audit events, checked along the position index."""
    return unindexed(LedgerChunk.event_class).in_(CLASSES)


def _reading(connection: Connection) -> Connection:
    # On SQLite a plain read must not take the writer lock and hold up ingest meanwhile.
    if connection.dialect.name == "sqlite":
        return connection.execution_options(**READ_ONLY)
    return connection


def _cursor(connection: Connection) -> int:
    found = connection.scalar(select(LedgerCursor.next_seq).where(LedgerCursor.name == CURSOR))
    return int(found or 0)


def _read_new(database: Database, batch: int) -> tuple[int, list[Entry], int]:
    """(cursor, entries from it, where the next run starts), in one consistent read."""
    with database.engine.connect() as plain:
        connection = _reading(plain)
        with connection.begin():
            return _read_from_cursor(connection, batch)


def _read_from_cursor(connection: Connection, batch: int) -> tuple[int, list[Entry], int]:
    start = _cursor(connection)
    # Writers commit positions in order under the head's lock, so everything below the
    # head is committed and nothing can appear there later.
    head = int(connection.scalar(select(LedgerState.next_seq)) or 0)
    found: list[Entry] = []
    if batch <= 0:
        return start, found, start
    for event in events_in_order(connection, start, head, where=[_detected()]):
        found.append(decode(event.chunk_index, event.head, event.subject, event.content))
        if len(found) == batch:
            return start, found, event.seq + 1
    return start, found, max(start, head)


def run_detection(
    database: Database,
    detector: Detector,
    notifier: Notifier,
    settings: Settings,
    now: datetime,
    *,
    batch: int = BATCH_EVENTS,
) -> DetectionRun:
    """Detect over the events since the cursor, store the alerts, then mail them.

    If storing fails, `detector` has seen events whose alerts are lost with the
    transaction: discard it and start from a fresh, primed one (`Monitor` does).
    """
    start, found, next_seq = _read_new(database, batch)
    alerts = [alert for entry in found for alert in detector.observe(entry)]
    # Written even when nothing is new: the cursor's time says when detection last ran.
    with database.session() as session:
        _move_cursor(session, start, next_seq, now)
        rows = [alert_row(alert, now) for alert in alerts]
        session.add_all(rows)
        stored = [row.id for row in rows]
    mailed, failed = notify_pending(database, notifier, settings, now)
    caught_up = len(found) < batch
    return DetectionRun(len(found), tuple(stored), next_seq, caught_up, mailed, failed)


def _move_cursor(session: Session, start: int, next_seq: int, now: datetime) -> None:
    moved = session.connection().execute(
        update(LedgerCursor)
        .where(LedgerCursor.name == CURSOR, LedgerCursor.next_seq == start)
        .values(next_seq=next_seq, updated_at=now)
    )
    if moved.rowcount == 1:
        return
    if start == 0 and session.get(LedgerCursor, CURSOR) is None:
        session.add(LedgerCursor(name=CURSOR, next_seq=next_seq, updated_at=now))
        return
    raise ConflictError(N_("another detection run moved on meanwhile; run only one worker"))


def alert_row(alert: Alert, now: datetime) -> LedgerAlert:
    """A new, open `LedgerAlert` for `alert`."""
    return LedgerAlert(
        id=str(uuid.uuid4()),
        rule_id=alert.rule_id,
        severity=alert.severity.value,
        tenant_id=alert.tenant_id,
        service_id=alert.service_id,
        group_key=dict(alert.group),
        first_at=alert.first_at,
        last_at=alert.last_at,
        count=alert.count,
        seqs=list(alert.seqs),
        title=alert.title.as_dict(),
        summary=alert.summary.as_dict(),
        status=OPEN,
        created_at=now,
    )


def prime(database: Database, detector: Detector, rules: Sequence[Rule]) -> int:
    """Replay the events before the cursor into `detector`, dropping their alerts.

    Replays those that arrived within the longest event rule's window before the last
    one read, at most `PRIME_EVENTS` of the newest; returns how many.
    """
    windows = [rule.window for rule in rules if isinstance(rule, EventRule) and rule.enabled]
    if not windows:
        return 0
    with database.engine.connect() as plain:
        connection = _reading(plain)
        with connection.begin():
            cursor = _cursor(connection)
            # Measured from the last event read, not from now: after a long outage the
            # events waiting behind the cursor continue windows that were open then.
            last = connection.scalar(
                select(LedgerChunk.received_at)
                .where(LedgerChunk.first_seq < cursor)
                .order_by(LedgerChunk.index.desc())
                .limit(1)
            )
            if last is None:
                return 0
            # The recent ones of these classes: what the class and arrival index finds.
            within = LedgerChunk.received_at >= last - max(windows)
            detected = LedgerChunk.event_class.in_(CLASSES)
            newest = events_in_order(
                connection, 0, cursor, descending=True, where=[detected, within]
            )
            recent = list(islice(newest, PRIME_EVENTS))
    for event in reversed(recent):
        detector.observe(decode(event.chunk_index, event.head, event.subject, event.content))
    return len(recent)


def check_silence(database: Database, rules: Sequence[Rule], now: datetime) -> tuple[str, ...]:
    """Store an absence alert for each source silent too long; ids of the new alerts.

    A source alerted for stays quiet until ingest hears from it again. The alerts are
    mailed by the next `run_detection` (or `notify_pending`).
    """
    absence = [rule for rule in rules if isinstance(rule, AbsenceRule) and rule.enabled]
    if not absence:
        return ()
    with database.session() as session:
        sources = {
            (row.tenant_id, row.service_id): row
            for row in session.scalars(select(LedgerSource))
            if row.silent_alerted_at is None or row.silent_alerted_at < row.last_seen_at
        }
        last_seen = {pair: as_utc(row.last_seen_at) for pair, row in sources.items()}
        # A detector of its own: whether a silence was reported is kept in the database.
        alerts = Detector(absence, StaticCountryResolver({})).silent(now, last_seen)
        stored = []
        for alert in alerts:
            source = sources[(alert.tenant_id, alert.service_id or "")]
            # Only if ingest has not heard from it meanwhile (PostgreSQL rechecks the row).
            marked = session.connection().execute(
                update(LedgerSource)
                .where(LedgerSource.key == source.key)
                .where(LedgerSource.last_seen_at == source.last_seen_at)
                .values(silent_alerted_at=now)
            )
            if marked.rowcount == 1:
                row = alert_row(alert, now)
                session.add(row)
                stored.append(row.id)
    return tuple(stored)


# Mail ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Someone who is mailed about alerts, in their language."""

    name: str
    address: str
    lang: Lang


def provider_recipients(settings: Settings) -> list[Recipient]:
    """The on-call addresses of `MAMORI_ALERT_RECIPIENTS`."""
    addresses = [part.strip() for part in settings.alert_recipients.split(",")]
    return [Recipient("", a, settings.default_language) for a in addresses if a]


def security_contacts(
    session: Session, tenant_ids: set[str], default: Lang
) -> dict[str, list[Recipient]]:
    """Each tenant's contacts with the `security` role, as recipients of its alerts."""
    contacts: dict[str, list[Recipient]] = {}
    for tenant in TenantsService(session).tenants():
        if tenant.id not in tenant_ids:
            continue
        contacts[tenant.id] = []
        for contact in tenant.contacts:
            if contact.role == SECURITY_CONTACT:
                lang = contact.language if is_language(contact.language) else default
                contacts[tenant.id].append(Recipient(contact.name.get(lang), contact.email, lang))
    return contacts


def alert_mail(alert: LedgerAlert, recipient: Recipient, settings: Settings) -> MailMessage:
    """The mail telling `recipient` about `alert`, in the recipient's language."""
    lang, zone = recipient.lang, settings.timezone
    severity = translate(lang, SEVERITY_LABELS.get(Severity(alert.severity), alert.severity))
    rendered = render_mail(
        "security_alert",
        lang,
        severity=severity,
        title=alert.title[lang],
        summary=alert.summary[lang],
        rule_id=alert.rule_id,
        tenant=alert.tenant_id or translate(lang, N_("the provider")),
        service=alert.service_id or "-",
        first_at=format_local(alert.first_at, zone, lang),
        last_at=format_local(alert.last_at, zone, lang),
        count=alert.count,
        alerts_url=f"{settings.public_url.rstrip('/')}/alerts",
    )
    message = rendered.message(((recipient.name, recipient.address),))
    # The same id on every retry lets mail clients drop a copy that was delivered twice.
    digest = hashlib.sha256(recipient.address.lower().encode()).hexdigest()[:16]
    domain = settings.mail_from.rpartition("@")[2] or "localhost"
    return replace(message, message_id=f"<alert.{alert.id}.{digest}@{domain}>")


def notify_pending(
    database: Database, notifier: Notifier, settings: Settings, now: datetime
) -> tuple[int, int]:
    """Mail the alerts not mailed yet, oldest first; (alerts mailed, failed sends).

    `notified_at` is set once any recipient accepted the mail (resending to everyone
    because one address bounced would flood the others, so that is only logged), or at
    once when there is nobody to mail, so such alerts do not hold up the queue.
    """
    with database.session() as session:
        pending = list(
            session.scalars(
                select(LedgerAlert)
                .where(LedgerAlert.notified_at.is_(None))
                .where(LedgerAlert.created_at >= now - NOTIFY_WITHIN)
                .order_by(LedgerAlert.created_at, LedgerAlert.id)
                .limit(NOTIFY_LIMIT)
            )
        )
        tenants = {alert.tenant_id for alert in pending if alert.tenant_id}
        default = settings.default_language
        contacts = security_contacts(session, tenants, default) if tenants else {}
    provider = provider_recipients(settings)
    mailed = failures = 0
    for alert in pending:
        if failures >= MAX_MAIL_FAILURES:
            break
        recipients = provider + contacts.get(alert.tenant_id or "", [])
        accepted, failed = _send(notifier, settings, alert, recipients)
        failures += failed
        if accepted or not recipients:
            with database.session() as session:
                session.execute(
                    update(LedgerAlert).where(LedgerAlert.id == alert.id).values(notified_at=now)
                )
            mailed += 1 if accepted else 0
    return mailed, failures


def _send(
    notifier: Notifier, settings: Settings, alert: LedgerAlert, recipients: list[Recipient]
) -> tuple[int, int]:
    """Mail `alert` to each recipient; (accepted, failed) sends."""
    accepted = failed = 0
    for recipient in recipients:
        try:
            message = alert_mail(alert, recipient, settings)
        except MailError as error:  # an address no mail can go to: nothing to retry
            log.error("alert %s: cannot mail %s: %s", alert.id, recipient.address, error)
            continue
        try:
            notifier.send(message)
        except MailError as error:
            failed += 1
            log.warning("alert %s: mail to %s failed: %s", alert.id, recipient.address, error)
        else:
            accepted += 1
    return accepted, failed


# Reading and handling alerts -------------------------------------------------------------


def alert_scope(principal: Principal) -> TenantScope:
    """Whose alerts `principal` may see: all (staff), its own tenant's, or refused."""
    if principal.can(Permission.VIEW_ALERTS_ALL):
        return TenantScope.everything()
    if principal.can(Permission.VIEW_ALERTS_TENANT) and principal.tenant_id:
        return TenantScope.only(principal.tenant_id)
    raise ForbiddenError(N_("you may not see security alerts"))


def alerts_in(
    session: Session, scope: TenantScope, status: str = "open", page: int = 1
) -> tuple[list[LedgerAlert], bool]:
    """One page of alerts in `scope`, newest first, and whether older ones follow."""
    if status not in FILTERS:
        raise InputError(
            N_("must be one of: %(expected)s"),
            field="status",
            params={"expected": ", ".join(FILTERS)},
        )
    statement = scope.apply(select(LedgerAlert), LedgerAlert.tenant_id)
    if status == "open":
        statement = statement.where(LedgerAlert.status != CLOSED)
    elif status == "closed":
        statement = statement.where(LedgerAlert.status == CLOSED)
    ordered = statement.order_by(LedgerAlert.created_at.desc(), LedgerAlert.id.desc())
    rows = list(session.scalars(ordered.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def alert_in(session: Session, scope: TenantScope, alert_id: str) -> LedgerAlert:
    """One alert in `scope`; another tenant's is reported as missing."""
    statement = select(LedgerAlert).where(LedgerAlert.id == alert_id)
    found = session.scalars(scope.apply(statement, LedgerAlert.tenant_id)).first()
    if found is None:
        raise NotFoundError(N_("no such alert"))
    return found


def handle_alert(
    services: Services, principal: Principal, alert_id: str, action: str
) -> LedgerAlert:
    """Acknowledge or close an alert, recorded in the audit trail."""
    if action not in ACTIONS:
        raise NotFoundError(N_("no such alert"))
    # Looked up before the permission check, so another tenant's alert is simply missing.
    alert = alert_in(services.session, alert_scope(principal), alert_id)
    if not principal.can(Permission.MANAGE_ALERTS):
        raise ForbiddenError(N_("you may not handle security alerts"))
    if alert.status not in ACTIONS[action]:
        raise ConflictError(ALREADY[action])
    alert.status = ACKNOWLEDGED if action == "acknowledge" else CLOSED
    if alert.status == CLOSED:
        alert.closed_by = principal.label
    services.audit(
        AuditRecord.by(
            principal,
            f"alert.{action}",
            "ledger_alert",
            alert.id,
            alert.tenant_id,
            rule_id=alert.rule_id,
        )
    )
    return alert
