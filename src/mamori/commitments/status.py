"""How a commitment's status follows from the latest results of its checks.

The rule, applied in this order (docs/status.md explains it for readers):

1. no check is listed for the commitment                       -> not evidenced
2. a listed check failed and its severity is high or critical  -> failing
3. no listed check has a pass or fail outcome                  -> not evidenced
4. a listed check failed (low/medium), errored, could not read
   its data (unknown) or was never evaluated, or any check's
   latest evidence is too old                                 -> at risk
5. otherwise (every listed check passed or was not applicable) -> met

A check's outcome over its subjects is the worst of them: fail > error > unknown > pass >
not applicable; a check with no results at all is "missing".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from mamori.commitments.registry import ResultStatus, Severity
from mamori.core.clock import as_utc
from mamori.core.i18n import N_


class CommitmentStatus(StrEnum):
    """The published status of a commitment."""

    MET = "met"
    AT_RISK = "at_risk"
    FAILING = "failing"
    NOT_EVIDENCED = "not_evidenced"


STATUS_LABELS: dict[CommitmentStatus, str] = {
    CommitmentStatus.MET: N_("Met"),
    CommitmentStatus.AT_RISK: N_("At risk"),
    CommitmentStatus.FAILING: N_("Failing"),
    CommitmentStatus.NOT_EVIDENCED: N_("Not evidenced"),
}

MISSING = "missing"
_WORST_FIRST = (ResultStatus.FAIL, ResultStatus.ERROR, ResultStatus.UNKNOWN, ResultStatus.PASS)
_SERIOUS = {Severity.HIGH, Severity.CRITICAL}


@dataclass(frozen=True)
class CheckOutcome:
    """One check's aggregated outcome and when it was last evaluated."""

    check_id: str
    outcome: str  # a ResultStatus value or MISSING
    severity: Severity
    evaluated_at: datetime | None


def aggregate(statuses: Iterable[str]) -> str:
    """The worst outcome among one check's results (MISSING when there are none)."""
    seen = set(statuses)
    if not seen:
        return MISSING
    for status in _WORST_FIRST:
        if status in seen:
            return status.value
    return ResultStatus.NOT_APPLICABLE.value


def derive_status(
    outcomes: Iterable[CheckOutcome], *, now: datetime, max_age: timedelta
) -> tuple[CommitmentStatus, datetime | None]:
    """The status of a commitment from its checks' outcomes, and its newest evidence time."""
    listed = list(outcomes)
    times = [as_utc(o.evaluated_at) for o in listed if o.evaluated_at is not None]
    newest = max(times) if times else None
    if not listed:
        return CommitmentStatus.NOT_EVIDENCED, newest
    fail = ResultStatus.FAIL.value
    if any(o.outcome == fail and o.severity in _SERIOUS for o in listed):
        return CommitmentStatus.FAILING, newest
    decisive = {fail, ResultStatus.PASS.value}
    if not any(o.outcome in decisive for o in listed):
        return CommitmentStatus.NOT_EVIDENCED, newest
    shaky = {fail, ResultStatus.ERROR.value, ResultStatus.UNKNOWN.value, MISSING}
    oldest = min(times) if times else None
    stale = oldest is not None and now - oldest > max_age
    if stale or any(o.outcome in shaky for o in listed):
        return CommitmentStatus.AT_RISK, newest
    return CommitmentStatus.MET, newest


def outcomes_by_check(
    results: Iterable[tuple[str, str, datetime]],
) -> Mapping[str, tuple[str, datetime]]:
    """Aggregate `(check_id, status, evaluated_at)` rows into each check's outcome."""
    statuses: dict[str, list[str]] = {}
    times: dict[str, datetime] = {}
    for check_id, status, evaluated_at in results:
        statuses.setdefault(check_id, []).append(status)
        moment = as_utc(evaluated_at)
        if check_id not in times or moment > times[check_id]:
            times[check_id] = moment
    return {check_id: (aggregate(s), times[check_id]) for check_id, s in statuses.items()}
