"""Password hashing with argon2id, and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from mamori.core.errors import InputError
from mamori.core.i18n import N_

MIN_LENGTH = 12
# argon2 hashes whatever it is given; a cap keeps a huge "password" from costing CPU.
MAX_LENGTH = 256

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# Verifying against this when the account does not exist keeps timing the same.
_DUMMY_HASH = _hasher.hash("mamori-dummy-password-for-timing")


def check_policy(password: str, *, email: str = "") -> None:
    """Raise InputError (field `password`) unless `password` is acceptable."""
    if len(password) < MIN_LENGTH:
        raise InputError(
            N_("the password must have at least %(min)s characters"),
            field="password",
            params={"min": MIN_LENGTH},
        )
    if len(password) > MAX_LENGTH:
        raise InputError(
            N_("the password must have at most %(max)s characters"),
            field="password",
            params={"max": MAX_LENGTH},
        )
    if email and password.lower() == email.lower():
        raise InputError(N_("the password must differ from the e-mail address"), field="password")


def hash_password(password: str) -> str:
    """The argon2id hash to store."""
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored` (always spends the same effort)."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Whether `stored` uses older parameters and should be replaced after sign-in."""
    return _hasher.check_needs_rehash(stored)
