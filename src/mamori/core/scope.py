"""Who is asking, and which tenants' rows a query may touch: the one door to tenant data.

SQLite has no row-level security, so every repository query on a tenant-owned table
goes through `TenantScope.apply`; a test walks every route to prove it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Select, false

S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True)
class TenantScope:
    """The tenants a query may see: `None` means every tenant (provider-wide metadata)."""

    tenant_ids: frozenset[str] | None

    @classmethod
    def everything(cls) -> TenantScope:
        """No restriction (staff reading provider metadata)."""
        return cls(None)

    @classmethod
    def only(cls, *tenant_ids: str) -> TenantScope:
        """Exactly these tenants (possibly none)."""
        return cls(frozenset(tenant_ids))

    def allows(self, tenant_id: str | None) -> bool:
        """Whether a row of `tenant_id` is visible."""
        if self.tenant_ids is None:
            return True
        return tenant_id is not None and tenant_id in self.tenant_ids

    def apply(self, statement: S, column: Any) -> S:
        """`statement` restricted to this scope on `column` (a tenant_id column)."""
        if self.tenant_ids is None:
            return statement
        if not self.tenant_ids:
            return statement.where(false())
        return statement.where(column.in_(sorted(self.tenant_ids)))


@dataclass(frozen=True)
class Principal:
    """A signed-in user or an API token, with what it may do."""

    user_id: str
    email: str
    display_name: str
    role: str
    tenant_id: str | None
    permissions: frozenset[str]
    address: str = ""
    token_scopes: frozenset[str] | None = None
    session_id_hash: str | None = None
    language: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_staff(self) -> bool:
        """Provider staff (not bound to a tenant)."""
        return self.tenant_id is None

    def can(self, permission: str) -> bool:
        """Whether the principal holds `permission`."""
        return permission in self.permissions

    @property
    def label(self) -> str:
        """How the principal appears in the audit trail."""
        return self.email
