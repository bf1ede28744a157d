"""Mail against a real SMTP server (aiosmtpd on a free loopback port), TLS included."""

from __future__ import annotations

import email
import email.policy
import ipaddress
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mamori.core.errors import ConfigurationError
from mamori.core.i18n import Lang
from mamori.core.mail import (
    MailError,
    MailMessage,
    MemoryNotifier,
    Security,
    SmtpNotifier,
    render_mail,
)

HOST = "127.0.0.1"
USER = "mamori-mailer"
PASSWORD = "s3cret-Pass-word!"
SENDER = "noreply@mamori.example.jp"
SENDER_NAME = "まもり 運用チーム"
TO = (("山田 太郎", "taro.yamada@example.jp"),)
SUBJECT = "【重要】パスワード再設定のご案内"
TEXT = "山田 太郎 様\n\nパスワードの再設定を受け付けました。\n次のリンクを開いてください。\n"

pytestmark = pytest.mark.slow


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it receives and which logins it saw."""

    received: list[Envelope] = field(default_factory=list)
    logins: list[tuple[str, bytes]] = field(default_factory=list)
    encrypted: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.received.append(envelope)
        self.encrypted.append(session.ssl is not None)
        return "250 Message accepted for delivery"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """Accept USER with PASSWORD only, remembering each attempt's mechanism."""
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.logins.append((mechanism, data.login))
        ok = data.login == USER.encode() and data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)

    def only(self) -> tuple[Envelope, EmailMessage]:
        """The one envelope received and its content parsed."""
        assert len(self.received) == 1
        envelope = self.received[0]
        assert isinstance(envelope.content, bytes)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return envelope, parsed


StartServer = Callable[..., tuple[Inbox, int]]


def free_port() -> int:
    """A loopback port nothing listens on (right now)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start aiosmtpd servers with the given options; all stop after the test."""
    controllers: list[Controller] = []

    def start(**options: Any) -> tuple[Inbox, int]:
        inbox = Inbox()
        if options.pop("with_auth", False):
            options.update(authenticator=inbox.authenticate, auth_required=True)
        port = free_port()
        controller = Controller(inbox, hostname=HOST, port=port, **options)
        controller.start()
        controllers.append(controller)
        return inbox, port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mamori test SMTP")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """The server side of the test certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A verifying client context that trusts only the test certificate."""
    return ssl.create_default_context(cafile=str(certificate[0]))


def notifier(port: int, security: Security = "none", **options: Any) -> SmtpNotifier:
    """A notifier for the local test server."""
    return SmtpNotifier(
        HOST,
        port,
        security=security,
        sender=SENDER,
        sender_name=SENDER_NAME,
        timeout=10,
        local_hostname="localhost",
        **options,
    )


def message(**changes: Any) -> MailMessage:
    """A Japanese test message."""
    values: dict[str, Any] = {"to": TO, "subject": SUBJECT, "text": TEXT}
    return MailMessage(**(values | changes))


def raw_header(content: bytes, name: str) -> str:
    """The header `name` exactly as transmitted, folding lines included."""
    head = content.split(b"\r\n\r\n", 1)[0].decode("ascii")
    found = re.search(
        rf"^{name}:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.MULTILINE | re.IGNORECASE
    )
    assert found, f"no {name} header"
    return found.group(1)


@pytest.mark.parametrize(
    ("subject", "display_name"),
    [
        (SUBJECT, "山田 太郎"),
        ("Re: 障害のお知らせ (service-a) — 復旧しました", "Yamada, Taro 「営業部」"),
        ("脆弱性情報 " * 12 + "end", '"引用" 符号 <テスト>'),
    ],
)
def test_japanese_headers_are_encoded_words_and_decode_back(
    start_server: StartServer, subject: str, display_name: str
) -> None:
    inbox, port = start_server()
    to = ((display_name, "taro.yamada@example.jp"),)
    notifier(port).send(message(subject=subject, to=to))

    envelope, parsed = inbox.only()
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["taro.yamada@example.jp"]
    assert isinstance(envelope.content, bytes) and envelope.content.isascii()
    for name in ("Subject", "To", "From"):
        assert "=?utf-8?" in raw_header(envelope.content, name)
    assert parsed["Subject"] == subject
    assert parsed["To"].addresses[0].display_name == display_name
    assert parsed["To"].addresses[0].addr_spec == "taro.yamada@example.jp"
    assert parsed["From"].addresses[0].display_name == SENDER_NAME


def test_utf8_bodies_survive_a_7bit_path(start_server: StartServer) -> None:
    inbox, port = start_server()
    html = "<p>山田 太郎 様</p>\n<p>パスワードの再設定を受け付けました。</p>\n"
    notifier(port).send(message(html=html))

    _envelope, parsed = inbox.only()
    assert parsed.get_content_type() == "multipart/alternative"
    plain, rich = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    for part, body in ((plain, TEXT), (rich, html)):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] in {"base64", "quoted-printable"}
        # MIME text is carried with CRLF line ends (RFC 2046 section 4.1.1).
        assert part.get_content().replace("\r\n", "\n") == body


def test_message_id_date_and_auto_submitted(start_server: StartServer) -> None:
    inbox, port = start_server()
    smtp = notifier(port)
    smtp.send(message())
    smtp.send(message(message_id="<retry-1@mamori.example.jp>"))

    made, pinned = (
        email.message_from_bytes(envelope.content, policy=email.policy.default)
        for envelope in inbox.received
        if isinstance(envelope.content, bytes)
    )
    assert re.fullmatch(r"<[^@<>\s]+@mamori\.example\.jp>", made["Message-ID"])
    assert pinned["Message-ID"] == "<retry-1@mamori.example.jp>"
    sent_at = parsedate_to_datetime(made["Date"])
    assert abs(sent_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert made["Auto-Submitted"] == "auto-generated"


@pytest.mark.parametrize(("mechanism", "excluded"), [("PLAIN", "LOGIN"), ("LOGIN", "PLAIN")])
def test_starttls_then_login(
    start_server: StartServer,
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
    mechanism: str,
    excluded: str,
) -> None:
    inbox, port = start_server(
        tls_context=server_tls,
        require_starttls=True,
        with_auth=True,
        auth_exclude_mechanism=[excluded],
    )
    smtp = notifier(port, "starttls", username=USER, password=PASSWORD, ssl_context=client_tls)
    smtp.send(message())

    assert inbox.logins == [(mechanism, USER.encode())]
    assert inbox.encrypted == [True]
    assert inbox.only()[1]["Subject"] == SUBJECT


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_implicit_tls_then_login(
    start_server: StartServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    # aiosmtpd counts only STARTTLS as TLS for AUTH; this socket is TLS from the start.
    inbox, port = start_server(ssl_context=server_tls, with_auth=True, auth_require_tls=False)
    notifier(port, "tls", username=USER, password=PASSWORD, ssl_context=client_tls).send(message())

    assert len(inbox.logins) == 1
    assert inbox.only()[1]["Subject"] == SUBJECT


def test_starttls_required_when_the_server_lacks_it(start_server: StartServer) -> None:
    inbox, port = start_server()
    smtp = notifier(port, "starttls", username=USER, password=PASSWORD)

    with pytest.raises(MailError, match="STARTTLS") as caught:
        smtp.send(message())

    assert f"{HOST}:{port}" in str(caught.value)
    assert inbox.received == [] and inbox.logins == []


def test_untrusted_certificate_is_refused(
    start_server: StartServer, server_tls: ssl.SSLContext
) -> None:
    inbox, port = start_server(tls_context=server_tls, require_starttls=True)

    with pytest.raises(MailError, match="TLS") as caught:
        notifier(port, "starttls").send(message())

    assert f"{HOST}:{port}" in str(caught.value)
    assert inbox.received == []


def test_wrong_password_never_shows_the_password(
    start_server: StartServer, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    inbox, port = start_server(tls_context=server_tls, require_starttls=True, with_auth=True)
    wrong = "not-the-password-42"
    smtp = notifier(port, "starttls", username=USER, password=wrong, ssl_context=client_tls)

    with pytest.raises(MailError) as caught:
        smtp.send(message())

    error = caught.value
    assert "535" in str(error) and f"{HOST}:{port}" in str(error)
    for text in (str(error), error.render("ja"), repr(error), repr(smtp)):
        assert wrong not in text
    assert error.__cause__ is None and error.__suppress_context__
    assert inbox.received == []


def test_connection_refused_names_host_and_port() -> None:
    port = free_port()

    with pytest.raises(MailError) as caught:
        notifier(port).send(message())

    assert f"{HOST}:{port}" in str(caught.value)


def test_settings_that_cannot_work_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        notifier(25, "ssl")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        notifier(25, username=USER)
    with pytest.raises(ConfigurationError):
        notifier(25, username=USER, password="パスワード")
    with pytest.raises(ConfigurationError):
        SmtpNotifier(HOST, 25, sender="not an address")


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Hello\r\nBcc: victim@example.com"},
        {"subject": "  "},
        {"to": ()},
        {"to": (("名前", "山田@example.jp"),)},
        {"to": (("Evil\nBcc: x@example.com", "a@example.com"),)},
        {"headers": (("From", "boss@example.com"),)},
        {"headers": (("X-Tag", "a\nb"),)},
        {"message_id": "no-brackets@example.com"},
    ],
)
def test_unsafe_messages_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(MailError):
        message(**changes)


def test_memory_notifier_keeps_messages() -> None:
    outbox = MemoryNotifier()
    first, second = message(), message(subject="二通目")
    outbox.send(first)
    outbox.send(second)

    assert outbox.sent == [first, second]
    assert outbox.take() == [first, second]
    assert outbox.sent == []


INVITATION = {
    "inviter_name": "佐藤 花子",
    "organisation_name": "Acme & <Co>",
    "accept_url": "https://portal.example.jp/invitations/accept?token=abc&x=1",
    "expires_at": "2026年12月4日 09:00 JST",
}
PASSWORD_RESET = {
    "user_name": "山田 太郎",
    "reset_url": "https://portal.example.jp/password/reset?token=def&x=2",
    "expires_at": "2026-11-27 22:16 JST",
    "request_ip": "192.0.2.10",
}
CONTEXTS: dict[str, dict[str, str]] = {
    "invitation": INVITATION,
    "password_reset": PASSWORD_RESET,
}
LEFTOVER = re.compile(r"%\(\w+\)s|\{\{|\}\}|\{%|%\}|Undefined")


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_templates_render_urls_without_leftover_placeholders(template: str, lang: Lang) -> None:
    context = CONTEXTS[template]
    url = next(value for key, value in context.items() if key.endswith("_url"))
    subject, text, html = render_mail(template, lang, **context)

    assert subject and "\n" not in subject
    assert html is not None
    assert url in text and url.replace("&", "&amp;") in html
    for rendered in (subject, text, html):
        assert not LEFTOVER.search(rendered), rendered
    assert f'<html lang="{lang}">' in html


def test_html_escapes_values_and_text_does_not() -> None:
    _subject, text, html = render_mail("invitation", "en", **INVITATION)

    assert "Acme & <Co>" in text
    assert html is not None and "Acme &amp; &lt;Co&gt;" in html and "<Co>" not in html


def test_unknown_or_sneaky_template_names_are_refused() -> None:
    for name in ("no_such_mail", "../templates/invitation", "_footer"):
        with pytest.raises(MailError):
            render_mail(name, "en")


def test_rendered_invitation_arrives_intact(start_server: StartServer) -> None:
    inbox, port = start_server()
    rendered = render_mail("invitation", "ja", **INVITATION)
    notifier(port).send(rendered.message((("", "new.member@example.jp"),)))

    _envelope, parsed = inbox.only()
    plain = parsed.get_body(("plain",))
    assert parsed["Subject"] == rendered.subject
    assert (
        isinstance(plain, EmailMessage)
        and plain.get_content().replace("\r\n", "\n") == rendered.text
    )
