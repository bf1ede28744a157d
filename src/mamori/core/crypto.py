"""Keys, secret tokens and authenticated encryption of small secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mamori.core.errors import ConfigurationError
from mamori.core.i18n import N_
from mamori.core.settings import Settings

KEY_FILE = "secret.key"


def load_secret_key(settings: Settings) -> bytes:
    """The configured secret key, or one kept in the data directory (created once)."""
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value().encode()
        if len(value) < 32:
            raise ConfigurationError(N_("MAMORI_SECRET_KEY must be at least 32 characters"))
        return value
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    key = path.read_bytes().strip()
    if len(key) < 32:
        raise ConfigurationError(
            N_("the key file %(path)s is damaged; delete it to create a new one"),
            params={"path": str(path)},
        )
    return key


def _create_key_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        descriptor = os.open(path, flags, 0o600)
    except FileExistsError:
        return  # another process created it first
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)))


def derive_key(master: bytes, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so no two uses share key material."""
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose.encode()).derive(master)


def new_token(nbytes: int = 32) -> str:
    """A random URL-safe secret."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """The stored form of a high-entropy token (SHA-256 hex; no salt needed at 256 bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a.encode(), b.encode())


class SecretBox:
    """AES-256-GCM for small secrets at rest (e.g. TOTP seeds)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: str, context: str) -> str:
        """Encrypt `plaintext`, bound to `context` (e.g. the user id)."""
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, context: str) -> str:
        """Decrypt what `seal` produced for the same context."""
        raw = base64.urlsafe_b64decode(sealed.encode())
        try:
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise ConfigurationError(
                N_("a stored secret cannot be decrypted; was the secret key changed?")
            ) from exc
