"""The clause index and the demo provider reproduce the reference whitepaper's facts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mamori.commitments.catalog_loader import BUNDLED_CLAUSES, DEMO_CATALOG, read_catalog
from mamori.commitments.registry import CheckRegistry

REFERENCE = (
    Path(__file__).resolve().parents[3] / "shared" / "reference" / "whitepaper-iso27017-ja.txt"
)
CLOUD_SPECIFIC = {
    "CLD.6.3.1",
    "CLD.8.1.5",
    "CLD.9.5.1",
    "CLD.9.5.2",
    "CLD.12.1.5",
    "CLD.12.4.5",
    "CLD.13.1.4",
}
SERVICES = ["total ID", "マイアセス", "タブドリLive!", "NIMOT!", "コグトレオンライン", "iFuture"]
JAPAN = {"aws": {"ap-northeast-1", "ap-northeast-3"}, "azure": {"japaneast", "japanwest"}}


@pytest.fixture(scope="module")
def reference_clauses() -> dict[int, str]:
    """Commitment number -> clause it cites, read from the reference whitepaper."""
    assert REFERENCE.is_file(), f"reference whitepaper not found at {REFERENCE}"
    cited = {}
    for number, clause in re.findall(
        r"^(\d+)\. .*\(ISO27017:\s*((?:CLD\s*)?[\d.]+)\)", REFERENCE.read_text("utf-8"), re.M
    ):
        cited[int(number)] = re.sub(r"CLD\s*", "CLD.", clause)
    return cited


def test_reference_is_read(reference_clauses: dict[int, str]) -> None:
    assert len(reference_clauses) == 21  # commitment 1 (location) cites no clause


def test_clause_index_covers_reference_and_cloud_controls(
    registry: CheckRegistry, reference_clauses: dict[int, str]
) -> None:
    index = read_catalog(DEMO_CATALOG, registry).clauses.clauses
    numbers = {c.number for c in index}
    assert set(reference_clauses.values()) <= numbers
    assert numbers >= CLOUD_SPECIFIC
    assert {c.number for c in index if c.cloud_specific} == CLOUD_SPECIFIC
    assert BUNDLED_CLAUSES.is_file()


def test_demo_commitments_cite_the_reference_clauses(
    registry: CheckRegistry, reference_clauses: dict[int, str]
) -> None:
    commitments = read_catalog(DEMO_CATALOG, registry).commitments.commitments
    assert [c.order for c in commitments] == list(range(1, 23))
    for commitment in commitments:
        expected = (
            [reference_clauses[commitment.order]] if commitment.order in reference_clauses else []
        )
        assert commitment.clauses == expected, commitment.id


def test_demo_provider_facts(registry: CheckRegistry) -> None:
    catalog = read_catalog(DEMO_CATALOG, registry)
    services = catalog.services.services
    assert [s.name.ja for s in services] == SERVICES
    assert {p for s in services for p in s.platforms} == {"aws", "azure"}
    for service in services:
        allowed = set().union(*(JAPAN[p] for p in service.platforms))
        assert set(service.regions) <= allowed, service.id
    assert len(catalog.provider.provider.basic_policy.statements) == 6
    by_order = {c.order: c for c in catalog.commitments.commitments}
    assert by_order[13].parameters["log_retention_months"] == 12
    assert by_order[3].parameters["allowed_regions"] == {k: sorted(v) for k, v in JAPAN.items()}
    assert len(by_order[2].responsibility_matrix) >= 5
    assert catalog.tenants is not None and len(catalog.tenants.tenants) >= 3


def test_demo_statements_are_not_copied_from_the_reference(registry: CheckRegistry) -> None:
    reference = re.sub(r"\s+", "", REFERENCE.read_text("utf-8"))
    catalog = read_catalog(DEMO_CATALOG, registry)
    texts = [c.statement.ja for c in catalog.commitments.commitments]
    texts += [s.ja for s in catalog.provider.provider.basic_policy.statements]
    for text in texts:
        squeezed = re.sub(r"\s+", "", text)
        # No run of 25 characters may appear verbatim in the reference.
        for start in range(0, max(len(squeezed) - 25, 0)):
            assert squeezed[start : start + 25] not in reference, squeezed[start : start + 25]
