"""Every query on users, sessions, tokens, grants and the audit trail.

Queries that can reach more than one tenant take a `TenantScope` and apply it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori.core.scope import TenantScope
from mamori.tenants.models import (
    AccessGrant,
    ApiToken,
    EmailToken,
    GrantAccess,
    Tenant,
    User,
    UserSession,
)


class IdentityRepository:
    """Reads and writes of identity tables."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: object) -> None:
        """Stage a new row and send it."""
        self.session.add(row)
        self.session.flush()

    # users

    def user(self, user_id: str, scope: TenantScope) -> User | None:
        """A user visible in `scope` (staff users are visible only to an unrestricted scope)."""
        statement = scope.apply(select(User).where(User.id == user_id), User.tenant_id)
        return self.session.scalars(statement).first()

    def user_by_email(self, email: str) -> User | None:
        """The user with `email` (sign-in only: no scope, the password decides)."""
        return self.session.scalars(select(User).where(User.email == email.lower())).first()

    def user_by_id_unscoped(self, user_id: str) -> User | None:
        """A user by id for authentication paths (session and token resolution)."""
        return self.session.get(User, user_id)

    def users(self, scope: TenantScope, *, staff: bool) -> Sequence[User]:
        """Staff users (staff=True) or customer users in `scope`."""
        statement = select(User).order_by(User.email)
        if staff:
            statement = statement.where(User.tenant_id.is_(None))
        else:
            statement = scope.apply(statement.where(User.tenant_id.is_not(None)), User.tenant_id)
        return self.session.scalars(statement).all()

    def locked_users(self, now: datetime) -> Sequence[User]:
        """Users whose lockout has not yet run out."""
        return self.session.scalars(
            select(User).where(User.locked_until.is_not(None), User.locked_until > now)
        ).all()

    def tenant(self, tenant_id: str, scope: TenantScope) -> Tenant | None:
        """A tenant visible in `scope`."""
        statement = scope.apply(select(Tenant).where(Tenant.id == tenant_id), Tenant.id)
        return self.session.scalars(statement).first()

    # sessions and tokens

    def user_session(self, id_hash: str) -> UserSession | None:
        """A browser session by the hash of its cookie id."""
        return self.session.get(UserSession, id_hash)

    def email_token(self, token_id: str) -> EmailToken | None:
        """An invitation or reset token by id."""
        return self.session.get(EmailToken, token_id)

    def api_token(self, token_id: str) -> ApiToken | None:
        """An API token by id (authentication path)."""
        return self.session.get(ApiToken, token_id)

    def api_tokens(self, scope: TenantScope, user_id: str | None) -> Sequence[ApiToken]:
        """Tokens in `scope`; staff tokens (no tenant) only for an unrestricted scope."""
        statement = scope.apply(select(ApiToken), ApiToken.tenant_id).order_by(
            ApiToken.created_at.desc()
        )
        if user_id is not None:
            statement = statement.where(ApiToken.user_id == user_id)
        return self.session.scalars(statement).all()

    # grants

    def grant(self, grant_id: str, scope: TenantScope) -> AccessGrant | None:
        """A grant whose tenant is in `scope`."""
        statement = scope.apply(
            select(AccessGrant).where(AccessGrant.id == grant_id), AccessGrant.tenant_id
        )
        return self.session.scalars(statement).first()

    def grants(self, scope: TenantScope, requester_id: str | None = None) -> Sequence[AccessGrant]:
        """Grants in `scope`, newest first, optionally only those one person requested."""
        statement = scope.apply(select(AccessGrant), AccessGrant.tenant_id).order_by(
            AccessGrant.requested_at.desc()
        )
        if requester_id is not None:
            statement = statement.where(AccessGrant.requester_id == requester_id)
        return self.session.scalars(statement).all()

    def active_grants(self, user_id: str, now: datetime) -> Sequence[AccessGrant]:
        """Grants of `user_id` approved and not yet expired or ended at `now`."""
        return self.session.scalars(
            select(AccessGrant).where(
                AccessGrant.requester_id == user_id,
                AccessGrant.status == "active",
                AccessGrant.starts_at <= now,
                AccessGrant.expires_at > now,
                AccessGrant.ended_at.is_(None),
            )
        ).all()

    def grant_accesses(self, scope: TenantScope) -> Sequence[GrantAccess]:
        """Reads made under grants, newest first."""
        statement = scope.apply(select(GrantAccess), GrantAccess.tenant_id).order_by(
            GrantAccess.at.desc()
        )
        return self.session.scalars(statement).all()

    # audit
