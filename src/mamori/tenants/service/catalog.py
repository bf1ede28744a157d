"""Rules for the provider profile, services and tenants."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.orm import Session

from mamori.core.errors import InputError, NotFoundError
from mamori.core.i18n import N_
from mamori.tenants.models import (
    PolicyStatement,
    Provider,
    Service,
    Tenant,
    TenantContact,
    TenantService,
)
from mamori.tenants.repository import TenantsRepository
from mamori.tenants.schemas import ContactPoint, ProviderProfileIn, ServiceIn, TenantIn


class TenantsError(NotFoundError):
    """A provider, service or tenant that was asked for is missing."""


def _contact_point(point: ContactPoint) -> dict[str, object]:
    return point.model_dump(mode="json")


class TenantsService:
    """Provider profile, services and tenants."""

    def __init__(self, session: Session) -> None:
        self.repository = TenantsRepository(session)
        self.session = session

    def provider(self) -> Provider:
        """The provider profile; an error when no catalog has been loaded."""
        provider = self.repository.provider()
        if provider is None:
            raise TenantsError(N_("no provider profile is loaded"), hint="mamori demo --no-serve")
        return provider

    def find_provider(self) -> Provider | None:
        """The provider profile, or None."""
        return self.repository.provider()

    def services(self) -> Sequence[Service]:
        """Services in whitepaper order."""
        return self.repository.services()

    def tenants(self) -> Sequence[Tenant]:
        """Tenants with subscriptions and contacts."""
        return self.repository.tenants()

    def tenant_page(self, page: int, size: int) -> tuple[Sequence[Tenant], int]:
        """Tenants of 1-based `page` (subscriptions loaded) and the total count."""
        return self.tenant_slice((max(page, 1) - 1) * size, size), self.repository.tenant_count()

    def tenant_slice(self, offset: int, limit: int) -> Sequence[Tenant]:
        """`limit` tenants by id from `offset`, with subscriptions but not contacts."""
        return self.repository.tenant_page(offset, limit)

    def subscribed_services(self, tenant_id: str) -> set[str]:
        """Services one tenant subscribes to."""
        return self.repository.subscribed_services(tenant_id)

    def subscriber_counts(self) -> dict[str, int]:
        """Tenants per service."""
        return self.repository.service_subscriber_counts()

    def put_provider(self, profile: ProviderProfileIn) -> None:
        """Create or replace the provider profile (there is one provider)."""
        provider = self.repository.provider() or Provider(id=profile.id)
        if provider.id != profile.id:
            self.repository.delete_providers_except(profile.id)
            provider = Provider(id=profile.id)
        provider.name = profile.name.to_text()
        provider.head_office_address = profile.head_office_address.to_text()
        provider.governing_law = profile.governing_law.to_text()
        provider.jurisdiction_court = profile.jurisdiction_court.to_text()
        provider.inquiry_desk = _contact_point(profile.inquiry_desk)
        provider.call_centre = _contact_point(profile.call_centre)
        provider.signatory_title = profile.signatory.title.to_text()
        provider.signatory_name = profile.signatory.name.to_text()
        provider.effective_date = profile.effective_date
        provider.purpose = profile.purpose.to_text()
        provider.scope_note = profile.scope_note.to_text()
        provider.policy_title = profile.basic_policy.title.to_text()
        provider.policy_preamble = profile.basic_policy.preamble.to_text()
        provider.policy_statements = [
            PolicyStatement(position=index, text=text.to_text())
            for index, text in enumerate(profile.basic_policy.statements)
        ]
        self.repository.add(provider)
        self.repository.flush()

    def put_services(self, services: Sequence[ServiceIn]) -> None:
        """Create or update `services` (see `remove_services_except` for removal)."""
        existing = {service.id: service for service in self.repository.services()}
        for position, item in enumerate(services):
            row = existing.get(item.id) or Service(id=item.id)
            row.position = position
            row.name = item.name.to_text()
            row.description = item.description.to_text()
            row.platforms = list(item.platforms)
            row.regions = list(item.regions)
            row.endpoints = list(item.endpoints)
            self.repository.add(row)
        self.repository.flush()

    def remove_services_except(self, keep: set[str]) -> None:
        """Delete services not in `keep`; a service tenants still subscribe to stays put."""
        counts = self.repository.service_subscriber_counts()
        for service in self.repository.services():
            if service.id not in keep and counts.get(service.id):
                raise InputError(
                    N_(
                        "the service '%(service)s' cannot be removed: %(count)s tenants "
                        "subscribe to it"
                    ),
                    field="services",
                    params={"service": service.id, "count": counts[service.id]},
                )
        self.repository.delete_services_except(keep)

    def put_tenants(self, tenants: Sequence[TenantIn]) -> None:
        """Create or update `tenants`; tenants not listed are left as they are."""
        existing = {tenant.id: tenant for tenant in self.repository.tenants()}
        ids = [item.id for item in tenants if item.id in existing]
        if ids:
            self.session.execute(delete(TenantService).where(TenantService.tenant_id.in_(ids)))
            self.session.execute(delete(TenantContact).where(TenantContact.tenant_id.in_(ids)))
            for tenant_id in ids:
                self.session.expire(existing[tenant_id])
        for item in tenants:
            row = existing.get(item.id) or Tenant(id=item.id)
            row.name = item.name.to_text()
            self.repository.add(row)
            self.repository.flush()
            for service_id in item.services:
                self.session.add(TenantService(tenant_id=item.id, service_id=service_id))
            for position, contact in enumerate(item.contacts):
                self.session.add(
                    TenantContact(
                        tenant_id=item.id,
                        position=position,
                        role=contact.role,
                        name=contact.name.to_text(),
                        email=contact.email,
                        phone=contact.phone,
                        language=contact.language,
                    )
                )
        self.repository.flush()
