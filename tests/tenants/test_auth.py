"""Sign-in, lockout, MFA and sessions."""

from __future__ import annotations

import pyotp
import pytest

from mamori.core.errors import AuthenticationError, ForbiddenError, InputError
from mamori.tenants.permissions import Role
from mamori.tenants.service import accounts, auth
from tests.support import audit
from tests.support.identities import PASSWORD, Identities


def test_sign_in_and_session_limits(identities: Identities) -> None:
    identities.user("member@midori.example.jp", Role.TENANT_MEMBER, "midori-city-boe")
    with identities.work() as services:
        signed = auth.sign_in(services, "Member@Midori.example.jp ", PASSWORD, "192.0.2.1")
    assert not signed.needs_mfa and not signed.must_enrol_mfa
    with identities.work() as services:
        resolved = auth.resolve_session(services, signed.session_id)
        assert resolved is not None and resolved[0].mfa_passed
    identities.clock.advance(minutes=29)
    with identities.work() as services:
        assert auth.resolve_session(services, signed.session_id) is not None
    identities.clock.advance(minutes=31)  # idle for 31 minutes
    with identities.work() as services:
        assert auth.resolve_session(services, signed.session_id) is None
    with identities.work() as services:
        assert auth.resolve_session(services, "forged") is None


def test_absolute_timeout(identities: Identities) -> None:
    identities.user("a@midori.example.jp", Role.TENANT_ADMIN, "midori-city-boe")
    with identities.work() as services:
        signed = auth.sign_in(services, "a@midori.example.jp", PASSWORD, "")
    for _ in range(12 * 4):  # active every 15 minutes for 12 hours
        identities.clock.advance(minutes=15)
        with identities.work() as services:
            alive = auth.resolve_session(services, signed.session_id)
        if alive is None:
            break
    assert alive is None
    assert identities.clock.now.hour == 13  # ended at the 12-hour mark, not before


def test_twenty_wrong_passwords_lock_the_account(identities: Identities) -> None:
    identities.user("victim@sakura.example.jp", Role.TENANT_MEMBER, "sakura-town-boe")
    for _ in range(19):
        with pytest.raises(AuthenticationError), identities.work() as services:
            auth.sign_in(services, "victim@sakura.example.jp", "wrong password!!", "198.51.100.7")
    assert identities.load("victim@sakura.example.jp").failed_logins == 19
    with pytest.raises(AuthenticationError, match="locked"), identities.work() as services:
        auth.sign_in(services, "victim@sakura.example.jp", "wrong password!!", "198.51.100.7")
    # Even the right password is refused while locked.
    with pytest.raises(AuthenticationError, match="locked"), identities.work() as services:
        auth.sign_in(services, "victim@sakura.example.jp", PASSWORD, "198.51.100.7")
    with identities.work() as services:
        locked = services.repository.locked_users(identities.clock.now)
        assert [u.email for u in locked] == ["victim@sakura.example.jp"]
    events = audit.entries(identities.database, identities.settings, action_prefix="auth.lockout")
    assert len(events) == 1 and events[0].address == "198.51.100.7"
    identities.clock.advance(minutes=16)
    with identities.work() as services:
        assert (
            auth.sign_in(services, "victim@sakura.example.jp", PASSWORD, "").user.failed_logins == 0
        )


def test_unknown_user_and_wrong_password_look_the_same(identities: Identities) -> None:
    identities.user("known@aoba.example.jp", Role.TENANT_MEMBER, "aoba-city-boe")
    messages = []
    for email in ("known@aoba.example.jp", "nobody@aoba.example.jp"):
        with pytest.raises(AuthenticationError) as caught, identities.work() as services:
            auth.sign_in(services, email, "not the password", "")
        messages.append(caught.value.render("en"))
    assert messages[0] == messages[1]


def test_staff_must_enrol_totp_and_codes_work_once(identities: Identities) -> None:
    identities.user("officer@provider.example.jp", Role.SECURITY_OFFICER)
    with identities.work() as services:
        signed = auth.sign_in(services, "officer@provider.example.jp", PASSWORD, "")
        assert signed.must_enrol_mfa
        row, user = auth.resolve_session(services, signed.session_id) or (None, None)
        assert row is not None and user is not None and not row.mfa_passed
        uri = accounts.begin_totp(services, user)
        secret = accounts.totp_secret(services, user)
    assert "otpauth://totp/" in uri
    assert secret not in identities.load("officer@provider.example.jp").totp_secret  # type: ignore[operator]
    code = pyotp.TOTP(secret).at(identities.clock.now)
    with identities.work() as services:
        user = services.repository.user_by_email("officer@provider.example.jp")
        assert user is not None
        with pytest.raises(InputError):
            accounts.confirm_totp(services, user, "000000" if code != "000000" else "111111")
    with identities.work() as services:
        user = services.repository.user_by_email("officer@provider.example.jp")
        assert user is not None
        accounts.confirm_totp(services, user, code)
    identities.clock.advance(minutes=1)
    with identities.work() as services:
        signed = auth.sign_in(services, "officer@provider.example.jp", PASSWORD, "")
        assert signed.needs_mfa
        row, user = auth.resolve_session(services, signed.session_id) or (None, None)
        assert row is not None and user is not None
        fresh = pyotp.TOTP(secret).at(identities.clock.now)
        auth.complete_mfa(services, row, user, fresh, "")
        assert row.mfa_passed
    with pytest.raises(AuthenticationError), identities.work() as services:
        row, user = auth.resolve_session(services, signed.session_id) or (None, None)
        assert row is not None and user is not None
        auth.complete_mfa(services, row, user, fresh, "")  # the same code again is refused


def test_invitation_mail_and_acceptance(identities: Identities) -> None:
    admin = identities.user("admin@midori.example.jp", Role.TENANT_ADMIN, "midori-city-boe")
    with identities.work() as services:
        link = accounts.invite(
            services,
            admin,
            email="new@midori.example.jp",
            display_name="新しい利用者",
            role=Role.TENANT_MEMBER,
            tenant_id="midori-city-boe",
            language="ja",
            organisation="みどり市教育委員会",
        )
    [mail] = identities.outbox.take()
    assert mail.to == (("新しい利用者", "new@midori.example.jp"),)
    assert link.url in mail.text and link.url.startswith("https://portal.example.jp/invitation/")
    with pytest.raises(InputError), identities.work() as services:
        accounts.accept_invitation(services, link.token, "short")
    with identities.work() as services:
        accounts.accept_invitation(services, link.token, "a long enough password")
    with pytest.raises(AuthenticationError), identities.work() as services:
        accounts.accept_invitation(services, link.token, "another long password")
    with identities.work() as services:
        assert auth.sign_in(services, "new@midori.example.jp", "a long enough password", "")


def test_customers_cannot_invite_into_other_tenants_or_staff(identities: Identities) -> None:
    admin = identities.user("admin@midori.example.jp", Role.TENANT_ADMIN, "midori-city-boe")
    with pytest.raises(ForbiddenError), identities.work() as services:
        accounts.invite(
            services,
            admin,
            email="x@y.jp",
            display_name="x",
            role=Role.TENANT_MEMBER,
            tenant_id="sakura-town-boe",
        )
    with pytest.raises(ForbiddenError), identities.work() as services:
        accounts.invite(
            services,
            admin,
            email="x@y.jp",
            display_name="x",
            role=Role.ADMINISTRATOR,
            tenant_id=None,
        )
    assert identities.outbox.sent == []


def test_password_reset_expires_and_unlocks(identities: Identities) -> None:
    identities.user("forgetful@aoba.example.jp", Role.TENANT_MEMBER, "aoba-city-boe")
    with identities.work() as services:
        assert accounts.request_password_reset(services, "nobody@aoba.example.jp", "") is None
        link = accounts.request_password_reset(services, "forgetful@aoba.example.jp", "203.0.113.9")
    assert link is not None
    [mail] = identities.outbox.take()
    assert "203.0.113.9" in mail.text
    identities.clock.advance(minutes=31)
    with pytest.raises(AuthenticationError), identities.work() as services:
        accounts.reset_password(services, link.token, "a brand new password")
    with identities.work() as services:
        again = accounts.request_password_reset(services, "forgetful@aoba.example.jp", "")
    assert again is not None
    with identities.work() as services:
        accounts.reset_password(services, again.token, "a brand new password")
        assert auth.sign_in(services, "forgetful@aoba.example.jp", "a brand new password", "")
