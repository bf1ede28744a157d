"""The status rule of docs/status.md, case by case and as properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from mamori.commitments.registry import Severity
from mamori.commitments.status import (
    MISSING,
    CheckOutcome,
    CommitmentStatus,
    aggregate,
    derive_status,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
AGE = timedelta(hours=48)
RECENT = NOW - timedelta(hours=1)


def outcome(
    result: str, severity: Severity = Severity.MEDIUM, at: datetime | None = RECENT
) -> CheckOutcome:
    return CheckOutcome("c", result, severity, None if result == MISSING else at)


def status(*outcomes: CheckOutcome) -> CommitmentStatus:
    return derive_status(outcomes, now=NOW, max_age=AGE)[0]


def test_no_checks_is_not_evidenced() -> None:
    assert status() is CommitmentStatus.NOT_EVIDENCED


def test_all_pass_is_met() -> None:
    assert status(outcome("pass"), outcome("pass")) is CommitmentStatus.MET


def test_pass_with_not_applicable_is_met() -> None:
    assert status(outcome("pass"), outcome("not_applicable")) is CommitmentStatus.MET


def test_only_not_applicable_or_missing_is_not_evidenced() -> None:
    assert status(outcome("not_applicable")) is CommitmentStatus.NOT_EVIDENCED
    assert status(outcome(MISSING)) is CommitmentStatus.NOT_EVIDENCED
    assert status(outcome("error")) is CommitmentStatus.NOT_EVIDENCED


def test_serious_failure_is_failing() -> None:
    assert status(outcome("pass"), outcome("fail", Severity.HIGH)) is CommitmentStatus.FAILING
    assert status(outcome("fail", Severity.CRITICAL)) is CommitmentStatus.FAILING


def test_minor_failure_error_or_missing_is_at_risk() -> None:
    assert status(outcome("pass"), outcome("fail", Severity.LOW)) is CommitmentStatus.AT_RISK
    assert status(outcome("pass"), outcome("error")) is CommitmentStatus.AT_RISK
    assert status(outcome("pass"), outcome(MISSING)) is CommitmentStatus.AT_RISK


def test_stale_evidence_is_at_risk() -> None:
    old = NOW - AGE - timedelta(minutes=1)
    assert status(outcome("pass", at=old)) is CommitmentStatus.AT_RISK
    assert status(outcome("pass", at=NOW - AGE)) is CommitmentStatus.MET


def test_latest_evidence_is_the_newest_time() -> None:
    older = NOW - timedelta(hours=5)
    _, newest = derive_status([outcome("pass", at=older), outcome("pass")], now=NOW, max_age=AGE)
    assert newest == RECENT


def test_aggregate_takes_the_worst() -> None:
    assert aggregate([]) == MISSING
    assert aggregate(["pass", "not_applicable"]) == "pass"
    assert aggregate(["pass", "error"]) == "error"
    assert aggregate(["error", "fail", "pass"]) == "fail"
    assert aggregate(["not_applicable"]) == "not_applicable"


results = st.sampled_from(["pass", "fail", "error", "not_applicable", MISSING])
severities = st.sampled_from(list(Severity))


@given(st.lists(st.tuples(results, severities), max_size=8))
def test_met_only_when_nothing_is_wrong(pairs: list[tuple[str, Severity]]) -> None:
    outcomes = [outcome(r, s) for r, s in pairs]
    result = status(*outcomes)
    if result is CommitmentStatus.MET:
        assert all(o.outcome in {"pass", "not_applicable"} for o in outcomes)
        assert any(o.outcome == "pass" for o in outcomes)
    if any(
        o.outcome == "fail" and o.severity in {Severity.HIGH, Severity.CRITICAL} for o in outcomes
    ):
        assert result is CommitmentStatus.FAILING


@given(st.lists(st.tuples(results, severities), min_size=1, max_size=8))
def test_adding_a_failure_never_improves_status(pairs: list[tuple[str, Severity]]) -> None:
    order = [
        CommitmentStatus.MET,
        CommitmentStatus.AT_RISK,
        CommitmentStatus.FAILING,
    ]
    outcomes = [outcome(r, s) for r, s in pairs]
    before = status(*outcomes)
    after = status(*outcomes, outcome("fail", Severity.HIGH))
    assert after is CommitmentStatus.FAILING
    if before in order:
        assert order.index(after) >= order.index(before)
