"""Outgoing mail: one `Notifier` interface with SMTP and in-memory implementations.

`render_mail()` turns a template (invitation, password reset, later monitoring and
advisories) into a subject and bodies in ja or en; `RenderedMail.message()` wraps them
in a `MailMessage` that any notifier sends. Imports only mamori.core.
"""

from mamori.core.mail.base import AUTO_GENERATED, Address, MailError, MailMessage, Notifier
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.mail.smtp import Security, SmtpNotifier, compose
from mamori.core.mail.templates import RenderedMail, render_mail

__all__ = [
    "AUTO_GENERATED",
    "Address",
    "MailError",
    "MailMessage",
    "MemoryNotifier",
    "Notifier",
    "RenderedMail",
    "Security",
    "SmtpNotifier",
    "compose",
    "render_mail",
]
