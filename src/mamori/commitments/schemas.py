"""Input shapes of the clause index and the commitment catalog."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mamori.core.i18n import N_
from mamori.core.text import LTextIn
from mamori.tenants.schemas import ProviderProfileIn, ServiceIn, TenantIn

CLAUSE_NUMBER = re.compile(r"^(CLD\.)?\d{1,2}(\.\d{1,2}){1,3}$")
OwnerRole = Literal["administrator", "security_officer", "operator", "legal_officer"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class ClauseIn(_Strict):
    """An ISO/IEC 27017 clause: number and short title (our own words)."""

    number: str
    cloud_specific: bool
    title: LTextIn

    @field_validator("number")
    @classmethod
    def _number_shape(cls, number: str) -> str:
        if not CLAUSE_NUMBER.match(number):
            raise ValueError(N_("a clause number looks like 12.4.1 or CLD.9.5.1"))
        return number


class ClauseIndexFile(_Strict):
    """clauses.yaml."""

    clauses: list[ClauseIn] = Field(min_length=1)


class ResponsibilityAreaIn(_Strict):
    """One row of the shared-responsibility matrix."""

    area: LTextIn
    provider: LTextIn
    customer: LTextIn
    cloud_platform: LTextIn


class CommitmentIn(_Strict):
    """One commitment of the catalog.

    `checks` omitted means "every registered check that declares this commitment".
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    order: int = Field(ge=1, le=999)
    clauses: list[str] = Field(default_factory=list)
    owner_role: OwnerRole
    title: LTextIn
    statement: LTextIn
    checks: list[str] | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    responsibility_matrix: list[ResponsibilityAreaIn] = Field(default_factory=list)


class CommitmentsFile(_Strict):
    """commitments.yaml."""

    commitments: list[CommitmentIn] = Field(min_length=1)


class ProviderFile(_Strict):
    """provider.yaml."""

    provider: ProviderProfileIn


class ServicesFile(_Strict):
    """services.yaml."""

    services: list[ServiceIn] = Field(min_length=1)


class TenantsFile(_Strict):
    """tenants.yaml (optional: seed tenants)."""

    tenants: list[TenantIn] = Field(default_factory=list)
