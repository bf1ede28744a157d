"""The check registry: domains declare checks with `@check(...)`; evaluation runs them.

A check is metadata plus a small function that reads a `CheckContext` (records
collected beforehand, never the network) and yields `Finding`s, one per subject.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mamori.core.text import LText

CHECK_ID = re.compile(r"^[a-z][a-z0-9_]{2,95}$")


class Severity(StrEnum):
    """How much a failed check matters to the commitments it evidences."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class ResultStatus(StrEnum):
    """The outcome of a check about one subject."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    ERROR = "error"
    UNKNOWN = "unknown"  # the data the check needs could not be collected; never a pass
    NOT_APPLICABLE = "not_applicable"


@dataclass(slots=True)  # not frozen: checks make one per resource, and frozen init is slow
class Finding:
    """One result about one subject; `message` is a catalog id filled from `params`."""

    status: ResultStatus
    subject: str
    message: str
    params: Mapping[str, str | int] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckContext:
    """What a check may read: the records, and the parameters of its commitments.

    `records` is whatever the evaluator collected (see `evaluation.collect_records`);
    `parameters` merges the `parameters` of every commitment that cites the check, and
    `cited_by` names those commitments (empty when no commitment relies on the check).
    """

    records: Any
    parameters: Mapping[str, Any]
    cited_by: tuple[str, ...] = ()


CheckFunction = Callable[[CheckContext], Iterable[Finding]]


@dataclass(frozen=True)
class CheckDefinition:
    """A registered check."""

    id: str
    title: LText
    rationale: LText
    remediation: LText
    severity: Severity
    commitments: tuple[str, ...]
    function: CheckFunction

    def run(self, context: CheckContext) -> list[Finding]:
        """The check's findings (exceptions propagate; the evaluator records them)."""
        return list(self.function(context))


Collector = Callable[[Any], Any]  # a database session -> facts for checks


class CheckRegistry:
    """Checks by id, in registration order."""

    def __init__(self) -> None:
        self.collectors: dict[str, Collector] = {}
        self._checks: dict[str, CheckDefinition] = {}

    def register(self, definition: CheckDefinition) -> None:
        """Add a check; ids are unique and must look like `aws_s3_bucket_encrypted`."""
        if not CHECK_ID.match(definition.id):
            raise ValueError(f"check id {definition.id!r} must match {CHECK_ID.pattern}")
        if definition.id in self._checks:
            raise ValueError(f"check id {definition.id!r} is registered twice")
        self._checks[definition.id] = definition

    def unregister(self, check_id: str) -> None:
        """Remove a check (used by tests that register throwaway checks)."""
        self._checks.pop(check_id, None)

    def get(self, check_id: str) -> CheckDefinition | None:
        """The check with `check_id`, if registered."""
        return self._checks.get(check_id)

    def __contains__(self, check_id: object) -> bool:
        return check_id in self._checks

    def __iter__(self) -> Iterator[CheckDefinition]:
        return iter(list(self._checks.values()))

    def __len__(self) -> int:
        return len(self._checks)

    def for_commitment(self, commitment_id: str) -> list[str]:
        """Ids of checks that declare they evidence `commitment_id`."""
        return [c.id for c in self._checks.values() if commitment_id in c.commitments]


registry = CheckRegistry()


def check(
    *,
    id: str,
    title: LText,
    rationale: LText,
    remediation: LText,
    severity: Severity,
    commitments: Iterable[str] = (),
    target: CheckRegistry | None = None,
) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated function as a check."""

    def decorate(function: CheckFunction) -> CheckFunction:
        (target if target is not None else registry).register(
            CheckDefinition(
                id=id,
                title=title,
                rationale=rationale,
                remediation=remediation,
                severity=severity,
                commitments=tuple(commitments),
                function=function,
            )
        )
        return function

    return decorate


# Domains whose checks.py registers checks; imported once by `load_all_checks`.
def collector(name: str, target: CheckRegistry | None = None) -> Callable[[Collector], Collector]:
    """Register a function that gathers, once per run, facts a domain's checks read.

    Its result is `records.extra[name]` in every check's context.
    """

    def decorate(function: Collector) -> Collector:
        (target if target is not None else registry).collectors[name] = function
        return function

    return decorate


CHECK_MODULES: tuple[str, ...] = (
    "mamori.commitments.checks",
    "mamori.ledger.checks",
    "mamori.posture.checks",
    "mamori.posture.facts",
)


def load_all_checks() -> CheckRegistry:
    """Import every domain's checks module so the registry is complete."""
    import importlib

    for module in CHECK_MODULES:
        importlib.import_module(module)
    return registry
