"""Roles and what each may do: the one table every page and API route consults.

docs/permissions.md is generated from this table (`mamori users permissions --markdown`).
"""

from __future__ import annotations

from enum import StrEnum

from mamori.core.i18n import N_


class Role(StrEnum):
    """Provider roles, then customer roles."""

    ADMINISTRATOR = "administrator"
    SECURITY_OFFICER = "security_officer"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    TENANT_ADMIN = "tenant_admin"
    TENANT_MEMBER = "tenant_member"


STAFF_ROLES = frozenset({Role.ADMINISTRATOR, Role.SECURITY_OFFICER, Role.OPERATOR, Role.AUDITOR})
CUSTOMER_ROLES = frozenset({Role.TENANT_ADMIN, Role.TENANT_MEMBER})

ROLE_LABELS = {
    Role.ADMINISTRATOR: N_("Administrator"),
    Role.SECURITY_OFFICER: N_("Security officer"),
    Role.OPERATOR: N_("Operator"),
    Role.AUDITOR: N_("Auditor"),
    Role.TENANT_ADMIN: N_("Tenant administrator"),
    Role.TENANT_MEMBER: N_("Tenant member"),
}


class Permission(StrEnum):
    """Something a signed-in principal may do."""

    VIEW_DASHBOARD = "view_dashboard"
    VIEW_SERVICES = "view_services"
    VIEW_ALL_TENANTS = "view_all_tenants"
    VIEW_OWN_TENANT = "view_own_tenant"
    MANAGE_TENANT_SETTINGS = "manage_tenant_settings"
    MANAGE_STAFF = "manage_staff"
    MANAGE_TENANT_USERS = "manage_tenant_users"
    REQUEST_GRANT = "request_grant"
    APPROVE_GRANT = "approve_grant"
    APPROVE_GRANT_FOR_TENANT = "approve_grant_for_tenant"
    VIEW_ALL_GRANTS = "view_all_grants"
    VIEW_TRANSPARENCY = "view_transparency"
    VIEW_AUDIT_ALL = "view_audit_all"
    VIEW_AUDIT_TENANT = "view_audit_tenant"
    VIEW_LOCKOUTS = "view_lockouts"
    MANAGE_API_TOKENS = "manage_api_tokens"
    INGEST_EVENTS = "ingest_events"
    VIEW_CHECKPOINTS = "view_checkpoints"
    COSIGN_CHECKPOINTS = "cosign_checkpoints"
    MANAGE_LEGAL_HOLDS = "manage_legal_holds"
    VERIFY_LEDGER = "verify_ledger"
    REQUEST_ANALYSIS = "request_analysis"
    REQUEST_DISCLOSURE = "request_disclosure"
    REVIEW_DISCLOSURE = "review_disclosure"
    APPROVE_DISCLOSURE = "approve_disclosure"
    VIEW_ALERTS_ALL = "view_alerts_all"
    VIEW_ALERTS_TENANT = "view_alerts_tenant"
    MANAGE_ALERTS = "manage_alerts"
    VIEW_POSTURE_ALL = "view_posture_all"
    VIEW_POSTURE_TENANT = "view_posture_tenant"


P = Permission
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMINISTRATOR: frozenset(
        {
            P.VIEW_DASHBOARD,
            P.VIEW_SERVICES,
            P.VIEW_ALL_TENANTS,
            P.MANAGE_STAFF,
            P.REQUEST_GRANT,
            P.APPROVE_GRANT,
            P.VIEW_ALL_GRANTS,
            P.VIEW_AUDIT_ALL,
            P.VIEW_LOCKOUTS,
            P.MANAGE_API_TOKENS,
            P.INGEST_EVENTS,
            P.VIEW_CHECKPOINTS,
            P.MANAGE_LEGAL_HOLDS,
            P.VERIFY_LEDGER,
            P.APPROVE_DISCLOSURE,
            P.VIEW_ALERTS_ALL,
            P.VIEW_POSTURE_ALL,
        }
    ),
    Role.SECURITY_OFFICER: frozenset(
        {
            P.VIEW_DASHBOARD,
            P.VIEW_SERVICES,
            P.VIEW_ALL_TENANTS,
            P.REQUEST_GRANT,
            P.APPROVE_GRANT,
            P.VIEW_ALL_GRANTS,
            P.VIEW_AUDIT_ALL,
            P.VIEW_LOCKOUTS,
            P.MANAGE_API_TOKENS,
            P.VIEW_CHECKPOINTS,
            P.MANAGE_LEGAL_HOLDS,
            P.VERIFY_LEDGER,
            P.REQUEST_DISCLOSURE,
            P.REVIEW_DISCLOSURE,
            P.APPROVE_DISCLOSURE,
            P.VIEW_ALERTS_ALL,
            P.MANAGE_ALERTS,
            P.VIEW_POSTURE_ALL,
        }
    ),
    Role.OPERATOR: frozenset(
        {
            P.VIEW_DASHBOARD,
            P.VIEW_SERVICES,
            P.VIEW_ALL_TENANTS,
            P.REQUEST_GRANT,
            P.MANAGE_API_TOKENS,
            P.INGEST_EVENTS,
            P.VIEW_CHECKPOINTS,
            P.VIEW_ALERTS_ALL,
            P.MANAGE_ALERTS,
            P.VIEW_POSTURE_ALL,
        }
    ),
    # Auditors read everything except customer data: they never request grants.
    Role.AUDITOR: frozenset(
        {
            P.VIEW_DASHBOARD,
            P.VIEW_SERVICES,
            P.VIEW_ALL_TENANTS,
            P.VIEW_ALL_GRANTS,
            P.VIEW_AUDIT_ALL,
            P.VIEW_LOCKOUTS,
            P.VIEW_CHECKPOINTS,
            P.VERIFY_LEDGER,
            P.VIEW_ALERTS_ALL,
            P.VIEW_POSTURE_ALL,
        }
    ),
    Role.TENANT_ADMIN: frozenset(
        {
            P.VIEW_DASHBOARD,
            P.VIEW_SERVICES,
            P.VIEW_OWN_TENANT,
            P.MANAGE_TENANT_SETTINGS,
            P.MANAGE_TENANT_USERS,
            P.APPROVE_GRANT_FOR_TENANT,
            P.VIEW_TRANSPARENCY,
            P.VIEW_AUDIT_TENANT,
            P.MANAGE_API_TOKENS,
            P.INGEST_EVENTS,
            P.VIEW_CHECKPOINTS,
            P.COSIGN_CHECKPOINTS,
            P.REQUEST_ANALYSIS,
            P.REQUEST_DISCLOSURE,
            P.VIEW_ALERTS_TENANT,
            P.VIEW_POSTURE_TENANT,
        }
    ),
    Role.TENANT_MEMBER: frozenset(
        {P.VIEW_DASHBOARD, P.VIEW_SERVICES, P.VIEW_OWN_TENANT, P.VIEW_TRANSPARENCY}
    ),
}


def allows(role: str, permission: Permission) -> bool:
    """Whether `role` has `permission` (unknown roles have none)."""
    try:
        return permission in PERMISSIONS[Role(role)]
    except ValueError:
        return False
