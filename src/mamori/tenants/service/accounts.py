"""Users: creation, invitations, password resets, MFA enrolment, unlocking."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pyotp

from mamori.core.audit import AuditRecord
from mamori.core.clock import as_utc, format_local
from mamori.core.crypto import new_token, same, token_hash
from mamori.core.errors import AuthenticationError, ConflictError, ForbiddenError, InputError
from mamori.core.i18n import N_, Lang, is_language
from mamori.core.mail.templates import render_mail
from mamori.core.passwords import check_policy, hash_password
from mamori.core.scope import Principal, TenantScope
from mamori.tenants.models import EmailToken, User
from mamori.tenants.permissions import CUSTOMER_ROLES, STAFF_ROLES, Permission, Role
from mamori.tenants.service.context import Services

INVITE, RESET = "invite", "reset"
TOTP_ISSUER = "mamori"


@dataclass(frozen=True)
class IssuedLink:
    """A single-use link that was mailed (the secret is never stored)."""

    token: str
    url: str


def user_action(action: str, user: User, address: str = "", **details: object) -> AuditRecord:
    """An audit record of something users did to their own account."""
    return AuditRecord(
        action=action,
        target_type="user",
        target_id=user.id,
        tenant_id=user.tenant_id,
        actor_id=user.id,
        actor_label=user.email,
        address=address,
        details=details,
    )


def normalise_email(email: str) -> str:
    """Trimmed and lower-cased; refuses what is obviously not an address."""
    value = email.strip().lower()
    if "@" not in value or len(value) > 254 or any(c.isspace() for c in value):
        raise InputError(N_("not an e-mail address"), field="email")
    return value


def create_user(
    services: Services,
    *,
    email: str,
    display_name: str,
    role: Role,
    tenant_id: str | None,
    password: str | None = None,
    language: Lang | None = None,
) -> User:
    """A new user; staff roles have no tenant, customer roles exactly one."""
    address = normalise_email(email)
    if (role in STAFF_ROLES) != (tenant_id is None):
        raise InputError(N_("this role does not fit this kind of account"), field="role")
    if services.repository.user_by_email(address) is not None:
        raise ConflictError(N_("a user with this e-mail address exists"))
    if password is not None:
        check_policy(password, email=address)
    user = User(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        email=address,
        display_name=display_name.strip()[:200] or address,
        role=role.value,
        language=language,
        password_hash=hash_password(password) if password else None,
        totp_enabled=False,
        totp_last_step=0,
        failed_logins=0,
        disabled=False,
        created_at=services.now(),
    )
    services.repository.add(user)
    return user


def _issue(
    services: Services, user: User, purpose: str, lifetime: timedelta, by: str | None
) -> IssuedLink:
    token_id, secret = uuid.uuid4().hex, new_token()
    services.repository.add(
        EmailToken(
            id=token_id,
            purpose=purpose,
            user_id=user.id,
            tenant_id=user.tenant_id,
            secret_hash=token_hash(secret),
            created_by=by,
            created_at=services.now(),
            expires_at=services.now() + lifetime,
        )
    )
    token = f"{token_id}.{secret}"
    path = "invitation" if purpose == INVITE else "reset"
    return IssuedLink(token, f"{services.settings.public_url.rstrip('/')}/{path}/{token}")


def _mail(services: Services, user: User, template: str, **context: str) -> None:
    lang: Lang = user.language if is_language(user.language) else services.settings.default_language
    services.notifier.send(
        render_mail(template, lang, **context).message(((user.display_name, user.email),))
    )


def invite(
    services: Services,
    principal: Principal,
    *,
    email: str,
    display_name: str,
    role: Role,
    tenant_id: str | None,
    language: Lang | None = None,
    organisation: str = "",
) -> IssuedLink:
    """Create an account without a password and mail its owner a sign-up link."""
    if role in STAFF_ROLES:
        if not principal.can(Permission.MANAGE_STAFF):
            raise ForbiddenError(N_("you may not invite provider staff"))
        tenant_id = None
    else:
        if role not in CUSTOMER_ROLES or tenant_id is None:
            raise InputError(N_("this role does not fit this kind of account"), field="role")
        own = principal.tenant_id == tenant_id and principal.can(Permission.MANAGE_TENANT_USERS)
        if not own:
            raise ForbiddenError(N_("you may not invite users to this tenant"))
    user = create_user(
        services,
        email=email,
        display_name=display_name,
        role=role,
        tenant_id=tenant_id,
        language=language,
    )
    lifetime = timedelta(hours=services.settings.invitation_hours)
    link = _issue(services, user, INVITE, lifetime, principal.user_id)
    expires = format_local(
        services.now() + lifetime, services.settings.timezone, user.language or "ja"
    )
    _mail(
        services,
        user,
        "invitation",
        inviter_name=principal.display_name,
        organisation_name=organisation or TOTP_ISSUER,
        accept_url=link.url,
        expires_at=expires,
    )
    services.audit(
        AuditRecord.by(
            principal, "user.invite", "user", user.id, tenant_id, email=user.email, role=role.value
        )
    )
    return link


def _redeem(services: Services, token: str, purpose: str) -> tuple[EmailToken, User]:
    token_id, _, secret = token.partition(".")
    row = services.repository.email_token(token_id)
    if (
        row is None
        or row.purpose != purpose
        or row.used_at is not None
        or as_utc(row.expires_at) <= services.now()
        or not same(row.secret_hash, token_hash(secret))
    ):
        raise AuthenticationError(N_("this link is invalid or has expired"))
    user = services.repository.user_by_id_unscoped(row.user_id)
    if user is None or user.disabled:
        raise AuthenticationError(N_("this link is invalid or has expired"))
    return row, user


def check_link(services: Services, token: str, purpose: str) -> User:
    """The user a still-valid link belongs to (for showing the form)."""
    return _redeem(services, token, purpose)[1]


def accept_invitation(
    services: Services, token: str, password: str, display_name: str = ""
) -> User:
    """Set the invited user's password; the link works once."""
    row, user = _redeem(services, token, INVITE)
    check_policy(password, email=user.email)
    user.password_hash = hash_password(password)
    if display_name.strip():
        user.display_name = display_name.strip()[:200]
    row.used_at = services.now()
    services.audit(user_action("user.accept_invitation", user))
    return user


def request_password_reset(services: Services, email: str, address: str) -> IssuedLink | None:
    """Mail a reset link if the account exists; the caller answers the same either way."""
    try:
        user = services.repository.user_by_email(normalise_email(email))
    except InputError:
        return None
    if user is None or user.disabled:
        return None
    lifetime = timedelta(minutes=services.settings.password_reset_minutes)
    link = _issue(services, user, RESET, lifetime, None)
    expires = format_local(
        services.now() + lifetime, services.settings.timezone, user.language or "ja"
    )
    _mail(
        services,
        user,
        "password_reset",
        user_name=user.display_name,
        reset_url=link.url,
        expires_at=expires,
        request_ip=address or "-",
    )
    return link


def reset_password(services: Services, token: str, password: str) -> User:
    """Set a new password from a reset link; also lifts a lockout."""
    row, user = _redeem(services, token, RESET)
    check_policy(password, email=user.email)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    row.used_at = services.now()
    services.audit(user_action("user.reset_password", user))
    return user


def begin_totp(services: Services, user: User) -> str:
    """Store a new (not yet enabled) TOTP secret and return its otpauth:// URI."""
    if user.totp_enabled:
        raise ConflictError(N_("multi-factor authentication is already set up"))
    secret = pyotp.random_base32()
    user.totp_secret = services.box.seal(secret, user.id)
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def totp_secret(services: Services, user: User) -> str:
    """The user's TOTP secret in clear (for showing during enrolment)."""
    if not user.totp_secret:
        raise ConflictError(N_("multi-factor authentication has not been started"))
    return services.box.open(user.totp_secret, user.id)


def verify_totp(services: Services, user: User, code: str) -> bool:
    """Whether `code` is the current (±1 step) code, each step accepted only once."""
    if not user.totp_secret or not (code.strip().isascii() and code.strip().isdigit()):
        return False
    totp = pyotp.TOTP(totp_secret(services, user))
    now = services.now()
    for drift in (0, -1, 1):
        moment = now + timedelta(seconds=30 * drift)
        step = int(moment.timestamp()) // 30
        if step > user.totp_last_step and same(totp.at(moment), code.strip()):
            user.totp_last_step = step  # a replayed code is refused
            return True
    return False


def confirm_totp(services: Services, user: User, code: str) -> None:
    """Enable MFA once the user proves their authenticator shows the right code."""
    if not verify_totp(services, user, code):
        raise InputError(N_("the code is not correct; check the time on your device"), field="code")
    user.totp_enabled = True
    services.audit(user_action("user.enable_mfa", user))


def unlock(services: Services, principal: Principal, user_id: str) -> User:
    """Lift a lockout early (security officers)."""
    if not principal.can(Permission.VIEW_LOCKOUTS) or not principal.can(Permission.APPROVE_GRANT):
        raise ForbiddenError(N_("you may not unlock accounts"))
    user = services.repository.user(user_id, TenantScope.everything())
    if user is None:
        raise InputError(N_("no such user"), field="user")
    user.failed_logins = 0
    user.locked_until = None
    services.audit(AuditRecord.by(principal, "user.unlock", "user", user.id, user.tenant_id))
    return user


def set_language(services: Services, user_id: str, language: Lang) -> None:
    """The user's preferred language for pages and mail."""
    user = services.repository.user_by_id_unscoped(user_id)
    if user is None:
        raise InputError(N_("no such user"), field="user")
    user.language = language
