"""API tokens for machine clients: shown once, stored hashed, scoped, expiring, revocable."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from mamori.core.audit import AuditRecord
from mamori.core.clock import as_utc
from mamori.core.crypto import new_token, same, token_hash
from mamori.core.errors import ForbiddenError, InputError, NotFoundError
from mamori.core.i18n import N_
from mamori.core.scope import Principal, TenantScope
from mamori.tenants.models import ApiToken
from mamori.tenants.permissions import Permission
from mamori.tenants.service.auth import principal_for
from mamori.tenants.service.context import Services

PREFIX = "mmr"
SCOPES: dict[str, str] = {
    "commitments:read": N_("Read commitments and their status"),
    "tenants:read": N_("Read tenants and their subscriptions"),
    "users:read": N_("Read users"),
    "grants:read": N_("Read access grants"),
    "audit:read": N_("Read the audit trail"),
    "ingest:logs": N_("Send events to the ledger (log shippers)"),
    "ledger:read": N_("Read checkpoints, proofs, analyses and alerts; cosign checkpoints"),
    "posture:read": N_("Read cloud posture findings"),
}


@dataclass(frozen=True)
class NewToken:
    """A token just created: `secret` is shown to its owner this once."""

    secret: str
    row: ApiToken


def _owner_scope(principal: Principal) -> TenantScope:
    return (
        TenantScope.everything()
        if principal.is_staff
        else TenantScope.only(principal.tenant_id or "")
    )


def create_token(
    services: Services, principal: Principal, *, name: str, scopes: Iterable[str], days: int
) -> NewToken:
    """A token acting as `principal`, limited to `scopes` and `days`."""
    if not principal.can(Permission.MANAGE_API_TOKENS):
        raise ForbiddenError(N_("you may not create API tokens"))
    wanted = sorted(set(scopes))
    unknown = [s for s in wanted if s not in SCOPES]
    if not wanted or unknown:
        raise InputError(
            N_("choose scopes among: %(scopes)s"),
            field="scopes",
            params={"scopes": ", ".join(SCOPES)},
        )
    if not 1 <= days <= services.settings.api_token_max_days:
        raise InputError(
            N_("a token lives between 1 and %(max)s days"),
            field="days",
            params={"max": services.settings.api_token_max_days},
        )
    if not name.strip():
        raise InputError(N_("give the token a name"), field="name")
    token_id, secret = uuid.uuid4().hex, new_token()
    row = ApiToken(
        id=token_id,
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        name=name.strip()[:100],
        secret_hash=token_hash(secret),
        scopes=wanted,
        created_at=services.now(),
        expires_at=services.now() + timedelta(days=days),
    )
    services.repository.add(row)
    services.audit(
        AuditRecord.by(
            principal, "token.create", "api_token", token_id, principal.tenant_id, scopes=wanted
        )
    )
    return NewToken(f"{PREFIX}_{token_id}_{secret}", row)


LAST_USE_RESOLUTION = timedelta(minutes=1)
"""How old a token's recorded last use may grow before it is written again. A shipper's
token is used many times a second; writing each use would take the database's write
lock once per request."""


def authenticate(services: Services, raw: str, address: str) -> Principal | None:
    """The principal behind a bearer token, or None when it is not a live token.

    Its last use is recorded in the caller's transaction, to `LAST_USE_RESOLUTION`.
    """
    found = identify(services, raw, address)
    if found is None:
        return None
    principal, row = found
    if last_use_is_stale(row, services.now()):
        row.last_used_at = services.now()
    return principal


def identify(services: Services, raw: str, address: str) -> tuple[Principal, ApiToken] | None:
    """The principal behind a bearer token and its row, writing nothing; None when it is
    not a live token."""
    prefix, _, rest = raw.strip().partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not token_id or not secret:
        return None
    row = services.repository.api_token(token_id)
    if row is None or row.revoked_at is not None or as_utc(row.expires_at) <= services.now():
        return None
    if not same(row.secret_hash, token_hash(secret)):
        return None
    user = services.repository.user_by_id_unscoped(row.user_id)
    if user is None or user.disabled:
        return None
    principal = principal_for(user, address=address, token_scopes=frozenset(row.scopes))
    principal.extra["token_id"] = row.id  # rate limits count per token
    return principal, row


def last_use_is_stale(row: ApiToken, now: datetime) -> bool:
    """Whether `row`'s recorded last use is older than `LAST_USE_RESOLUTION` (or missing)."""
    return row.last_used_at is None or now - as_utc(row.last_used_at) >= LAST_USE_RESOLUTION


def record_use(services: Services, token_id: str) -> None:
    """Record that the token was used now (for callers that identified it read-only)."""
    row = services.repository.api_token(token_id)
    if row is not None:
        row.last_used_at = services.now()


def list_tokens(services: Services, principal: Principal) -> Sequence[ApiToken]:
    """Staff see their own tokens; tenant administrators every token of their tenant."""
    if principal.is_staff:
        return services.repository.api_tokens(TenantScope.everything(), principal.user_id)
    mine = None if principal.can(Permission.MANAGE_TENANT_USERS) else principal.user_id
    return services.repository.api_tokens(TenantScope.only(principal.tenant_id or ""), mine)


def revoke_token(services: Services, principal: Principal, token_id: str) -> ApiToken:
    """Revoke a token the principal may see; others are 'not found'."""
    visible = {t.id: t for t in list_tokens(services, principal)}
    row = visible.get(token_id)
    if row is None:
        raise NotFoundError(N_("no such API token"))
    if row.revoked_at is None:
        row.revoked_at = services.now()
        services.audit(
            AuditRecord.by(principal, "token.revoke", "api_token", row.id, row.tenant_id)
        )
    return row
