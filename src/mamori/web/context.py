"""What the web app holds for its lifetime: settings, database, registry, keys, mail, clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from mamori.commitments.registry import CheckRegistry
from mamori.core.audit import AuditTrail
from mamori.core.clock import utcnow
from mamori.core.crypto import SecretBox, derive_key, load_secret_key
from mamori.core.db import READ_ONLY, Database
from mamori.core.mail.base import Notifier
from mamori.core.ratelimit import SlidingWindowLimiter
from mamori.core.settings import Settings
from mamori.ledger.audit import LedgerAuditTrail
from mamori.ledger.ingest import CachedAttribution, IngestService, attribution_from_database
from mamori.ledger.service import LedgerService
from mamori.tenants.service.context import TOTP_KEY_PURPOSE, Services
from mamori.tenants.service.recent_tokens import RecentTokens

LOGIN_WINDOW_SECONDS = 300


@dataclass
class WebContext:
    """Long-lived dependencies of the web app."""

    settings: Settings
    database: Database
    registry: CheckRegistry
    notifier: Notifier
    clock: Callable[[], datetime] = utcnow
    _master: bytes = b""

    def __post_init__(self) -> None:
        self._master = load_secret_key(self.settings)
        self.box = SecretBox(derive_key(self._master, TOTP_KEY_PURPOSE))
        self._cookie_key = derive_key(self._master, "mamori session cookie").hex()
        self._cookies = URLSafeSerializer(self._cookie_key, salt="session")
        self.login_limiter = SlidingWindowLimiter(
            self.settings.login_rate_per_address, LOGIN_WINDOW_SECONDS
        )
        # mamori's own audit trail is kept in the ledger, on this app's clock.
        self.audit_trail: AuditTrail = LedgerAuditTrail(self.ledger.writer, self.clock)

    @cached_property
    def ledger(self) -> LedgerService:
        """The ledger, signing with the key derived from mamori's secret key."""
        return LedgerService(self.database, self.settings, clock=self.clock)

    @cached_property
    def ingest(self) -> IngestService:
        """Ingest for log shippers, with this process's limits."""
        return IngestService(
            self.ledger,
            self.settings,
            CachedAttribution(lambda: attribution_from_database(self.database, self.settings)),
        )

    @cached_property
    def recent_tokens(self) -> RecentTokens:
        """Ingest tokens this process identified in the last few seconds."""
        return RecentTokens(self.settings.ingest_token_cache_seconds, self.clock)

    @contextmanager
    def services(self, *, read_only: bool = False) -> Iterator[Services]:
        """Identity services in one transaction, committed when the block succeeds.

        `read_only` begins it without SQLite's write lock, so it does not wait for a
        writer (the block must then write nothing).
        """
        with self.database.session() as session:
            if read_only:
                session.connection(execution_options=READ_ONLY)
            yield Services(
                session=session,
                settings=self.settings,
                clock=self.clock,
                audit_trail=self.audit_trail,
                notifier=self.notifier,
                box=self.box,
            )

    def sign_cookie(self, session_id: str) -> str:
        """The cookie value carrying a session id."""
        return str(self._cookies.dumps(session_id))

    def sign_value(self, purpose: str, value: object) -> str:
        """A signed, timestamped cookie value for a short-lived purpose (e.g. SSO state)."""
        return str(URLSafeTimedSerializer(self._cookie_key, salt=purpose).dumps(value))

    def read_value(self, purpose: str, signed: str, max_age: int) -> object | None:
        """What `sign_value` stored, if the signature holds and it is younger than max_age."""
        try:
            return URLSafeTimedSerializer(self._cookie_key, salt=purpose).loads(
                signed, max_age=max_age
            )
        except BadSignature:
            return None

    def read_cookie(self, value: str) -> str | None:
        """The session id in a cookie, or None when the signature does not hold."""
        try:
            loaded = self._cookies.loads(value)
        except BadSignature:
            return None
        return loaded if isinstance(loaded, str) else None
