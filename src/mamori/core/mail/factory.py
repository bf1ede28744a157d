"""The notifier the settings ask for: SMTP when a host is set, memory otherwise."""

from __future__ import annotations

import logging

from mamori.core.mail.base import Notifier
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.mail.smtp import SmtpNotifier
from mamori.core.settings import Settings

log = logging.getLogger(__name__)


def notifier_from_settings(settings: Settings) -> Notifier:
    """An SmtpNotifier for `MAMORI_SMTP_HOST`, else an in-memory outbox (demo only)."""
    if not settings.smtp_host:
        log.warning("MAMORI_SMTP_HOST is empty: mail is kept in memory, not sent")
        return MemoryNotifier()
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpNotifier(
        settings.smtp_host,
        settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username or None,
        password=password,
        sender=settings.mail_from,
        sender_name="mamori",
    )
