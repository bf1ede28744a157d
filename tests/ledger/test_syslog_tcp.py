"""Syslog over TCP from the system `logger` command, and over TLS with client certificates."""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
import socket
import ssl
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mamori.core.db import Database
from mamori.core.errors import ConfigurationError
from mamori.core.scope import TenantScope
from mamori.core.settings import Settings
from mamori.ledger.ingest import CachedAttribution, IngestService, attribution_from_database
from mamori.ledger.reading import Entry, Selection, entries
from mamori.ledger.service import LedgerService
from mamori.ledger.syslog_server import SyslogServer, TlsFiles, running_in_thread

WAIT_SECONDS = 10.0
LOG_ONLY = frozenset({"log"})  # shipped events, not the audit trail of setting up


def make_ingest(database: Database, settings: Settings) -> IngestService:
    ledger = LedgerService(database, settings)
    return IngestService(
        ledger, settings, CachedAttribution(lambda: attribution_from_database(database, settings))
    )


def wait_for(database: Database, count: int) -> list[Entry]:
    """The stored entries once there are `count` of them."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        with database.session() as session:
            found = list(entries(session, Selection(TenantScope.everything(), LOG_ONLY)))
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def logger_command() -> str:
    found = shutil.which("logger")
    assert found, "the `logger` command (util-linux bsdutils) is needed by this test"
    return found


def test_messages_from_logger_are_stored_and_verify(
    demo_database: Database, settings: Settings
) -> None:
    server = SyslogServer(make_ingest(demo_database, settings), "127.0.0.1", 0, None)
    with running_in_thread(server) as port:
        base = [logger_command(), "-n", "127.0.0.1", "-P", str(port), "-T"]
        subprocess.run(
            [*base, "--rfc5424", "-t", "total-id", "-p", "auth.warning", "login failed for k.sato"],
            check=True,
        )
        subprocess.run([*base, "--octet-count", "-t", "my-assess", "octet counted"], check=True)
        stored = wait_for(demo_database, 2)
    # Two connections: each stores its own batch, in whichever order they finish.
    assert sorted(e.message for e in stored) == ["login failed for k.sato", "octet counted"]
    first = next(e for e in stored if e.message.startswith("login"))
    assert first.tenant_id is None and first.severity == "warning"
    assert first.labels.get("app_name") == "total-id"
    assert first.occurred_at is not None
    assert abs(first.occurred_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert LedgerService(demo_database, settings).verify().ok


def _certificate(
    tmp: Path, name: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None
) -> tuple[Path, Path, x509.Name, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, signer = issuer or (subject, key)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(_loopback())]), critical=False)
    )
    certificate = builder.sign(signer, hashes.SHA256())
    cert_path, key_path = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, subject, key


def _loopback() -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address("127.0.0.1")


def _send_tls(port: int, context: ssl.SSLContext, frames: list[bytes]) -> None:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        for frame in frames:
            tls.sendall(b"%d %s" % (len(frame), frame))
        tls.unwrap()  # a clean TLS close (close_notify)


def test_tls_with_client_certificates(
    demo_database: Database, settings: Settings, tmp_path: Path
) -> None:
    ca_cert, _, ca_name, ca_key = _certificate(tmp_path, "ca")
    server_cert, server_key, _, _ = _certificate(tmp_path, "server", (ca_name, ca_key))
    client_cert, client_key, _, _ = _certificate(tmp_path, "client", (ca_name, ca_key))
    tls = TlsFiles(server_cert, server_key, ca_cert)
    server = SyslogServer(make_ingest(demo_database, settings), "127.0.0.1", 0, tls)
    frame = b"<34>1 2026-11-27T09:00:00.000+09:00 web-1 nimot - ID47 - over TLS"
    with running_in_thread(server) as port:
        trusted = ssl.create_default_context(cafile=str(ca_cert))
        # With TLS 1.3 the client learns of the refusal only after sending, if at all.
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            _send_tls(port, trusted, [frame.replace(b"over TLS", b"no certificate")])
        time.sleep(0.5)
        assert wait_for(demo_database, 1) == []  # the server kept nothing from it
        trusted.load_cert_chain(str(client_cert), str(client_key))
        _send_tls(port, trusted, [frame, frame.replace(b"over TLS", b"second")])
        stored = wait_for(demo_database, 2)
    assert [e.message for e in stored] == ["over TLS", "second"]
    assert stored[0].occurred_at == datetime(2026, 11, 27, 0, 0, tzinfo=UTC)


def test_plain_tcp_off_loopback_is_refused(demo_database: Database, settings: Settings) -> None:
    with pytest.raises(ConfigurationError):
        SyslogServer(make_ingest(demo_database, settings), "0.0.0.0", 0, None)  # noqa: S104
