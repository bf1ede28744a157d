"""Read a catalog directory, validate all of it, then write it in one transaction.

A catalog directory holds provider.yaml, services.yaml, commitments.yaml and
optionally tenants.yaml and clauses.yaml (the bundled clause index otherwise).
Nothing is written unless every file is valid, so a bad catalog changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.schemas import (
    ClauseIndexFile,
    CommitmentsFile,
    ProviderFile,
    ServicesFile,
    TenantsFile,
)
from mamori.core.errors import InputError
from mamori.core.i18n import N_
from mamori.core.validation import validate_document
from mamori.core.yamlsource import YamlDocument, load_yaml

CATALOG_ROOT = Path(__file__).resolve().parent / "catalog"
BUNDLED_CLAUSES = CATALOG_ROOT / "clauses.yaml"
DEMO_CATALOG = CATALOG_ROOT / "demo"


@dataclass(frozen=True)
class Catalog:
    """A validated catalog, ready to be written."""

    clauses: ClauseIndexFile
    provider: ProviderFile
    services: ServicesFile
    commitments: CommitmentsFile
    tenants: TenantsFile | None
    resolved_checks: dict[str, list[str]]  # commitment id -> check ids


def _read(path: Path) -> YamlDocument:
    return load_yaml(path, display_name=str(path))


def _first_duplicate(values: Iterable[str | int]) -> tuple[int, str | int] | None:
    seen: set[str | int] = set()
    for index, value in enumerate(values):
        if value in seen:
            return index, value
        seen.add(value)
    return None


def _reject_duplicates(
    document: YamlDocument, key: str, field: str, values: Iterable[str | int]
) -> None:
    duplicate = _first_duplicate(values)
    if duplicate is not None:
        index, value = duplicate
        raise document.error(
            N_("'%(value)s' is used twice; each %(field)s must be unique"),
            (key, index, field),
            value=str(value),
            field=field,
        )


def _resolve_checks(
    document: YamlDocument, commitments: CommitmentsFile, registry: CheckRegistry
) -> dict[str, list[str]]:
    resolved: dict[str, list[str]] = {}
    for index, commitment in enumerate(commitments.commitments):
        if commitment.checks is None:
            resolved[commitment.id] = registry.for_commitment(commitment.id)
            continue
        for position, check_id in enumerate(commitment.checks):
            if check_id not in registry:
                raise document.error(
                    N_("unknown check '%(check)s'"),
                    ("commitments", index, "checks", position),
                    check=check_id,
                )
        _reject_duplicates_in_list(document, ("commitments", index, "checks"), commitment.checks)
        resolved[commitment.id] = list(commitment.checks)
    return resolved


def _reject_duplicates_in_list(
    document: YamlDocument, path: tuple[str | int, ...], values: list[str]
) -> None:
    duplicate = _first_duplicate(values)
    if duplicate is not None:
        index, value = duplicate
        raise document.error(N_("'%(value)s' is listed twice"), (*path, index), value=str(value))


def _check_clause_references(
    document: YamlDocument, commitments: CommitmentsFile, known: set[str]
) -> None:
    for index, commitment in enumerate(commitments.commitments):
        for position, number in enumerate(commitment.clauses):
            if number not in known:
                raise document.error(
                    N_("unknown clause '%(clause)s'; it is not in the clause index"),
                    ("commitments", index, "clauses", position),
                    clause=number,
                )
        _reject_duplicates_in_list(document, ("commitments", index, "clauses"), commitment.clauses)


def _check_tenant_services(document: YamlDocument, tenants: TenantsFile, known: set[str]) -> None:
    for index, tenant in enumerate(tenants.tenants):
        for position, service_id in enumerate(tenant.services):
            if service_id not in known:
                raise document.error(
                    N_("unknown service '%(service)s'"),
                    ("tenants", index, "services", position),
                    service=service_id,
                )
        _reject_duplicates_in_list(document, ("tenants", index, "services"), tenant.services)


def read_catalog(directory: Path, registry: CheckRegistry) -> Catalog:
    """Parse and validate every file of `directory`; raise InputError at the first problem."""
    if not directory.is_dir():
        raise InputError(N_("catalog directory not found"), file=str(directory))
    clauses_path = directory / "clauses.yaml"
    clauses_doc = _read(clauses_path if clauses_path.exists() else BUNDLED_CLAUSES)
    clauses = validate_document(ClauseIndexFile, clauses_doc)
    _reject_duplicates(clauses_doc, "clauses", "number", (c.number for c in clauses.clauses))

    provider = validate_document(ProviderFile, _read(directory / "provider.yaml"))

    services_doc = _read(directory / "services.yaml")
    services = validate_document(ServicesFile, services_doc)
    _reject_duplicates(services_doc, "services", "id", (s.id for s in services.services))

    commitments_doc = _read(directory / "commitments.yaml")
    commitments = validate_document(CommitmentsFile, commitments_doc)
    _reject_duplicates(
        commitments_doc, "commitments", "id", (c.id for c in commitments.commitments)
    )
    _reject_duplicates(
        commitments_doc, "commitments", "order", (c.order for c in commitments.commitments)
    )
    _check_clause_references(commitments_doc, commitments, {c.number for c in clauses.clauses})
    resolved = _resolve_checks(commitments_doc, commitments, registry)

    tenants: TenantsFile | None = None
    tenants_path = directory / "tenants.yaml"
    if tenants_path.exists():
        tenants_doc = _read(tenants_path)
        tenants = validate_document(TenantsFile, tenants_doc)
        _reject_duplicates(tenants_doc, "tenants", "id", (t.id for t in tenants.tenants))
        _check_tenant_services(tenants_doc, tenants, {s.id for s in services.services})

    return Catalog(
        clauses=clauses,
        provider=provider,
        services=services,
        commitments=commitments,
        tenants=tenants,
        resolved_checks=resolved,
    )
