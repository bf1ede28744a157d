"""Input shapes of the provider profile, services and tenants (catalog files and API)."""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
