"""The notifier interface: a plain mail message, the abstract `Notifier` and `MailError`."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

from mamori.core.errors import MamoriError
from mamori.core.i18n import N_

Address = tuple[str, str]
"""A recipient or sender as (display name, address); the display name may be empty."""

AUTO_GENERATED: tuple[tuple[str, str], ...] = (("Auto-Submitted", "auto-generated"),)
"""RFC 3834 marker that asks auto-responders not to answer; every mamori mail is automatic."""

# Headers the notifier writes itself; letting callers set them would allow spoofing
# the sender or breaking the MIME structure.
RESERVED_HEADERS = frozenset(
    {
        "bcc",
        "cc",
        "content-transfer-encoding",
        "content-type",
        "date",
        "from",
        "message-id",
        "mime-version",
        "reply-to",
        "return-path",
        "sender",
        "subject",
        "to",
    }
)
HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
# SMTPUTF8 is off, so addresses stay ASCII: local@domain without spaces or brackets.
ADDRESS = re.compile(r"[!#-'*+\-./0-9=?A-Z^-~]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
MESSAGE_ID = re.compile(r"<[!#-'*+\-./0-9=?A-Z^-~]+@[A-Za-z0-9.\-\[\]:]+>")


class MailError(MamoriError):
    """A mail could not be built or was not accepted by the mail server."""


@dataclass(frozen=True)
class MailMessage:
    """One mail to send: recipients, subject, a text body and an optional HTML alternative.

    `headers` are extra header (name, value) pairs; they default to the RFC 3834
    `Auto-Submitted: auto-generated` marker. `message_id` pins the Message-ID (for
    example to keep it across retries); empty means the notifier makes one.
    """

    to: tuple[Address, ...]
    subject: str
    text: str
    html: str | None = None
    reply_to: Address | None = None
    headers: tuple[tuple[str, str], ...] = AUTO_GENERATED
    message_id: str | None = None

    def __post_init__(self) -> None:
        if not self.to:
            raise MailError(N_("a mail needs at least one recipient"))
        for recipient in self.to:
            check_address(recipient)
        if self.reply_to is not None:
            check_address(self.reply_to)
        if not is_single_line(self.subject):
            raise MailError(N_("the mail subject must be a single line"))
        if not self.subject.strip():
            raise MailError(N_("a mail needs a subject"))
        for name, value in self.headers:
            check_header(name, value)
        if self.message_id is not None and not MESSAGE_ID.fullmatch(self.message_id):
            raise MailError(
                N_("%(value)s is not a Message-ID like <id@example.com>"),
                params={"value": self.message_id},
            )

    @property
    def recipients(self) -> list[str]:
        """The bare addresses the message goes to (the SMTP envelope)."""
        return [address for _name, address in self.to]


def check_address(mailbox: Address) -> None:
    """Raise MailError unless `mailbox` is a one-line display name and an ASCII address."""
    name, address = mailbox
    if not is_single_line(name):
        raise MailError(
            N_("the display name of %(address)s must be a single line"),
            params={"address": address},
        )
    if not ADDRESS.fullmatch(address):
        raise MailError(
            N_("%(address)s is not a mail address like user@example.com"),
            params={"address": address},
        )


def check_header(name: str, value: str) -> None:
    """Raise MailError unless `name: value` is an extra header the caller may set."""
    if not HEADER_NAME.fullmatch(name) or name.lower() in RESERVED_HEADERS:
        raise MailError(N_("the mail header %(name)s cannot be set here"), params={"name": name})
    if not is_single_line(value):
        raise MailError(N_("the mail header %(name)s must be a single line"), params={"name": name})


def is_single_line(value: str) -> bool:
    """Whether `value` has no line break of any kind (a header injection guard)."""
    return "\0" not in value and value.splitlines() in ([], [value])


class Notifier(ABC):
    """Delivers mail; one implementation per transport (SMTP, in-memory)."""

    @abstractmethod
    def send(self, message: MailMessage) -> None:
        """Deliver `message` or raise MailError; returns once the transport accepted it."""
