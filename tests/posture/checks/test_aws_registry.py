"""Every AWS posture check: metadata, types, and unknowns for failed listings."""

from __future__ import annotations

from pathlib import Path

import pytest

import mamori.posture.checks
from mamori.commitments.registry import ResultStatus, registry
from mamori.posture.checks.base import POSTURE_CHECKS
from mamori.posture.schema import TYPES
from tests.posture.support import failed_listing, run_check, snapshot_of

CHECKS_DIR = Path(mamori.posture.checks.__file__).parent

COMMITMENTS = {
    "data-storage-location",
    "virtual-environment-segregation",
    "virtual-machine-hardening",
    "cryptography-policy",
    "backup",
    "event-logging",
    "security-requirements",
}

TYPES_BY_CHECK = {k: v for k, v in POSTURE_CHECKS.items() if k.startswith("aws_")}


def test_every_aws_check_is_registered_with_metadata() -> None:
    aws_checks = [c for c in registry if c.id.startswith("aws_")]
    assert len(aws_checks) >= 30
    assert {c.id for c in aws_checks} == set(TYPES_BY_CHECK)
    for definition in aws_checks:
        assert definition.commitments, definition.id
        assert set(definition.commitments) <= COMMITMENTS, definition.id
        for text in (definition.title, definition.rationale, definition.remediation):
            assert text.ja.strip() and text.en.strip(), definition.id
            assert text.ja != text.en, definition.id
        types = TYPES_BY_CHECK[definition.id]
        assert types, definition.id
        assert all(kind in TYPES and kind.startswith("aws.") for kind in types), definition.id


def test_modules_do_not_touch_the_network() -> None:
    for path in CHECKS_DIR.glob("aws_*.py"):
        source = path.read_text(encoding="utf-8")
        for banned in ("boto3", "botocore", "requests", "httpx", "urllib", "socket"):
            assert f"import {banned}" not in source, (path.name, banned)


@pytest.mark.parametrize("check_id", sorted(TYPES_BY_CHECK))
def test_no_snapshot_is_unknown(check_id: str) -> None:
    findings = run_check(check_id, None)
    assert [f.status for f in findings] == [ResultStatus.UNKNOWN]


@pytest.mark.parametrize("check_id", sorted(TYPES_BY_CHECK))
def test_failed_listing_is_unknown_naming_the_call(check_id: str) -> None:
    service = TYPES[TYPES_BY_CHECK[check_id][0]].service
    entry = failed_listing(service, "DescribeThings")
    findings = run_check(check_id, snapshot_of([], [entry]))
    unknowns = [f for f in findings if f.status == ResultStatus.UNKNOWN]
    assert unknowns, check_id
    assert any(f.params.get("call") == f"{service}:DescribeThings" for f in unknowns)
    assert ResultStatus.PASS not in {f.status for f in findings}
