"""Rules of the tenants domain, one module per concern.

- catalog: provider profile, services, tenants
- accounts: users, invitations, password resets, MFA enrolment
- auth: sign-in, lockout, sessions
- tokens: API tokens
- grants: staff access grants and the customer's transparency view
- audit: the database audit trail
- scopes: which tenants a principal's queries may touch
"""

from mamori.tenants.service.catalog import TenantsError, TenantsService

__all__ = ["TenantsError", "TenantsService"]
