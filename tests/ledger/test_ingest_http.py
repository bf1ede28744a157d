"""Ingest through the real server on loopback, in the wire formats shippers send.

Vector's `http` sink (JSON array, gzip), Fluent Bit's `http` output (msgpack, its default),
OTLP/HTTP (protobuf and JSON), Loki push (JSON and snappy protobuf): each is stored,
attributed to the sender's tenant or by service label, and the ledger verifies after.
"""

from __future__ import annotations

import gzip
import json
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import cramjam
import httpx
import msgpack  # type: ignore[import-untyped]
import pytest
from fastapi import FastAPI
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from sqlalchemy import Connection

from mamori.commitments.registry import CheckRegistry
from mamori.core.crypto import SecretBox, derive_key, load_secret_key
from mamori.core.db import Database
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.scope import TenantScope
from mamori.core.settings import Settings
from mamori.ledger.formats.loki import _push_request_class
from mamori.ledger.ingest import CHECKPOINT_EVENTS
from mamori.ledger.reading import Selection, entries
from mamori.ledger.service import LedgerService
from mamori.tenants.permissions import Role
from mamori.tenants.service import tokens
from mamori.tenants.service.context import TOTP_KEY_PURPOSE
from mamori.web.app import create_app
from tests.support.browser import serve_app_in_thread
from tests.support.identities import FakeClock, Identities
from tests.support.portal import build_portal

A = "midori-city-boe"
SERVICE = "total-id"
LOG_ONLY = frozenset({"log"})  # shipped events, not the audit trail of setting up


@dataclass
class Shipper:
    """A served portal and two ingest tokens: the provider's operator and tenant A's admin."""

    url: str
    provider_token: str
    tenant_token: str
    read_token: str
    database: Database
    ledger: LedgerService

    def post(
        self, path: str, body: bytes, token: str | None = None, **headers: str
    ) -> httpx.Response:
        auth = {"Authorization": f"Bearer {token or self.provider_token}"}
        return httpx.post(f"{self.url}{path}", content=body, headers={**auth, **headers})


@pytest.fixture
def shipper(
    demo_database: Database, registry: CheckRegistry, settings: Settings
) -> Iterator[Shipper]:
    box = SecretBox(derive_key(load_secret_key(settings), TOTP_KEY_PURPOSE))
    people = Identities(
        demo_database, settings, FakeClock(datetime.now(UTC)), MemoryNotifier(), box
    )
    operator = people.user("ops@provider.example.jp", Role.OPERATOR)
    admin = people.user("admin@midori.example.jp", Role.TENANT_ADMIN, A)
    with people.work() as services:
        provider = tokens.create_token(
            services, operator, name="fluent-bit", scopes=["ingest:logs"], days=30
        )
        tenant = tokens.create_token(
            services, admin, name="vector", scopes=["ingest:logs"], days=30
        )
        read = tokens.create_token(
            services, operator, name="reader", scopes=["tenants:read"], days=30
        )
    app = create_app(settings, demo_database, registry, notifier=MemoryNotifier())
    with serve_app_in_thread(app) as url:
        yield Shipper(
            url,
            provider.secret,
            tenant.secret,
            read.secret,
            demo_database,
            LedgerService(demo_database, settings),
        )


def stored(shipper: Shipper) -> list[tuple[str | None, str | None, str]]:
    """(tenant, service, message) of every stored event."""
    with shipper.database.session() as session:
        return [
            (e.tenant_id, e.service_id, e.message)
            for e in entries(session, Selection(TenantScope.everything(), LOG_ONLY))
        ]


def test_vector_json_array_gzip_is_stored_for_the_senders_tenant(shipper: Shipper) -> None:
    events = [
        {
            "timestamp": "2026-11-27T01:02:03.456Z",
            "message": f"vector {n}",
            "host": "web-1",
            "service": SERVICE,
        }
        for n in range(3)
    ]
    body = gzip.compress(json.dumps(events).encode())
    response = shipper.post(
        "/api/v1/ingest",
        body,
        shipper.tenant_token,
        **{"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 3
    assert stored(shipper) == [(A, SERVICE, f"vector {n}") for n in range(3)]
    # At-least-once delivery: the same batch again is recognised.
    again = shipper.post(
        "/api/v1/ingest",
        body,
        shipper.tenant_token,
        **{"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert again.json() == {**again.json(), "accepted": 0, "duplicates": 3}
    assert shipper.ledger.verify().ok


def test_fluent_bit_msgpack_with_event_time(shipper: Shipper) -> None:
    when = struct.pack(">II", 1_764_205_323, 250_000_000)
    records = [
        [[msgpack.ExtType(0, when), {}], {"log": "fluent one", "service": SERVICE}],
        [msgpack.ExtType(0, when), {"log": "fluent two"}],
    ]
    body = b"".join(msgpack.packb(r) for r in records)
    response = shipper.post("/api/v1/ingest", body, **{"Content-Type": "application/msgpack"})
    assert response.status_code == 200, response.text
    assert stored(shipper) == [(None, SERVICE, "fluent one"), (None, None, "fluent two")]


def _otlp_request() -> logs_service_pb2.ExportLogsServiceRequest:
    request = logs_service_pb2.ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.add(
        key="service.name", value=common_pb2.AnyValue(string_value=SERVICE)
    )
    record = resource_logs.scope_logs.add().log_records.add()
    record.time_unix_nano = 1_764_205_323_000_000_000
    record.severity_number = logs_pb2.SEVERITY_NUMBER_WARN
    record.body.string_value = "otlp says hello"
    record.attributes.add(key="enduser.id", value=common_pb2.AnyValue(string_value="t.sato"))
    return request


def test_otlp_protobuf_and_json(shipper: Shipper) -> None:
    body = _otlp_request().SerializeToString()
    response = shipper.post("/v1/logs", body, **{"Content-Type": "application/x-protobuf"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-protobuf"
    logs_service_pb2.ExportLogsServiceResponse().ParseFromString(response.content)
    as_json = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": SERVICE}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "timeUnixNano": "1764205324000000000",
                                "body": {"stringValue": "otlp json"},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    response = shipper.post(
        "/v1/logs", json.dumps(as_json).encode(), **{"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert stored(shipper) == [(None, SERVICE, "otlp says hello"), (None, SERVICE, "otlp json")]


def test_loki_json_and_snappy_protobuf(shipper: Shipper) -> None:
    push = {
        "streams": [
            {
                "stream": {"service": SERVICE, "job": "app"},
                "values": [["1764205323000000000", "loki json line"]],
            }
        ]
    }
    response = shipper.post(
        "/loki/api/v1/push",
        json.dumps(push).encode(),
        shipper.tenant_token,
        **{"Content-Type": "application/json"},
    )
    assert response.status_code == 204, response.text
    message = _push_request_class()()
    stream = message.streams.add()
    stream.labels = f'{{service="{SERVICE}", job="app"}}'
    entry = stream.entries.add()
    entry.timestamp.seconds = 1_764_205_324
    entry.line = "loki proto line"
    body = bytes(cramjam.snappy.compress_raw(message.SerializeToString()))
    response = shipper.post(
        "/loki/api/v1/push",
        body,
        shipper.tenant_token,
        **{"Content-Type": "application/x-protobuf"},
    )
    assert response.status_code == 204, response.text
    assert stored(shipper) == [(A, SERVICE, "loki json line"), (A, SERVICE, "loki proto line")]
    assert shipper.ledger.verify().ok


def test_bad_data_names_the_line_and_stores_nothing(shipper: Shipper) -> None:
    body = b'{"message": "one"}\n{"message": "two"}\n{"message": oops}\n'
    response = shipper.post("/api/v1/ingest", body, **{"Content-Type": "application/x-ndjson"})
    assert response.status_code == 400
    assert response.json()["detail"]["line"] == 3
    assert "line 3" in response.json()["error"]
    assert stored(shipper) == []


def test_limits_and_authorisation(shipper: Shipper, settings: Settings) -> None:
    json_type = {"Content-Type": "application/json"}
    assert (
        httpx.post(f"{shipper.url}/api/v1/ingest", content=b"[]", headers=json_type).status_code
        == 401
    )
    wrong_scope = shipper.post("/api/v1/ingest", b"[]", shipper.read_token, **json_type)
    assert wrong_scope.status_code == 403
    huge = b"[" + b'{"m": "x"},' * (settings.ingest_max_body_bytes // 10) + b"{}]"
    assert shipper.post("/api/v1/ingest", huge, **json_type).status_code == 413
    bomb = gzip.compress(b" " * (65 * 1024 * 1024))
    response = shipper.post("/api/v1/ingest", bomb, **json_type, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert shipper.post("/api/v1/ingest", b"x", **{"Content-Type": "text/csv"}).status_code == 415
    assert stored(shipper) == []


def _app_and_token(
    database: Database, registry: CheckRegistry, settings: Settings
) -> tuple[FastAPI, dict[str, str]]:
    """A portal with `settings`, and the headers of a provider operator's ingest token."""
    box = SecretBox(derive_key(load_secret_key(settings), TOTP_KEY_PURPOSE))
    people = Identities(database, settings, FakeClock(datetime.now(UTC)), MemoryNotifier(), box)
    operator = people.user("ops@provider.example.jp", Role.OPERATOR)
    with people.work() as services:
        secret = tokens.create_token(
            services, operator, name="t", scopes=["ingest:logs"], days=1
        ).secret
    app = create_app(settings, database, registry, notifier=MemoryNotifier())
    return app, {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


def test_busy_gives_503_and_rate_gives_429_with_retry_after(
    demo_database: Database, registry: CheckRegistry, settings: Settings
) -> None:
    tight = settings.model_copy(
        update={"ingest_max_concurrent": 1, "ingest_requests_per_minute": 3}
    )
    app, headers = _app_and_token(demo_database, registry, tight)
    with serve_app_in_thread(app) as url:
        gate = app.state.mamori.ingest.gate
        gate.wait = 0.05
        with gate.slot():  # another request is being stored
            busy = httpx.post(f"{url}/api/v1/ingest", content=b'[{"m": 1}]', headers=headers)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        answers = [
            httpx.post(f"{url}/api/v1/ingest", content=b'[{"m": 2}]', headers=headers).status_code
            for _ in range(3)
        ]
        assert answers == [200, 200, 429]  # the refused busy request counted too
        limited = httpx.post(f"{url}/api/v1/ingest", content=b"[]", headers=headers)
        assert int(limited.headers["retry-after"]) >= 1


def test_a_revoked_token_is_refused_at_once_here_and_within_seconds_elsewhere(
    demo_database: Database, registry: CheckRegistry, settings: Settings
) -> None:
    """A server process answers a token it identified a moment ago from memory: revoked
    by another process, it is refused once `ingest_token_cache_seconds` have passed;
    revoked through this one, at once."""
    remembering = settings.model_copy(update={"ingest_token_cache_seconds": 5.0})
    portal = build_portal(demo_database, registry, remembering)
    box = SecretBox(derive_key(load_secret_key(remembering), TOTP_KEY_PURPOSE))
    people = Identities(demo_database, remembering, portal.clock, MemoryNotifier(), box)
    admin = people.user("admin@midori.example.jp", Role.TENANT_ADMIN, A)
    with people.work() as services:
        elsewhere = tokens.create_token(services, admin, name="a", scopes=["ingest:logs"], days=1)
        here = tokens.create_token(services, admin, name="b", scopes=["ingest:logs"], days=1)

    with portal.client() as shipper, portal.client() as browser:

        def send(secret: str) -> int:
            headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
            return shipper.post(
                "/api/v1/ingest", content=b'[{"m": 1}]', headers=headers
            ).status_code

        assert send(elsewhere.secret) == 200
        with people.work() as services:  # as another server process would
            tokens.revoke_token(services, admin, elsewhere.row.id)
        assert send(elsewhere.secret) == 200
        portal.clock.advance(seconds=5)
        assert send(elsewhere.secret) == 401

        assert send(here.secret) == 200
        portal.sign_in(browser, "admin@midori.example.jp")
        revoked = portal.post(browser, f"/tokens/{here.row.id}/revoke", page="/tokens")
        assert revoked.status_code == 303
        assert send(here.secret) == 401


@pytest.mark.parametrize("processes", [1, 2])
def test_a_busy_server_process_of_several_asks_for_a_new_connection(
    demo_database: Database, registry: CheckRegistry, settings: Settings, processes: int
) -> None:
    several = settings.model_copy(update={"serve_processes": processes, "ingest_max_concurrent": 2})
    app, headers = _app_and_token(demo_database, registry, several)
    with serve_app_in_thread(app) as url, httpx.Client(base_url=url, headers=headers) as http:
        gate = app.state.mamori.ingest.gate
        idle = http.post("/api/v1/ingest", content=b'[{"m": 1}]')
        assert idle.status_code == 200 and "close" not in idle.headers.get("connection", "")
        with gate.slot():  # another request of this process is being stored
            assert gate.in_flight == 1
            busy = http.post("/api/v1/ingest", content=b'[{"m": 2}]')
        assert busy.status_code == 200 and busy.json()["accepted"] == 1
        asked = busy.headers.get("connection", "") == "close"
        assert asked is (processes > 1)
        assert gate.in_flight == 0


def test_requests_waiting_for_the_turn_are_committed_together(
    demo_database: Database, registry: CheckRegistry, settings: Settings
) -> None:
    roomy = settings.model_copy(update={"ingest_max_concurrent": 8})
    app, headers = _app_and_token(demo_database, registry, roomy)
    service = app.state.mamori.ingest
    ledger: LedgerService = service.ledger
    transactions: list[int] = []
    opened = ledger.transaction_in_turn

    @contextmanager
    def counted() -> Iterator[Connection]:
        transactions.append(1)
        with opened() as connection:
            yield connection

    ledger.transaction_in_turn = counted  # type: ignore[method-assign]
    answers: list[httpx.Response] = []

    def post(number: int) -> None:
        body = json.dumps([{"message": f"together {number}-{i}"} for i in range(3)])
        answers.append(httpx.post(f"{url}/api/v1/ingest", content=body, headers=headers))

    with serve_app_in_thread(app) as url:
        senders = [threading.Thread(target=post, args=(n,)) for n in range(4)]
        with ledger.turn():  # another append has the turn while the four arrive
            for sender in senders:
                sender.start()
            deadline = time.monotonic() + 10
            while len(service._waiting) < 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(service._waiting) == 4
        for sender in senders:
            sender.join(10)
    assert [a.status_code for a in answers] == [200] * 4
    assert sorted(a.json()["accepted"] for a in answers) == [3] * 4
    assert transactions == [1]  # one transaction, one commit, for the four requests
    with demo_database.session() as session:
        messages = {
            e.message for e in entries(session, Selection(TenantScope.everything(), LOG_ONLY))
        }
    assert {f"together {n}-{i}" for n in range(4) for i in range(3)} <= messages
    assert ledger.verify().ok


def test_an_appender_checkpoints_the_write_ahead_log_after_its_turn(
    demo_database: Database,
    registry: CheckRegistry,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, headers = _app_and_token(demo_database, registry, settings)
    service = app.state.mamori.ingest
    ledger: LedgerService = service.ledger
    held: list[bool] = []  # whether this process's turn was held at each checkpoint
    monkeypatch.setattr(
        ledger.database, "checkpoint_wal", lambda: held.append(ledger._write_lock.locked())
    )
    half = CHECKPOINT_EVENTS // 2 + 1
    with serve_app_in_thread(app) as url, httpx.Client(base_url=url, headers=headers) as http:
        for batch in range(2):
            body = json.dumps([{"message": f"wal {batch}-{i}"} for i in range(half)])
            assert http.post("/api/v1/ingest", content=body).status_code == 200
            assert held == ([] if batch == 0 else [False])  # after ~1,000 events, turn over
