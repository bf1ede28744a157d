"""Sign-in with lockout, MFA completion, and browser sessions with idle and absolute limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from mamori.core.clock import as_utc
from mamori.core.crypto import new_token, token_hash
from mamori.core.errors import AuthenticationError, InputError
from mamori.core.i18n import N_
from mamori.core.passwords import hash_password, needs_rehash, verify_password
from mamori.core.scope import Principal
from mamori.tenants.models import User, UserSession
from mamori.tenants.permissions import PERMISSIONS, Role
from mamori.tenants.service.accounts import normalise_email, user_action, verify_totp
from mamori.tenants.service.context import Services

# Refreshing last_seen on every request would write on every page view.
LAST_SEEN_GRANULARITY = timedelta(seconds=60)


@dataclass(frozen=True)
class SignIn:
    """A new session; the raw id goes into the signed cookie and nowhere else."""

    session_id: str
    user: User
    needs_mfa: bool
    must_enrol_mfa: bool


def _is_locked(services: Services, user: User) -> bool:
    return user.locked_until is not None and as_utc(user.locked_until) > services.now()


def _count_failure(services: Services, user: User, address: str) -> None:
    """One more failure, locking at the limit; committed now so the caller's error keeps it."""
    user.failed_logins += 1
    if user.failed_logins >= services.settings.login_lockout_failures:
        minutes = services.settings.login_lockout_minutes
        user.locked_until = services.now() + timedelta(minutes=minutes)
        user.failed_logins = 0
        services.audit(user_action("auth.lockout", user, address, minutes=minutes))
    services.session.commit()


def _locked_error() -> AuthenticationError:
    return AuthenticationError(
        N_("this account is locked for a while after too many failed attempts")
    )


def sign_in(services: Services, email: str, password: str, address: str) -> SignIn:
    """Check the password and open a session (MFA may still be pending)."""
    try:
        user = services.repository.user_by_email(normalise_email(email))
    except InputError:
        user = None
    if user is not None and _is_locked(services, user):
        raise _locked_error()
    matches = verify_password(user.password_hash if user else None, password)
    if user is None or not matches or user.disabled:
        if user is not None:
            _count_failure(services, user, address)
            if _is_locked(services, user):
                raise _locked_error()
        raise AuthenticationError(N_("wrong e-mail address or password"))
    user.failed_logins = 0
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    staff = user.tenant_id is None
    signed = _open_session(services, user, address, mfa_passed=not (user.totp_enabled or staff))
    services.audit(user_action("auth.sign_in", user, address))
    return signed


def _open_session(services: Services, user: User, address: str, *, mfa_passed: bool) -> SignIn:
    session_id = new_token()
    now = services.now()
    services.repository.add(
        UserSession(
            id_hash=token_hash(session_id),
            user_id=user.id,
            tenant_id=user.tenant_id,
            csrf_token=new_token(24),
            mfa_passed=mfa_passed,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=services.settings.session_absolute_hours),
            address=address[:64],
        )
    )
    user.last_login_at = now
    pending = not mfa_passed
    return SignIn(
        session_id, user, pending and user.totp_enabled, pending and not user.totp_enabled
    )


def sign_in_sso(services: Services, email: str, used_mfa: bool, address: str) -> SignIn:
    """Open a session for a staff member the SSO issuer vouched for."""
    user = services.repository.user_by_email(email)
    if user is None or user.disabled or user.tenant_id is not None:
        raise AuthenticationError(N_("no staff account matches this single sign-on identity"))
    if _is_locked(services, user):
        raise _locked_error()
    signed = _open_session(services, user, address, mfa_passed=used_mfa)
    services.audit(user_action("auth.sign_in_sso", user, address, issuer_mfa=used_mfa))
    return signed


def resolve_session(services: Services, session_id: str) -> tuple[UserSession, User] | None:
    """The live session and its user, or None when it is unknown, ended or timed out."""
    row = services.repository.user_session(token_hash(session_id))
    if row is None or row.revoked_at is not None:
        return None
    now = services.now()
    idle = timedelta(minutes=services.settings.session_idle_minutes)
    if as_utc(row.expires_at) <= now or now - as_utc(row.last_seen_at) > idle:
        row.revoked_at = now
        return None
    user = services.repository.user_by_id_unscoped(row.user_id)
    if user is None or user.disabled or _is_locked(services, user):
        return None
    if now - as_utc(row.last_seen_at) > LAST_SEEN_GRANULARITY:
        row.last_seen_at = now
    return row, user


def complete_mfa(services: Services, row: UserSession, user: User, code: str, address: str) -> None:
    """Mark the session as past MFA when `code` is right; wrong codes count as failures."""
    if _is_locked(services, user):
        raise _locked_error()
    if not user.totp_enabled or not verify_totp(services, user, code):
        _count_failure(services, user, address)
        raise AuthenticationError(N_("the code is not correct"))
    user.failed_logins = 0
    row.mfa_passed = True


def sign_out(services: Services, row: UserSession) -> None:
    """End the session now."""
    row.revoked_at = services.now()


def principal_for(
    user: User,
    *,
    address: str,
    session_id_hash: str | None = None,
    token_scopes: frozenset[str] | None = None,
) -> Principal:
    """The principal a user acts as."""
    try:
        permissions = PERMISSIONS[Role(user.role)]
    except ValueError:
        permissions = frozenset()
    return Principal(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,
        tenant_id=user.tenant_id,
        permissions=frozenset(p.value for p in permissions),
        address=address,
        token_scopes=token_scopes,
        session_id_hash=session_id_hash,
        language=user.language,
    )
