"""Evidence disclosure: request → review → four-eyes approval → package → one download.

The package is opened the way its recipient would: unzipped into an empty directory and
checked with the verifier it carries, run alone under `python -I`.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mamori.core.db import Database
from mamori.core.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.scope import Principal
from mamori.core.settings import Settings
from mamori.ledger import disclosure
from mamori.ledger.service import LedgerService
from mamori.tenants.permissions import Role
from tests.ledger.conftest import TENANTS, sample_event
from tests.support import audit
from tests.support.identities import FakeClock, Identities

A, B = "midori-city-boe", "sakura-town-boe"
START = datetime(2026, 4, 1, tzinfo=UTC)
END = datetime(2026, 4, 2, tzinfo=UTC)
REASON = "Investigating sign-in failures reported by our staff"
EVENTS = 120  # 4 batches of 30, spread over A, B and the provider
People = dict[str, Principal]


@pytest.fixture
def world(demo_database: Database, settings: Settings, ledger_clock: FakeClock) -> Identities:
    """Identity services over the demo provider, on the ledger's clock."""
    return Identities(demo_database, settings, ledger_clock, MemoryNotifier())


@pytest.fixture
def people(world: Identities) -> People:
    """Two tenant A administrators, a member of A, B's administrator and provider staff."""
    return {
        "admin_a": world.user("admin@midori.example.jp", Role.TENANT_ADMIN, A),
        "admin_a2": world.user("admin2@midori.example.jp", Role.TENANT_ADMIN, A),
        "member_a": world.user("member@midori.example.jp", Role.TENANT_MEMBER, A),
        "admin_b": world.user("admin@sakura.example.jp", Role.TENANT_ADMIN, B),
        "officer1": world.user("so1@provider.example.jp", Role.SECURITY_OFFICER),
        "officer2": world.user("so2@provider.example.jp", Role.SECURITY_OFFICER),
        "administrator": world.user("root@provider.example.jp", Role.ADMINISTRATOR),
        "operator": world.user("op@provider.example.jp", Role.OPERATOR),
    }


@pytest.fixture
def filled(fill: Callable[[int, int], None]) -> None:
    """Events of both tenants and the provider in the ledger."""
    fill(4, EVENTS // 4)


def _request(world: Identities, who: Principal, **changes: object) -> str:
    arguments: dict[str, object] = {
        "tenant_id": A,
        "starts_at": START,
        "ends_at": END,
        "filters": {},
        "reason": REASON,
    }
    arguments.update(changes)
    with world.work() as services:
        return disclosure.request(services, who, **arguments).id  # type: ignore[arg-type]


def _approved(world: Identities, people: People, redact: list[str]) -> str:
    disclosure_id = _request(world, people["admin_a"])
    with world.work() as services:
        disclosure.review(services, people["officer1"], disclosure_id, redact, "checked")
    with world.work() as services:
        disclosure.approve(services, people["officer2"], disclosure_id)
    return disclosure_id


def _verify(home: Path, vkey: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-I", "mamori_verify.py", "bundle", "bundle.json", "--vkey", vkey]
    return subprocess.run(command, cwd=home, capture_output=True, text=True, check=False)


@pytest.mark.usefixtures("filled")
def test_disclosure_end_to_end(
    world: Identities, people: People, ledger: LedgerService, tmp_path: Path
) -> None:
    disclosure_id = _request(world, people["admin_a"])
    with world.work() as services:
        row = disclosure.visible(services, people["admin_a"], disclosure_id)
        assert row.state == disclosure.REQUESTED
        # Wednesday 1 April plus ten business days is Wednesday 15 April.
        assert row.review_due_at - row.created_at == timedelta(days=14)
    with pytest.raises(ConflictError, match=r"approve.*requested"), world.work() as services:
        disclosure.approve(services, people["officer2"], disclosure_id)
    with pytest.raises(ForbiddenError), world.work() as services:
        disclosure.review(services, people["admin_a"], disclosure_id, ["subject"], "")
    with pytest.raises(NotFoundError), world.work() as services:
        disclosure.review(services, people["admin_b"], disclosure_id, ["subject"], "")
    with world.work() as services:
        disclosure.review(services, people["officer1"], disclosure_id, ["subject"], "no actors")
    with pytest.raises(ForbiddenError), world.work() as services:
        disclosure.approve(services, people["officer1"], disclosure_id)  # four eyes
    with world.work() as services:
        disclosure.approve(services, people["officer2"], disclosure_id)
    with pytest.raises(ConflictError, match=r"download.*approved"), world.work() as services:
        disclosure.download(services, people["admin_a"], disclosure_id)
    with world.work() as services:
        built = disclosure.build_package(services, ledger, disclosure_id)
        assert built.state == disclosure.READY and built.package_sha256
    for stranger, error in (
        ("officer2", ForbiddenError),
        ("admin_a2", ForbiddenError),
        ("admin_b", NotFoundError),
    ):
        with pytest.raises(error), world.work() as services:
            disclosure.download(services, people[stranger], disclosure_id)
    with world.work() as services:
        package = disclosure.download(services, people["admin_a"], disclosure_id)
    with pytest.raises(ConflictError, match=r"download.*downloaded"), world.work() as services:
        disclosure.download(services, people["admin_a"], disclosure_id)
    with world.work() as services:
        row = disclosure.visible(services, people["officer1"], disclosure_id)
        assert row.package is None and row.state == disclosure.DOWNLOADED
        assert row.package_sha256 == hashlib.sha256(package).hexdigest()

    _check_package(package, tmp_path / "recipient", ledger.vkey)
    _check_audit(world, disclosure_id)


def _check_package(package: bytes, home: Path, vkey: str) -> None:
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        names = set(archive.namelist())
        archive.extractall(home)
    assert names == {"bundle.json", "manifest.json", "README.txt", "mamori_verify.py"}
    manifest = json.loads((home / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tenant"] == A and manifest["redactions"] == ["subject"]
    assert set(manifest["files"]) == names - {"manifest.json"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((home / name).read_bytes()).hexdigest() == digest
    readme = (home / "README.txt").read_text(encoding="utf-8")
    assert "日本語" in readme and "How to verify" in readme and vkey in readme

    verified = _verify(home, vkey)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    bundle = json.loads((home / "bundle.json").read_text(encoding="utf-8"))
    heads = [json.loads(event["head"]) for event in bundle["events"]]
    assert {head["tenant"] for head in heads} == {A}
    assert len(heads) == manifest["events"]["count"]
    assert sum(head["class"] == "log" for head in heads) == EVENTS // len(TENANTS)
    assert all(event["subject"]["redacted"] for event in bundle["events"])
    everything = "".join((home / name).read_text(encoding="utf-8") for name in names)
    assert B not in everything
    for number in range(EVENTS):
        event = sample_event(number).event
        assert event.actor not in everything and event.source_address not in everything

    data = bytearray((home / "bundle.json").read_bytes())
    seq_at = data.index(b'"seq": ') + len(b'"seq": ')
    data[seq_at] ^= 0x01  # one digit becomes another: still JSON, no longer the event
    (home / "bundle.json").write_bytes(bytes(data))
    assert _verify(home, vkey).returncode == 1


def _check_audit(world: Identities, disclosure_id: str) -> None:
    trail = audit.entries(world.database, world.settings, A, "disclosure.")
    mine = [e for e in trail if e.target_id == disclosure_id]
    assert sorted(e.action for e in mine) == [
        "disclosure.approve",
        "disclosure.download",
        "disclosure.package",
        "disclosure.request",
        "disclosure.review",
    ]
    assert {e.tenant_id for e in mine} == {A}


@pytest.mark.usefixtures("filled")
def test_illegal_transitions(world: Identities, people: People, ledger: LedgerService) -> None:
    disclosure_id = _request(world, people["admin_a"])
    with pytest.raises(ForbiddenError), world.work() as services:
        disclosure.review(services, people["member_a"], disclosure_id, [], "")
    with pytest.raises(ForbiddenError), world.work() as services:
        disclosure.review(services, people["administrator"], disclosure_id, [], "")
    with pytest.raises(ForbiddenError), world.work() as services:
        disclosure.reject(services, people["admin_a"], disclosure_id, "not for you to decide")
    with pytest.raises(ConflictError), world.work() as services:
        disclosure.build_package(services, ledger, disclosure_id)
    with world.work() as services:
        disclosure.reject(services, people["officer1"], disclosure_id, "No legal basis given")
    for action in (
        lambda s: disclosure.review(s, people["officer1"], disclosure_id, [], ""),
        lambda s: disclosure.approve(s, people["officer2"], disclosure_id),
        lambda s: disclosure.reject(s, people["officer2"], disclosure_id, "Once is enough"),
        lambda s: disclosure.download(s, people["admin_a"], disclosure_id),
    ):
        with pytest.raises(ConflictError, match="rejected"), world.work() as services:
            action(services)

    reviewed = _request(world, people["admin_a"])
    with world.work() as services:
        disclosure.review(services, people["officer1"], reviewed, ["content"], "")
    with pytest.raises(ConflictError, match=r"review.*reviewed"), world.work() as services:
        disclosure.review(services, people["officer2"], reviewed, [], "")
    with world.work() as services:  # the approver refuses instead
        row = disclosure.reject(services, people["administrator"], reviewed, "Range is too wide")
        assert row.approver_id == people["administrator"].user_id
    trail = audit.entries(world.database, world.settings, A, "disclosure.reject")
    rejections = [e for e in trail if e.action == "disclosure.reject"]
    assert {e.target_id for e in rejections} == {disclosure_id, reviewed}


@pytest.mark.usefixtures("filled")
def test_who_may_ask_and_for_what(
    world: Identities, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ForbiddenError):
        _request(world, people["member_a"])
    with pytest.raises(ForbiddenError):
        _request(world, people["operator"], authority="Tokyo District Court")
    with pytest.raises(NotFoundError):
        _request(world, people["admin_a"], tenant_id=B)
    with pytest.raises(InputError, match="authority"):
        _request(world, people["admin_a"], authority="Anyone")
    with pytest.raises(InputError, match="authority"):
        _request(world, people["officer1"])  # staff must name the authority
    with pytest.raises(NotFoundError):
        _request(world, people["officer1"], tenant_id="no-such", authority="Police")
    for bad in (
        {"ends_at": START + timedelta(days=367)},
        {"ends_at": START},
        {"filters": {"classes": ["secrets"]}},
        {"filters": {"actions": ["a b"]}},
        {"filters": {"colour": ["red"]}},
        {"filters": {"actions": ["nobody-does-this"]}},  # nothing matches
        {"reason": "short"},
        {"reason": "bad \x00 character in the reason"},
    ):
        with pytest.raises(InputError):
            _request(world, people["admin_a"], **bad)
    monkeypatch.setattr(disclosure, "MAX_EVENTS", 5)
    with pytest.raises(InputError, match="narrow"):
        _request(world, people["admin_a"])
    monkeypatch.undo()

    court = _request(world, people["officer1"], authority="Tokyo District Court, case 12")
    own = _request(world, people["admin_a"], filters={"actions": ["login"], "classes": ["log"]})
    with world.work() as services:
        assert [d.id for d in disclosure.disclosures_for(services, people["admin_a"])] == [own]
        assert disclosure.disclosures_for(services, people["admin_b"]) == []
        seen = {d.id for d in disclosure.disclosures_for(services, people["administrator"])}
        assert seen == {court, own}
        with pytest.raises(ForbiddenError):
            disclosure.disclosures_for(services, people["member_a"])
        with pytest.raises(NotFoundError):
            disclosure.visible(services, people["admin_a"], court)


@pytest.mark.usefixtures("filled")
def test_deadlines(world: Identities, people: People, ledger: LedgerService) -> None:
    waiting = _request(world, people["admin_a"])
    ready = _approved(world, people, [])
    with world.work() as services:
        disclosure.build_package(services, ledger, ready)
    world.clock.advance(days=disclosure.DOWNLOAD_DAYS + 1)
    with world.work() as services:
        row = disclosure.visible(services, people["officer1"], waiting)
        assert disclosure.is_overdue(row, services.now()) and row.state == disclosure.REQUESTED
    with pytest.raises(ConflictError, match="expired"), world.work() as services:
        disclosure.download(services, people["admin_a"], ready)
    with world.work() as services:
        assert disclosure.expire(services) == 1
    with world.work() as services:
        row = disclosure.visible(services, people["admin_a"], ready)
        assert row.state == disclosure.EXPIRED and row.package is None
        assert disclosure.expire(services) == 0


@pytest.mark.usefixtures("filled")
def test_content_redaction_and_filters(
    world: Identities, people: People, ledger: LedgerService, tmp_path: Path
) -> None:
    disclosure_id = _request(world, people["admin_a"], filters={"actions": ["login"]})
    with world.work() as services:
        disclosure.review(services, people["officer1"], disclosure_id, ["subject", "content"], "")
    with world.work() as services:
        disclosure.approve(services, people["administrator"], disclosure_id)
    with world.work() as services:
        disclosure.build_package(services, ledger, disclosure_id)
    with world.work() as services:
        package = disclosure.download(services, people["admin_a"], disclosure_id)
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        archive.extractall(tmp_path)
    bundle = json.loads((tmp_path / "bundle.json").read_text(encoding="utf-8"))
    assert all(e["subject"]["redacted"] and e["content"]["redacted"] for e in bundle["events"])
    assert "sign-in" not in (tmp_path / "bundle.json").read_text(encoding="utf-8")
    assert _verify(tmp_path, ledger.vkey).returncode == 0
