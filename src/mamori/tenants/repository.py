"""Every query on the provider, services and tenants."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, selectinload

from mamori.tenants.models import Provider, Service, Tenant, TenantService


class TenantsRepository:
    """Reads and writes of this domain's tables."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def provider(self) -> Provider | None:
        """The provider profile, if one has been loaded."""
        return self.session.scalars(
            select(Provider).options(selectinload(Provider.policy_statements)).limit(1)
        ).first()

    def services(self) -> Sequence[Service]:
        """All services in whitepaper order."""
        return self.session.scalars(select(Service).order_by(Service.position)).all()

    def tenants(self) -> Sequence[Tenant]:
        """All tenants with their subscriptions and contacts."""
        return self.session.scalars(
            select(Tenant)
            .options(selectinload(Tenant.subscriptions), selectinload(Tenant.contacts))
            .order_by(Tenant.id)
        ).all()

    def tenant_page(self, offset: int, limit: int) -> Sequence[Tenant]:
        """One page of tenants by id, with subscriptions but not contacts."""
        return self.session.scalars(
            select(Tenant)
            .options(selectinload(Tenant.subscriptions))
            .order_by(Tenant.id)
            .offset(offset)
            .limit(limit)
        ).all()

    def tenant_count(self) -> int:
        """How many tenants there are."""
        return int(self.session.scalar(select(func.count()).select_from(Tenant)) or 0)

    def subscribed_services(self, tenant_id: str) -> set[str]:
        """Ids of the services one tenant subscribes to."""
        return set(
            self.session.scalars(
                select(TenantService.service_id).where(TenantService.tenant_id == tenant_id)
            )
        )

    def service_subscriber_counts(self) -> dict[str, int]:
        """Number of tenants subscribed to each service."""
        rows = self.session.execute(
            select(TenantService.service_id, func.count()).group_by(TenantService.service_id)
        )
        return {str(service_id): int(count) for service_id, count in rows}

    def add(self, row: Provider | Service | Tenant) -> None:
        """Stage a new row."""
        self.session.add(row)

    def delete_services_except(self, keep: set[str]) -> None:
        """Remove services not in `keep` (subscriptions restrict this)."""
        self.session.execute(delete(Service).where(Service.id.not_in(keep)))

    def delete_providers_except(self, keep: str) -> None:
        """Keep a single provider profile."""
        self.session.execute(delete(Provider).where(Provider.id != keep))

    def flush(self) -> None:
        """Send staged changes so later statements see them."""
        self.session.flush()
