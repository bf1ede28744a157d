"""Every Azure posture check: metadata, commitments, and no pass without a snapshot."""

from __future__ import annotations

import mamori.posture.checks  # noqa: F401 - registers the checks
from mamori.commitments.registry import registry
from tests.posture.support import run_check

COMMITMENTS = {
    "data-storage-location",
    "virtual-environment-segregation",
    "virtual-machine-hardening",
    "cryptography-policy",
    "backup",
    "event-logging",
    "security-requirements",
}


def azure_checks() -> list[str]:
    """Ids of the registered Azure checks."""
    return [c.id for c in registry if c.id.startswith("azure_")]


def test_every_azure_check_is_bilingual_and_cites_known_commitments() -> None:
    assert len(azure_checks()) >= 20
    for check_id in azure_checks():
        definition = registry.get(check_id)
        assert definition is not None
        for text in (definition.title, definition.rationale, definition.remediation):
            assert text.ja and text.en and text.ja != text.en, check_id
        assert definition.commitments and set(definition.commitments) <= COMMITMENTS, check_id


def test_without_a_snapshot_every_azure_check_is_unknown() -> None:
    for check_id in azure_checks():
        assert [str(f.status) for f in run_check(check_id, None)] == ["unknown"], check_id
