"""Syslog over TCP (RFC 6587 octet counting or LF framing), optionally over TLS (RFC 5425).

Syslog carries no credentials, so its events are the provider's and attribution rules
place them by their labels (hostname, app name). Plain TCP is only allowed on a loopback
address; anything that crosses a network must use TLS, and with a client CA configured
every sender must present a certificate it signed. Frames are stored in batches: a batch
is written when it is full or a moment after its first frame, whichever comes first.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mamori.core.errors import ConfigurationError, InputError
from mamori.core.i18n import N_
from mamori.core.scope import Principal
from mamori.ledger.events import IncomingEvent
from mamori.ledger.formats.syslog import SyslogFramer, parse_syslog, syslog_event
from mamori.ledger.ingest import IngestService
from mamori.tenants.permissions import Permission

log = logging.getLogger(__name__)
READ_BYTES = 64 * 1024
BATCH_EVENTS = 1000
BATCH_SECONDS = 0.2


@dataclass(frozen=True)
class TlsFiles:
    """Server certificate and key, and optionally the CA that signs client certificates."""

    certificate: Path
    key: Path
    client_ca: Path | None = None

    def context(self) -> ssl.SSLContext:
        """A server context requiring TLS 1.2 or later (and client certificates with a CA)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificate, self.key)
        if self.client_ca is not None:
            context.load_verify_locations(self.client_ca)
            context.verify_mode = ssl.CERT_REQUIRED
        return context


def syslog_principal(address: str) -> Principal:
    """Who syslog senders are: the provider's systems, allowed to ingest only."""
    return Principal(
        user_id="syslog",
        email="syslog",
        display_name="syslog",
        role="system",
        tenant_id=None,
        permissions=frozenset({Permission.INGEST_EVENTS}),
        address=address,
    )


def check_exposure(host: str, tls: TlsFiles | None) -> None:
    """Refuse plain TCP on anything but loopback."""
    if tls is not None:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ConfigurationError(
            N_("syslog on %(host)s crosses a network: configure TLS or listen on loopback"),
            params={"host": host},
        )


class SyslogServer:
    """Receives syslog streams and stores their events through the ingest service."""

    def __init__(self, ingest: IngestService, host: str, port: int, tls: TlsFiles | None) -> None:
        check_exposure(host, tls)
        self.ingest = ingest
        self.host, self.port = host, port
        self.tls = tls
        self.stored = 0
        self.rejected = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen; returns the port (useful when asked for port 0)."""
        context = self.tls.context() if self.tls else None
        self._server = await asyncio.start_server(
            self._connection, self.host, self.port, ssl=context
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def close(self) -> None:
        """Stop listening and wait for open connections to finish."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if peer else ""
        framer = SyslogFramer()
        batch: list[IncomingEvent] = []
        loop = asyncio.get_running_loop()
        due = 0.0  # when the oldest unsaved frame must be stored
        try:
            while True:
                wait = max(0.0, due - loop.time()) if batch else None
                try:
                    data = await asyncio.wait_for(reader.read(READ_BYTES), wait)
                except TimeoutError:
                    batch = await self._flush(address, batch)
                    continue
                if not batch:
                    due = loop.time() + BATCH_SECONDS
                batch += self._events(framer.feed(data) if data else framer.close())
                if not data:
                    break
                if len(batch) >= BATCH_EVENTS or loop.time() >= due:
                    batch = await self._flush(address, batch)
        except InputError as error:
            log.warning("syslog from %s: %s; closing the connection", address, error.render("en"))
        except (ConnectionError, ssl.SSLError, OSError) as error:
            # A sender that drops the connection (or TLS without close_notify) ends its stream.
            log.info("syslog from %s ended: %s", address, error)
        finally:
            await self._flush(address, batch)
            writer.close()

    def _events(self, frames: list[bytes]) -> list[IncomingEvent]:
        events = []
        for frame in frames:
            try:
                message = parse_syslog(frame)
            except InputError:
                self.rejected += 1
                continue
            events.append(syslog_event(message, frame.decode("utf-8", "replace")))
        return events

    async def _flush(self, address: str, batch: list[IncomingEvent]) -> list[IncomingEvent]:
        if batch:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.ingest.store, syslog_principal(address), batch)
            self.stored += len(batch)
        return []


@contextmanager
def running_in_thread(server: SyslogServer) -> Iterator[int]:
    """Run `server` on its own event loop in a thread; yields the port it listens on."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    port: list[int] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        port.append(loop.run_until_complete(server.start()))
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="syslog", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the syslog server did not start")
    try:
        yield port[0]
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
