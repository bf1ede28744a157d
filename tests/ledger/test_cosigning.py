"""A customer cosigns checkpoints through the API; a later history inconsistent with it fails.

The customer side uses only the public API and the standalone verifier: it checks each
checkpoint's log signature and, before cosigning a newer one, a consistency proof from
the last checkpoint it cosigned. A forged newer checkpoint, even one signed with the
provider's own log key, does not extend what the customer saw and is rejected.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from fastapi.testclient import TestClient

from mamori.ledger.notes import COSIGNATURE_V1, Checkpoint, cosign, raw_public, verifier_key
from mamori.ledger.service import LedgerService
from mamori.tenants.permissions import Role
from mamori.tenants.service import tokens
from tests.ledger.conftest import sample_event
from tests.support.identities import Identities
from tests.support.portal import Portal

A = "midori-city-boe"
COSIGNER = "it.midori-city.example.jp/cosigner"
VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "mamori_verify.py"


def standalone_verifier() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mamori_verify", VERIFIER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["mamori_verify"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def _cosigner() -> tuple[bytes, str]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = os.urandom(32)
    public = raw_public(Ed25519PrivateKey.from_private_bytes(seed).public_key())
    return seed, verifier_key(COSIGNER, COSIGNATURE_V1, public)


def test_customer_cosigns_and_rejects_a_forged_history(portal: Portal, people: Identities) -> None:
    verifier = standalone_verifier()
    ledger: LedgerService = portal.app.state.mamori.ledger
    admin = people.user("admin@midori.example.jp", Role.TENANT_ADMIN, A)
    with people.work() as services:
        secret = tokens.create_token(
            services, admin, name="cosigner", scopes=["ledger:read"], days=5
        ).secret
    ledger.append([sample_event(n, A) for n in range(10)])
    seed, vkey = _cosigner()
    auth = {"Authorization": f"Bearer {secret}"}
    with TestClient(portal.app) as http:
        log_key = http.get("/api/v1/ledger/vkey").text.strip()
        assert log_key == ledger.vkey
        assert (
            http.post("/api/v1/ledger/cosigners", json={"vkey": vkey}, headers=auth).status_code
            == 201
        )

        first = http.get("/api/v1/ledger/checkpoints", headers=auth).json()[0]
        assert verifier.verify_checkpoint_note(first["note"], log_key) == []
        _cosign(http, auth, first, seed)

        portal.clock.advance(minutes=61)  # the next append publishes a new checkpoint
        ledger.append([sample_event(n, "sakura-town-boe") for n in range(10, 20)])
        newer = http.get("/api/v1/ledger/checkpoints", headers=auth).json()[0]
        assert newer["size"] > first["size"]
        proof = http.get(
            "/api/v1/ledger/consistency",
            params={"old": first["size"], "new": newer["size"]},
            headers=auth,
        ).json()
        assert verifier.verify_consistency_document(proof, log_key) == []
        _cosign(http, auth, newer, seed)

        # The provider presents a different history of the same size, signed with its key.
        body = Checkpoint.parse(newer["note"].split("\n\n")[0] + "\n")
        forged = ledger.signer.sign(Checkpoint(body.origin, body.size, b"\x07" * 32))
        assert verifier.verify_consistency_document({**proof, "new_checkpoint": forged}, log_key)
        # Nor can a key other than the log's stand in for it.
        stranger = _stranger_note(body)
        assert verifier.verify_consistency_document({**proof, "new_checkpoint": stranger}, log_key)

        # A cosigner's view only grows, and only its own key counts.
        late = _cosign(http, auth, first, seed, expect=409)
        assert str(newer["size"]) in late  # "you already cosigned the larger checkpoint N"
        other_seed, _ = _cosigner()
        assert _cosign(http, auth, newer, other_seed, expect=400)
        listed = http.get("/api/v1/ledger/cosignatures", headers=auth).json()
        assert [c["checkpoint_size"] for c in listed] == [newer["size"], first["size"]]
    report = ledger.verify()
    assert report.ok and report.cosignatures == 2


def _cosign(
    http: TestClient,
    auth: dict[str, str],
    checkpoint: dict[str, object],
    seed: bytes,
    expect: int = 201,
) -> str:
    note = str(checkpoint["note"])
    body = note.split("\n\n")[0] + "\n"
    line = cosign(body, COSIGNER, seed, 1_764_200_000).text()
    answer = http.post(
        f"/api/v1/ledger/checkpoints/{checkpoint['size']}/cosignatures",
        json={"line": line},
        headers=auth,
    )
    assert answer.status_code == expect, answer.text
    return answer.text


def _stranger_note(body: Checkpoint) -> str:
    from mamori.ledger.notes import NoteSigner

    return NoteSigner(body.origin, os.urandom(32)).sign(body)
