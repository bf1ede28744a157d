"""Send mail through an SMTP server: implicit TLS, required STARTTLS or plain, with login.

Messages are 7-bit clean MIME (SMTPUTF8 is never used): Japanese subjects and display
names become RFC 2047 encoded-words and UTF-8 bodies travel as quoted-printable or
base64, so they survive any relay.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from email import policy
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal, NoReturn, get_args

from mamori.core.clock import utcnow
from mamori.core.errors import ConfigurationError
from mamori.core.i18n import N_
from mamori.core.mail.base import Address, MailError, MailMessage, Notifier, check_address

Security = Literal["starttls", "tls", "none"]
SECURITY_MODES: tuple[Security, ...] = get_args(Security)

# cte_type="7bit" makes the email package pick quoted-printable or base64 for non-ASCII
# bodies instead of raw 8-bit, which a relay without 8BITMIME would mangle.
MIME_POLICY = policy.SMTP.clone(cte_type="7bit")
STARTTLS_READY = 220


def compose(message: MailMessage, sender: Address, *, now: datetime | None = None) -> EmailMessage:
    """`message` as a MIME message from `sender`, with Date and Message-ID set."""
    mime = EmailMessage(policy=MIME_POLICY)
    mime["From"] = header_address(sender)
    mime["To"] = [header_address(recipient) for recipient in message.to]
    if message.reply_to is not None:
        mime["Reply-To"] = header_address(message.reply_to)
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(now or utcnow())
    # The sender's domain, not the host name: getfqdn() can block on DNS and would
    # reveal internal host names to every recipient.
    mime["Message-ID"] = message.message_id or make_msgid(domain=sender[1].rpartition("@")[2])
    for name, value in message.headers:
        mime[name] = value
    mime.set_content(message.text, charset="utf-8")
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html", charset="utf-8")
    return mime


def header_address(mailbox: Address) -> HeaderAddress:
    """A (display name, address) pair as the email package's Address."""
    name, address = mailbox
    username, _, domain = address.rpartition("@")
    return HeaderAddress(display_name=name, username=username, domain=domain)


class SmtpNotifier(Notifier):
    """Delivers each message over a fresh SMTP connection.

    `security` is "tls" (implicit TLS, usually port 465), "starttls" (port 587; the
    server must offer STARTTLS or nothing is sent) or "none" (plain text, only for
    a relay on a trusted network). Login happens only when `username` is given, and
    with "tls" or "starttls" only after the connection is encrypted. `ssl_context`
    defaults to the system's trusted certificates with host name checking.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        sender: str,
        sender_name: str = "",
        timeout: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        check_settings(host, port, security, username, password)
        try:
            check_address((sender_name, sender))
        except MailError as error:
            raise ConfigurationError(error.message, params=error.params) from error
        self.host = host
        self.port = port
        self.security: Security = security
        self.username = username
        self._password = password
        self.sender: Address = (sender_name, sender)
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.local_hostname = local_hostname

    def __repr__(self) -> str:
        # Spelled out so that the password can never reach a log through repr().
        return (
            f"SmtpNotifier(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r}, sender={self.sender[1]!r})"
        )

    @property
    def server(self) -> str:
        """`host:port` as error messages name it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def send(self, message: MailMessage) -> None:
        """Deliver `message`; raise MailError naming the server and its reply on failure."""
        data = compose(message, self.sender).as_bytes()
        with self._mail_errors():
            client = self._connect()
            try:
                self._secure(client)
                self._authenticate(client)
                refused = client.sendmail(self.sender[1], message.recipients, data)
                if refused:
                    self._fail_partly_refused(refused)
                quit_quietly(client)
            finally:
                client.close()

    def _connect(self) -> smtplib.SMTP:
        """An open connection with the greeting read (and TLS up for "tls")."""
        # Host and port go to the constructor: smtplib takes the TLS server name for
        # certificate checks from there, not from a later connect().
        if self.security == "tls":
            return smtplib.SMTP_SSL(
                self.host,
                self.port,
                timeout=self.timeout,
                context=self.ssl_context,
                local_hostname=self.local_hostname,
            )
        return smtplib.SMTP(
            self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
        )

    def _secure(self, client: smtplib.SMTP) -> None:
        """Upgrade to TLS when security is "starttls"; never continue in plain text."""
        client.ehlo()
        if self.security != "starttls":
            return
        if not client.has_extn("starttls"):
            raise MailError(
                N_("mail server %(server)s does not offer STARTTLS; nothing was sent"),
                hint=N_('use security "tls" for port 465, or fix the server\'s TLS setup'),
                params={"server": self.server},
            )
        code, reply = client.starttls(context=self.ssl_context)
        # smtplib returns a refusal instead of raising it; going on would send in plain text.
        if code != STARTTLS_READY:
            raise MailError(
                N_(
                    "mail server %(server)s refused STARTTLS (reply %(code)s: %(reply)s); "
                    "nothing was sent"
                ),
                params=self._reply_params(code, reply),
            )
        client.ehlo()

    def _authenticate(self, client: smtplib.SMTP) -> None:
        """Log in when a user name is configured."""
        if self.username is None or self._password is None:
            return
        if not client.has_extn("auth"):
            raise MailError(
                N_("mail server %(server)s does not offer authentication; nothing was sent"),
                params={"server": self.server},
            )
        client.login(self.username, self._password)

    def _fail_partly_refused(self, refused: dict[str, tuple[int, bytes]]) -> NoReturn:
        """Report recipients the server refused although it accepted others."""
        code, reply = next(iter(refused.values()))
        raise MailError(
            N_(
                "mail server %(server)s refused %(recipients)s (reply %(code)s: %(reply)s); "
                "the other recipients were accepted"
            ),
            params=self._reply_params(code, reply) | {"recipients": ", ".join(sorted(refused))},
        )

    @contextmanager
    def _mail_errors(self) -> Iterator[None]:
        """Turn smtplib, TLS and socket errors into MailError naming host:port."""
        try:
            yield
        except smtplib.SMTPAuthenticationError as exc:
            # Not chained: the raw reply is the one place a server might echo credentials.
            raise self._reply_error(
                N_(
                    "mail server %(server)s rejected the user name or password (reply %(code)s: "
                    "%(reply)s)"
                ),
                exc.smtp_code,
                exc.smtp_error,
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise MailError(
                N_("mail server %(server)s refused %(recipients)s (reply %(code)s: %(reply)s)"),
                params=self._reply_params(code, reply)
                | {"recipients": ", ".join(sorted(exc.recipients))},
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise self._reply_error(
                N_("mail server %(server)s answered %(code)s: %(reply)s"),
                exc.smtp_code,
                exc.smtp_error,
            ) from exc
        except smtplib.SMTPException as exc:
            raise self._plain_error(N_("mail server %(server)s failed: %(reason)s"), exc) from exc
        except ssl.SSLError as exc:
            raise self._plain_error(
                N_("TLS with mail server %(server)s failed: %(reason)s"), exc
            ) from exc
        except OSError as exc:
            raise self._plain_error(
                N_("cannot talk to mail server %(server)s: %(reason)s"), exc
            ) from exc

    def _reply_error(self, message: str, code: int, reply: bytes | str) -> MailError:
        """MailError `message` about an SMTP reply."""
        return MailError(message, params=self._reply_params(code, reply))

    def _plain_error(self, message: str, exc: Exception) -> MailError:
        """MailError `message` about a failure without an SMTP reply."""
        return MailError(message, params={"server": self.server, "reason": self._redact(exc)})

    def _reply_params(self, code: int, reply: bytes | str) -> dict[str, object]:
        """Parameters naming the server and its reply, with the password redacted."""
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        return {"server": self.server, "code": code, "reply": self._redact(text)}

    def _redact(self, value: object) -> str:
        """`value` as text with the password blotted out, should a server echo it."""
        text = " ".join(str(value).split())
        if self._password:
            text = text.replace(self._password, "********")
        return text


def check_settings(
    host: str, port: int, security: str, username: str | None, password: str | None
) -> None:
    """Raise ConfigurationError for SMTP settings that cannot work."""
    if not host:
        raise ConfigurationError(N_("the SMTP host is empty"))
    if not 0 < port < 65536:
        raise ConfigurationError(
            N_("the SMTP port %(port)s is not between 1 and 65535"), params={"port": port}
        )
    if security not in SECURITY_MODES:
        raise ConfigurationError(
            N_("unknown SMTP security %(security)s; choose one of %(choices)s"),
            params={"security": security, "choices": ", ".join(SECURITY_MODES)},
        )
    if (username is None) != (password is None):
        raise ConfigurationError(N_("set both the SMTP user name and password, or neither"))
    # smtplib encodes AUTH PLAIN and LOGIN as ASCII; say so now rather than fail mid-login.
    if not (username or "").isascii() or not (password or "").isascii():
        raise ConfigurationError(N_("the SMTP user name and password must be ASCII"))


def quit_quietly(client: smtplib.SMTP) -> None:
    """Say QUIT; the message is already accepted, so a failure here changes nothing."""
    with suppress(smtplib.SMTPException, OSError):
        client.quit()
