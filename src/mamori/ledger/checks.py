"""Checks the ledger contributes: commitments 13 (event logs), 17 (monitoring), 20 (evidence).

Facts are gathered once per evaluation by the `ledger` collector; the checks only read
them. Thresholds are commitment parameters, so changing the promise changes the check:
`log_retention_months`, `log_expected_interval_minutes`, `checkpoint_interval_minutes`,
`cosignature_max_age_days`, `detection_max_lag_minutes`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mamori.commitments.registry import (
    CheckContext,
    Finding,
    ResultStatus,
    Severity,
    check,
    collector,
)
from mamori.core.clock import as_utc, utcnow
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.ledger.models import (
    LedgerCheckpoint,
    LedgerChunk,
    LedgerCosignature,
    LedgerCosigner,
    LedgerCursor,
    LedgerDisclosure,
    LedgerSource,
)
from mamori.ledger.records import EventClass
from mamori.ledger.retention import add_months

PASS, FAIL, ERROR = ResultStatus.PASS, ResultStatus.FAIL, ResultStatus.ERROR
PURGE_PERIOD = timedelta(days=1)  # the purge job runs daily


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else as_utc(moment)


@dataclass
class LedgerFacts:
    """What the ledger checks read."""

    now: datetime
    last_seen: dict[str, datetime] = field(default_factory=dict)  # service id -> latest
    oldest_live: dict[str, datetime] = field(default_factory=dict)  # class -> oldest arrival
    latest_checkpoint: datetime | None = None
    cosigned: dict[str, datetime | None] = field(default_factory=dict)  # tenant -> latest
    overdue: list[tuple[str, str, datetime]] = field(default_factory=list)  # id, tenant, due
    detection_at: datetime | None = None


@collector("ledger")
def collect(session: Session) -> LedgerFacts:
    """Gather the ledger's facts for one evaluation."""
    facts = LedgerFacts(now=utcnow())
    for source in session.scalars(select(LedgerSource)):
        seen = _utc(source.last_seen_at)
        if seen and (
            source.service_id not in facts.last_seen or seen > facts.last_seen[source.service_id]
        ):
            facts.last_seen[source.service_id] = seen
    oldest = select(LedgerChunk.event_class, func.min(LedgerChunk.received_at)).where(
        LedgerChunk.purged_at.is_(None)
    )
    for event_class, moment in session.execute(oldest.group_by(LedgerChunk.event_class)):
        facts.oldest_live[str(event_class)] = _utc(moment) or facts.now
    facts.latest_checkpoint = _utc(session.scalar(select(func.max(LedgerCheckpoint.created_at))))
    cosigners = session.scalars(select(LedgerCosigner).where(LedgerCosigner.revoked_at.is_(None)))
    for cosigner in cosigners:
        latest = session.scalar(
            select(func.max(LedgerCheckpoint.created_at))
            .join(LedgerCosignature, LedgerCosignature.checkpoint_size == LedgerCheckpoint.size)
            .where(LedgerCosignature.tenant_id == cosigner.tenant_id)
        )
        facts.cosigned[cosigner.tenant_id] = _utc(latest)
    waiting = select(LedgerDisclosure).where(LedgerDisclosure.state == "requested")
    for row in session.scalars(waiting):
        due = _utc(row.review_due_at)
        if due is not None and due < facts.now:
            facts.overdue.append((row.id, row.tenant_id, due))
    cursor = session.get(LedgerCursor, "detection")
    facts.detection_at = _utc(cursor.updated_at) if cursor else None
    return facts


def _facts(context: CheckContext) -> LedgerFacts:
    facts = context.records.extra["ledger"]
    assert isinstance(facts, LedgerFacts)  # noqa: S101 - the collector's own type
    return facts


def _number(parameters: Mapping[str, Any], name: str, default: int) -> int:
    value = parameters.get(name, default)
    return value if isinstance(value, int) and value > 0 else default


@check(
    id="ledger_services_sending_logs",
    title=LText(
        ja="全サービスがログを送り続けている",
        en="Every service keeps sending its logs to the ledger",
    ),
    rationale=LText(
        ja="記録されていないログは保存も分析もできません。途絶は監視の穴になります。",
        en="Logs that never arrive cannot be kept or analysed; a silent service is a blind spot.",
    ),
    remediation=LText(
        ja="ログ転送の設定と API トークンを確認し、転送を再開してください。",
        en="Check the service's log shipper and its API token, and restart shipping.",
    ),
    severity=Severity.HIGH,
    commitments=("event-logging", "security-requirements"),
)
def services_sending(context: CheckContext) -> Iterator[Finding]:
    """Per service: events arrived within the expected interval."""
    facts = _facts(context)
    interval = timedelta(minutes=_number(context.parameters, "log_expected_interval_minutes", 60))
    for service in context.records.services:
        seen = facts.last_seen.get(service.id)
        subject = f"service:{service.id}"
        if seen is None:
            yield Finding(FAIL, subject, N_("No events have arrived from this service."))
        elif facts.now - seen > interval:
            yield Finding(FAIL, subject, N_("Silent since %(when)s."), {"when": seen.isoformat()})
        else:
            yield Finding(PASS, subject, N_("Last events at %(when)s."), {"when": seen.isoformat()})


@check(
    id="ledger_retention_kept_to_policy",
    title=LText(
        ja="ログを約束した期間だけ保存している",
        en="Logs are kept for the promised period, and no longer",
    ),
    rationale=LText(
        ja="保存期間を過ぎたログは消去し、期間内のログは消去しないことを約束しています。",
        en="The whitepaper promises both: kept for the whole period, erased once it ends.",
    ),
    remediation=LText(
        ja="保存期間の削除ジョブ（mamori ledger purge）が毎日動いているか確認してください。",
        en="Make sure the daily purge (mamori ledger purge) runs.",
    ),
    severity=Severity.MEDIUM,
    commitments=("event-logging",),
)
def retention_kept(context: CheckContext) -> Iterator[Finding]:
    """Per event class: a retention rule exists and nothing older than it plus a day is left."""
    facts = _facts(context)
    months = context.parameters.get("log_retention_months")
    if not isinstance(months, int) or months <= 0:
        yield Finding(ERROR, "policy", N_("The commitment states no log_retention_months."))
        return
    by_class = context.parameters.get("retention_months_by_class") or {}
    for event_class in EventClass:
        kept = by_class.get(event_class.value, months)
        oldest = facts.oldest_live.get(event_class.value)
        subject = f"class:{event_class.value}"
        if oldest is not None and add_months(oldest, kept) + PURGE_PERIOD < facts.now:
            yield Finding(
                FAIL,
                subject,
                N_("Events from %(when)s are past their %(months)s months."),
                {"when": oldest.isoformat(), "months": kept},
            )
        else:
            yield Finding(
                PASS, subject, N_("Kept %(months)s months; nothing overdue."), {"months": kept}
            )


@check(
    id="ledger_checkpoints_signed_and_cosigned",
    title=LText(
        ja="チェックポイントが署名・公開され、連署されている",
        en="Checkpoints are signed and published, and customers' cosignatures are current",
    ),
    rationale=LText(
        ja="署名済みチェックポイントと連署により、記録が後から書き換えられていないことを示せます。",
        en="Signed checkpoints and cosignatures show that no record was rewritten afterwards.",
    ),
    remediation=LText(
        ja="ポータルが動いているか、連署するお客様の仕組みが動いているか確認してください。",
        en="Check that mamori is running, and that the customer's cosigner still runs.",
    ),
    severity=Severity.MEDIUM,
    commitments=("event-logging", "evidence-collection"),
)
def checkpoints_current(context: CheckContext) -> Iterator[Finding]:
    """The newest checkpoint is recent; each tenant that cosigns has done so recently."""
    facts = _facts(context)
    every = timedelta(minutes=_number(context.parameters, "checkpoint_interval_minutes", 60))
    latest = facts.latest_checkpoint
    if latest is None:
        yield Finding(FAIL, "log", N_("No checkpoint has been published."))
    elif facts.now - latest > 2 * every and facts.last_seen:
        yield Finding(
            FAIL, "log", N_("The last checkpoint is from %(when)s."), {"when": latest.isoformat()}
        )
    else:
        yield Finding(
            PASS, "log", N_("The last checkpoint is from %(when)s."), {"when": latest.isoformat()}
        )
    limit = timedelta(days=_number(context.parameters, "cosignature_max_age_days", 7))
    for tenant, cosigned in sorted(facts.cosigned.items()):
        subject = f"tenant:{tenant}"
        if cosigned is None or facts.now - cosigned > limit:
            yield Finding(FAIL, subject, N_("The tenant's cosigner has not cosigned recently."))
        else:
            yield Finding(
                PASS,
                subject,
                N_("Cosigned a checkpoint from %(when)s."),
                {"when": cosigned.isoformat()},
            )


@check(
    id="ledger_disclosures_reviewed_on_time",
    title=LText(
        ja="証跡の開示請求を期限内に審査している",
        en="Evidence requests are reviewed before their deadline",
    ),
    rationale=LText(
        ja="開示請求には、内容を精査したうえで速やかに対応すると約束しています。",
        en="The whitepaper promises to review every request for evidence promptly.",
    ),
    remediation=LText(
        ja="セキュリティ担当者が期限切れの請求を審査してください。",
        en="A security officer should review the overdue requests.",
    ),
    severity=Severity.MEDIUM,
    commitments=("evidence-collection",),
)
def disclosures_on_time(context: CheckContext) -> Iterator[Finding]:
    """No request waits past its review deadline."""
    facts = _facts(context)
    for disclosure_id, tenant, due in facts.overdue:
        yield Finding(
            FAIL,
            f"disclosure:{disclosure_id}",
            N_("Waiting for review since %(when)s."),
            {"when": due.isoformat()},
            {"tenant": tenant},
        )
    if not facts.overdue:
        yield Finding(PASS, "disclosures", N_("No request is past its review deadline."))


@check(
    id="ledger_security_monitoring_running",
    title=LText(
        ja="セキュリティログの監視が動いている",
        en="Security log monitoring is running",
    ),
    rationale=LText(
        ja="検知ルールが新しいイベントを読み続けていなければ、不正アクセスを見逃します。",
        en="If detection rules stop reading new events, attacks go unnoticed.",
    ),
    remediation=LText(
        ja="mamori のワーカー（検知ジョブ）が動いているか確認してください。",
        en="Check that mamori's worker (the detection job) is running.",
    ),
    severity=Severity.HIGH,
    commitments=("security-requirements",),
)
def monitoring_running(context: CheckContext) -> Iterator[Finding]:
    """Detection read the ledger recently."""
    facts = _facts(context)
    lag = timedelta(minutes=_number(context.parameters, "detection_max_lag_minutes", 15))
    if facts.detection_at is None:
        yield Finding(FAIL, "detection", N_("Detection has never run."))
    elif facts.now - facts.detection_at > lag:
        yield Finding(
            FAIL,
            "detection",
            N_("Detection last ran at %(when)s."),
            {"when": facts.detection_at.isoformat()},
        )
    else:
        yield Finding(
            PASS,
            "detection",
            N_("Detection last ran at %(when)s."),
            {"when": facts.detection_at.isoformat()},
        )
