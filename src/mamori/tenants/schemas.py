"""Input shapes of the provider profile, services and tenants (catalog files and API)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from mamori.core.clock import as_utc
from mamori.core.i18n import N_
from mamori.core.text import LTextIn

SLUG = r"^[a-z0-9][a-z0-9-]{0,63}$"
REGION = re.compile(r"^[a-z0-9-]{2,40}$")
Platform = Literal["aws", "azure"]
ContactRole = Literal["security", "technical", "administrative", "billing"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class ContactPoint(_Strict):
    """A desk customers can reach (inquiry desk, call centre)."""

    name: LTextIn
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=32)
    hours: LTextIn | None = None
    url: str = Field(default="", max_length=500)


class Signatory(_Strict):
    """Who signs the basic policy."""

    title: LTextIn
    name: LTextIn


class BasicPolicy(_Strict):
    """The provider's basic cloud security policy."""

    title: LTextIn
    preamble: LTextIn
    statements: list[LTextIn] = Field(min_length=1)


class ProviderProfileIn(_Strict):
    """The provider profile."""

    id: str = Field(pattern=SLUG)
    name: LTextIn
    head_office_address: LTextIn
    governing_law: LTextIn
    jurisdiction_court: LTextIn
    inquiry_desk: ContactPoint
    call_centre: ContactPoint
    signatory: Signatory
    effective_date: date
    purpose: LTextIn
    scope_note: LTextIn
    basic_policy: BasicPolicy


class ServiceIn(_Strict):
    """A service in the whitepaper's scope."""

    id: str = Field(pattern=SLUG)
    name: LTextIn
    description: LTextIn
    platforms: list[Platform] = Field(min_length=1)
    regions: list[str] = Field(min_length=1)
    endpoints: list[str] = Field(default_factory=list)

    @field_validator("regions")
    @classmethod
    def _regions_look_like_regions(cls, regions: list[str]) -> list[str]:
        for region in regions:
            if not REGION.match(region):
                raise ValueError(N_("not a cloud region name"))
        return regions


class TenantContactIn(_Strict):
    """A contact person at a tenant."""

    role: ContactRole
    name: LTextIn
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str = Field(default="", max_length=32)
    language: Literal["ja", "en"] = "ja"


class TenantIn(_Strict):
    """A customer and what it subscribes to."""

    id: str = Field(pattern=SLUG)
    name: LTextIn
    services: list[str] = Field(default_factory=list)
    contacts: list[TenantContactIn] = Field(default_factory=list)


# SQLite gives stored datetimes back naive; JSON date-times must carry their offset.
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


class ApiModel(BaseModel):
    """Base of API responses."""

    model_config = ConfigDict(from_attributes=True)


class MeOut(ApiModel):
    """The caller."""

    user_id: str
    email: str
    display_name: str
    role: str
    tenant_id: str | None
    permissions: list[str]
    token_scopes: list[str] | None


class TenantOut(ApiModel):
    """A tenant's metadata."""

    id: str
    name_ja: str
    name_en: str
    services: list[str]
    require_tenant_approval: bool


class ContactOut(ApiModel):
    """A tenant contact (customer data)."""

    role: str
    name_ja: str
    name_en: str
    email: str
    phone: str
    language: str


class UserOut(ApiModel):
    """A user account."""

    id: str
    email: str
    display_name: str
    role: str
    tenant_id: str | None
    mfa_enabled: bool
    locked: bool


class GrantOut(ApiModel):
    """A staff access grant."""

    id: str
    tenant_id: str
    requester_id: str
    reason: str
    scope: str
    duration_minutes: int
    status: str
    requested_at: UtcDatetime
    approver_id: str | None
    starts_at: UtcDatetime | None
    expires_at: UtcDatetime | None


class GrantIn(BaseModel):
    """A request for access."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str = Field(max_length=64)
    reason: str = Field(max_length=1000)
    minutes: int = Field(ge=1, le=100_000)


class AuditEventOut(ApiModel):
    """An audit trail entry."""

    id: int
    at: UtcDatetime
    actor_label: str
    action: str
    target_type: str
    target_id: str
    tenant_id: str | None
    address: str


class TokenOut(ApiModel):
    """An API token (never its secret)."""

    id: str
    name: str
    tenant_id: str | None
    scopes: list[str]
    created_at: UtcDatetime
    expires_at: UtcDatetime
    revoked: bool
