"""Schemathesis against the OpenAPI document the app serves.

Acceptance: no server error (5xx) and no response that breaks its own schema. Every
operation of /openapi.json is fuzzed with valid and invalid data by each kind of caller;
every response must be a documented status with a documented content type and a body
that matches the schema documented for that status (errors included: the API declares
its JSON error shape for each error status).

Random ids almost never name a real record, so path parameters and grant requests are
sometimes swapped for ids that exist: the 200 answers of the detail routes get checked too.

The operations are walked inside one test per caller and database, as subtests, because
setting up the portal costs seconds while fuzzing an operation costs a fraction of one.
(schemathesis.pytest.from_fixture would do the same, but its loader reads
`Function._nodeid`, which pytest 9.2 no longer has.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis
import pytest
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st
from schemathesis import APIOperation, BaseSchema, Case, GenerationMode, HookContext
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from mamori.ledger import cosigning, disclosure
from mamori.ledger.analysis import request_analysis
from mamori.ledger.models import LedgerCheckpoint
from mamori.ledger.notes import COSIGNATURE_V1, cosign, raw_public, verifier_key
from mamori.tenants.permissions import PERMISSIONS, Permission, Role
from mamori.tenants.service import grants, tokens
from tests.ledger.conftest import sample_event
from tests.support.identities import Identities
from tests.support.portal import Portal, csrf_of

A, B = "midori-city-boe", "sakura-town-boe"
CALLERS = ["anonymous", "tenant_admin_token", "security_officer_token", "officer_browser"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = hypothesis.settings(
    max_examples=30,  # per operation and caller, half of them invalid data
    deadline=None,
    derandomize=True,  # the same cases on every run: a failure reproduces
    database=None,
)
# Need scopes no API token can hold (grants:write, tokens:manage): browser sessions only.
SESSION_ONLY = {
    "POST /api/v1/grants",
    "GET /api/v1/tokens",
    "DELETE /api/v1/tokens/{token_id}",
    "POST /api/v1/disclosures",
}
# For machines: a browser session never ingests; a token does when its owner's role may.
TOKEN_ONLY = {"POST /api/v1/ingest"}
TOKEN_ROLES = {
    "tenant_admin_token": Role.TENANT_ADMIN,
    "security_officer_token": Role.SECURITY_OFFICER,
}
REASON = "schemathesis: read the contacts"
COSIGNER_NAME = "it.midori-city.example.jp/cosigner"
VALID_GRANT: dict[str, object] = {"reason": REASON, "minutes": 60}


@dataclass
class CosignerKey:
    """The tenant administrator's cosigning key, and a cosignature it made."""

    seed: bytes
    vkey: str
    line: str = ""

    def sign(self, note: str) -> str:
        """A cosignature line over the checkpoint in `note`."""
        body = note.split("\n\n")[0] + "\n"
        return cosign(body, COSIGNER_NAME, self.seed, 1_764_200_000).text().strip()


def _cosigner_key() -> CosignerKey:
    seed = os.urandom(32)
    public = raw_public(Ed25519PrivateKey.from_private_bytes(seed).public_key())
    return CosignerKey(seed, verifier_key(COSIGNER_NAME, COSIGNATURE_V1, public))


@dataclass
class Caller:
    """Credentials sent with every request, and ids of records that exist."""

    name: str
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))  # the portal's clock
    cosigner: CosignerKey = field(default_factory=lambda: _cosigner_key())


@pytest.fixture(params=CALLERS)
def caller(request: pytest.FixtureRequest, portal: Portal, people: Identities) -> Iterator[Caller]:
    """A tenant administrator and a security officer with all-scope tokens, an active grant.

    The officer's grant to tenant A (approved by a second officer) makes A's contacts
    readable, so that 200 answer is checked as well. Tokens cannot hold the scopes that
    request grants or manage tokens: a signed-in officer's browser session reaches those.
    """
    admin = people.user("admin@midori.example.jp", Role.TENANT_ADMIN, A)
    officer = people.user("officer@provider.example.jp", Role.SECURITY_OFFICER)
    approver = people.user("approver@provider.example.jp", Role.SECURITY_OFFICER)
    with people.work() as services:
        admin_token = tokens.create_token(
            services, admin, name="schemathesis", scopes=list(tokens.SCOPES), days=1
        )
        officer_token = tokens.create_token(
            services, officer, name="schemathesis", scopes=list(tokens.SCOPES), days=1
        )
        grant = grants.request_grant(services, officer, tenant_id=A, reason=REASON, minutes=60)
        grants.approve(services, approver, grant.id)
    portal.app.state.mamori.ledger.append([sample_event(n, A) for n in range(5)])
    now = people.clock.now
    with people.work() as services:
        analysis = request_analysis(services.session, admin, now - timedelta(days=2), now, now)
        start, end = now - timedelta(days=2), now + timedelta(minutes=1)
        asked = disclosure.request(services, admin, A, start, end, {}, REASON)
        cosigner = _cosigner_key()
        cosigning.register_cosigner(
            services.session, services.audit_trail, admin, cosigner.vkey, now
        )
        checkpoint = services.session.scalars(select(LedgerCheckpoint)).first()
        assert checkpoint is not None
        cosigner.line = cosigner.sign(checkpoint.note)
    ids = {
        "size": [str(checkpoint.size)],
        "analysis_id": [analysis.id],
        "disclosure_id": [asked.id],
        "tenant_id": [A, B],
        "user_id": [admin.user_id, officer.user_id, approver.user_id],
        "grant_id": [grant.id],
        "token_id": [admin_token.row.id, officer_token.row.id],
    }
    name = str(request.param)
    if name == "officer_browser":
        with portal.client() as client:
            portal.sign_in(client, "officer@provider.example.jp")
            csrf = csrf_of(client.get("/dashboard").text)
            session = client.cookies["mamori_session"]
            yield Caller(
                name, {"X-CSRF-Token": csrf}, {"mamori_session": session}, ids, now, cosigner
            )
        return
    secrets = {
        "tenant_admin_token": admin_token.secret,
        "security_officer_token": officer_token.secret,
    }
    headers = {"Authorization": f"Bearer {secrets[name]}"} if name in secrets else {}
    yield Caller(name, headers, {}, ids, now, cosigner)


def _api_schema(portal: Portal, caller: Caller) -> BaseSchema:
    """The document the app serves, with generation nudged towards existing records."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", portal.app)

    @schema.hook("flatmap_path_parameters")
    def existing_ids(context: HookContext, path_parameters: dict[str, Any] | None) -> Any:
        generated = path_parameters or {}
        names = [name for name in generated if name in caller.ids]
        if not names:
            return st.just(generated)
        existing = st.fixed_dictionaries({n: st.sampled_from(caller.ids[n]) for n in names})
        return st.one_of(st.just(generated), existing.map(lambda ids: {**generated, **ids}))

    @schema.hook("flatmap_body")
    def existing_tenant(context: HookContext, body: Any) -> Any:
        if isinstance(body, dict) and set(body) == {"vkey"}:
            return st.one_of(st.just(body), st.just({"vkey": caller.cosigner.vkey}))
        if isinstance(body, dict) and set(body) == {"line"}:
            return st.one_of(st.just(body), st.just({"line": caller.cosigner.line}))
        if isinstance(body, dict) and "starts_at" in body:
            return st.one_of(st.just(body), st.just({**body, **_valid_range(body, caller.now)}))
        if not (isinstance(body, dict) and "tenant_id" in body):
            return st.just(body)
        tenant = st.sampled_from(caller.ids["tenant_id"])
        return st.one_of(
            st.just(body),
            tenant.map(lambda t: {**body, "tenant_id": t}),
            tenant.map(lambda t: {**body, **VALID_GRANT, "tenant_id": t}),
        )

    return schema


def _valid_range(body: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A recent two-day range; for a disclosure also the tenant, reason and authority."""
    # Analyses end in the past; a disclosure's range must include events stored just now.
    end = now + timedelta(minutes=1) if "reason" in body else now - timedelta(minutes=1)
    valid: dict[str, Any] = {
        "starts_at": (now - timedelta(days=2)).isoformat(),
        "ends_at": end.isoformat(),
    }
    if "reason" in body:
        valid |= {"reason": REASON, "tenant_id": A, "authority": "Kita Police Station"}
        valid["filters"] = {}
    return valid


def _should_succeed(caller: str, labels: set[str]) -> set[str]:
    """Operations that must answer 2xx at least once to this caller while being fuzzed."""
    if caller == "anonymous":
        return set()
    role = TOKEN_ROLES.get(caller, Role.SECURITY_OFFICER)
    expected = labels - TOKEN_ONLY if caller == "officer_browser" else labels - SESSION_ONLY
    if caller != "officer_browser" and Permission.INGEST_EVENTS not in PERMISSIONS[role]:
        expected -= TOKEN_ONLY
    if Permission.REQUEST_ANALYSIS not in PERMISSIONS[role]:
        expected -= {label for label in labels if "/analyses" in label}
    if Permission.COSIGN_CHECKPOINTS not in PERMISSIONS[role]:
        expected -= {label for label in labels if "cosign" in label}
    return expected


def _operations(schema: BaseSchema) -> list[APIOperation]:
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI document is invalid: {result.err()}"
        found.append(result.ok())
    return found


def _fuzz(operation: APIOperation, caller: Caller, statuses: set[int]) -> None:
    """Valid and invalid requests to one operation; each response passes CHECKS."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @FUZZ
    @hypothesis.given(case=cases)
    def run(case: Case) -> None:
        response = case.call(headers=caller.headers, cookies=caller.cookies)
        statuses.add(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=caller.headers)

    run()


def test_openapi_document_is_served_and_documents_only_the_api(portal: Portal) -> None:
    with portal.client() as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    paths = sorted(response.json()["paths"])
    assert paths, "the OpenAPI document lists no operation"
    assert [p for p in paths if not p.startswith("/api/v1/")] == []


def test_no_server_error_and_every_response_matches_its_schema(
    portal: Portal, caller: Caller, subtests: pytest.Subtests
) -> None:
    schema = _api_schema(portal, caller)
    operations = _operations(schema)
    assert operations
    answered: dict[str, set[int]] = {}
    for operation in operations:
        with subtests.test(msg=operation.label, caller=caller.name):
            _fuzz(operation, caller, answered.setdefault(operation.label, set()))
    # Passing is only worth something if the success answers were among those checked.
    succeeded = {label for label, codes in answered.items() if any(200 <= c < 300 for c in codes)}
    missing = _should_succeed(caller.name, set(answered)) - succeeded
    seen = {label: sorted(answered[label]) for label in sorted(missing)}
    assert not missing, f"no 2xx answer to {caller.name} from {sorted(missing)}; got {seen}"
