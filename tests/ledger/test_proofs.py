"""Proof bundles and consistency proofs, checked by the standalone verifier.

The verifier runs both in-process (imported from its file) and as a script copied alone
into a temporary directory under `python -I`, the way a customer runs it. Tampering
trials change one byte of a saved bundle at many positions: the verifier must answer
2 when the file no longer parses as JSON and 1 otherwise, never 0.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from mamori.core.db import Database
from mamori.core.errors import ConflictError, InputError, NotFoundError
from mamori.ledger import merkle
from mamori.ledger.models import LedgerBlock, LedgerChunk
from mamori.ledger.notes import (
    Checkpoint,
    NoteError,
    NoteSigner,
    cosign,
    open_checkpoint,
    verifier_key,
)
from mamori.ledger.proofs import _Levels, build_bundle, bundle_bytes, consistency
from mamori.ledger.service import LedgerService
from tests.ledger.stored_support import edit_event
from tests.support.identities import FakeClock

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "mamori_verify.py"
Filled = Callable[[int, int], None]
PARTS = ["subject", "content"]
Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def verifier() -> ModuleType:
    """tools/mamori_verify.py, imported from its file."""
    spec = importlib.util.spec_from_file_location("mamori_verify", VERIFIER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mamori_verify"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def script(tmp_path: Path) -> Run:
    """Run a copy of the verifier, alone in a temporary directory, in isolated mode."""
    home = tmp_path / "auditor"
    home.mkdir()
    shutil.copy(VERIFIER, home / "mamori_verify.py")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-I", "mamori_verify.py", *args]
        return subprocess.run(command, cwd=home, capture_output=True, text=True, check=False)

    return run


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """A session on the ledger's database."""
    with database.session() as session:
        yield session


def saved(tmp_path: Path, document: dict[str, Any], name: str = "bundle.json") -> Path:
    """`document` written in its canonical form."""
    path = tmp_path / name
    path.write_bytes(bundle_bytes(document))
    return path


def test_levels_give_the_rfc_audit_paths() -> None:
    for size in range(1, 40):
        leaves = [merkle.leaf_hash(bytes([n])) for n in range(size)]
        tree = _Levels(leaves)
        assert tree.root() == merkle.root(leaves)
        for index in range(size):
            assert tree.path(index) == merkle.inclusion_proof(index, leaves)


def test_a_bundle_verifies_in_process_and_as_a_script(
    ledger: LedgerService,
    fill: Filled,
    session: Session,
    verifier: ModuleType,
    script: Run,
    tmp_path: Path,
) -> None:
    fill(4, 30)
    bundle = build_bundle(session, ledger.vkey, [3, 45, 119, 45])
    assert [event["seq"] for event in bundle["events"]] == [3, 45, 119]
    assert open_checkpoint(bundle["checkpoint"], ledger.vkey).size == 12  # chunk 11: the head
    assert verifier.verify_bundle(bundle, ledger.vkey) == []
    path = saved(tmp_path, bundle)
    pinned = script("bundle", str(path), "--vkey", ledger.vkey)
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    assert "RESULT: verified" in pinned.stdout and "taken from the bundle" not in pinned.stdout
    unpinned = script("bundle", str(path), "--json")
    assert unpinned.returncode == 0, unpinned.stdout + unpinned.stderr
    report = json.loads(unpinned.stdout)
    assert report["ok"] and report["key_source"] == "bundle"
    assert "taken from the bundle itself" in report["warnings"][0]
    assert [event["seq"] for event in report["events"]] == [3, 45, 119]


def test_the_smallest_covering_checkpoint_is_chosen(
    ledger: LedgerService, fill: Filled, session: Session, verifier: ModuleType
) -> None:
    fill(4, 30)  # 12 chunks of 10 events; checkpoints published at sizes 3 and 9
    for seq, size in ((0, 3), (29, 3), (30, 9), (89, 9), (90, 12)):
        bundle = build_bundle(session, ledger.vkey, [seq])
        assert open_checkpoint(bundle["checkpoint"], ledger.vkey).size == size
        assert verifier.verify_bundle(bundle, ledger.vkey) == []
    bundle = build_bundle(session, ledger.vkey, [0, 5], checkpoint_size=9)
    assert open_checkpoint(bundle["checkpoint"], ledger.vkey).size == 9
    assert verifier.verify_bundle(bundle, ledger.vkey) == []
    assert bundle_bytes(bundle) == bundle_bytes(
        build_bundle(session, ledger.vkey, [5, 0], checkpoint_size=9)
    )
    assert bundle_bytes(bundle).endswith(b"}\n")


def test_redacted_parts_keep_only_their_digest(
    ledger: LedgerService,
    fill: Filled,
    session: Session,
    verifier: ModuleType,
    script: Run,
    tmp_path: Path,
) -> None:
    fill(2, 30)
    whole = build_bundle(session, ledger.vkey, [4, 17])
    bundle = build_bundle(
        session, ledger.vkey, [4, 17], redact={4: ["subject"], 17: {"content", "subject"}}
    )
    first, second = bundle["events"]
    assert set(first["subject"]) == {"redacted", "digest"} and "value" in first["content"]
    assert second["subject"]["redacted"] and second["content"]["redacted"]
    text = bundle_bytes(bundle).decode()
    for event, parts in ((whole["events"][0], ["subject"]), (whole["events"][1], PARTS)):
        for part in parts:
            assert event[part]["salt"] not in text
            assert json.dumps(event[part]["value"])[1:-1] not in text
    assert verifier.verify_bundle(bundle, ledger.vkey) == []
    result = script("bundle", str(saved(tmp_path, bundle)), "--vkey", ledger.vkey)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(redacted)" in result.stdout


def mutations(data: bytes, rng: random.Random) -> Iterator[tuple[int, bytes]]:
    """(position, changed file): random positions plus some in every kind of field."""
    vkey = data.index(b'"vkey": "') + 9
    targets = [
        *range(vkey, data.index(b'"', vkey)),
        data.index("\u2014".encode()),
        len(data) - 1,  # the trailing newline
        len(data) - 2,  # the closing brace
    ]
    for key in (b'"salt": "', b'"digest": "', b'"checkpoint": "', b'"head": "', b'"chunk_leaf": "'):
        start = data.index(key) + len(key)
        targets += [start, start + rng.randrange(40), data.index(b'"', start) - 1]
    for key in (b'"chunk_path": [', b'"log_path": [', b'"seq": ', b'"log_index": '):
        start = data.index(key) + len(key)
        targets += [start + rng.randrange(60), start + 1]
    # Around base64 padding, where a changed character may only touch unused bits.
    padding = [i for i, byte in enumerate(data) if byte == ord("=") and data[i - 1] != ord("=")]
    targets += [i - shift for i in padding[:30] for shift in (0, 1)]
    targets += rng.sample(range(len(data)), min(len(data), 400))
    for position in targets:
        original = data[position]
        changes = {original ^ 1, original ^ 0x20, rng.choice(b' \t\r\n0aA/+=\\"{,:e')}
        for byte in sorted(changes - {original}):
            yield position, data[:position] + bytes([byte]) + data[position + 1 :]


def expected_status(changed: bytes) -> int:
    """2 when the changed file is no longer UTF-8 JSON, otherwise 1."""
    try:
        json.loads(changed.decode("utf-8"))
    except ValueError:
        return 2
    return 1


def test_any_changed_byte_is_rejected(
    ledger: LedgerService,
    fill: Filled,
    session: Session,
    verifier: ModuleType,
    script: Run,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fill(4, 30)
    bundle = build_bundle(session, ledger.vkey, [7, 44], redact={44: ["content"]})
    data = bundle_bytes(bundle)
    path = tmp_path / "changed.json"
    rng = random.Random(27017)  # noqa: S311 - reproducible trials, not secrets
    trials = list(mutations(data, rng))
    assert len(trials) > 500
    vkey_at = data.index(ledger.vkey.encode())
    for position, changed in trials:
        path.write_bytes(changed)
        wanted = expected_status(changed)
        status = verifier.main(["bundle", str(path), "--vkey", ledger.vkey])
        assert status == wanted, (position, changed[position - 20 : position + 20])
        if vkey_at <= position < vkey_at + len(ledger.vkey) or position % 9 == 0:
            assert verifier.main(["bundle", str(path)]) == wanted, position
    capsys.readouterr()
    for position, changed in rng.sample(trials, 6):
        path.write_bytes(changed)
        result = script("bundle", str(path), "--vkey", ledger.vkey)
        assert result.returncode == expected_status(changed), (position, result.stdout)
        if result.returncode == 1:
            assert "FAILED: " in result.stdout


def test_a_bundle_for_another_key_is_rejected(
    ledger: LedgerService,
    fill: Filled,
    session: Session,
    verifier: ModuleType,
    script: Run,
    tmp_path: Path,
) -> None:
    fill(2, 30)
    bundle = build_bundle(session, ledger.vkey, [12])
    impostor = NoteSigner(ledger.signer.name, b"\x07" * 32)
    path = saved(tmp_path, bundle)
    result = script("bundle", str(path), "--vkey", impostor.vkey())
    assert result.returncode == 1 and "is not the pinned key" in result.stdout
    # The same bundle re-signed by the impostor: consistent in itself, refused when pinned.
    forged = dict(bundle, vkey=impostor.vkey())
    forged["checkpoint"] = impostor.sign(open_checkpoint(bundle["checkpoint"], ledger.vkey))
    assert verifier.verify_bundle(forged, None) == []
    assert verifier.verify_bundle(forged, ledger.vkey) != []
    result = script("bundle", str(saved(tmp_path, forged)), "--vkey", ledger.vkey)
    assert result.returncode == 1 and "is not the pinned key" in result.stdout
    assert script("bundle", str(path), "--vkey", "not a key").returncode == 2
    assert script("bundle", str(tmp_path / "absent.json")).returncode == 2


def test_consistency_between_checkpoints(
    ledger: LedgerService,
    fill: Filled,
    session: Session,
    verifier: ModuleType,
    script: Run,
    tmp_path: Path,
) -> None:
    fill(4, 30)
    for old, new in ((3, 9), (3, None), (9, 12), (3, 3)):
        document = consistency(session, old, new)
        assert verifier.verify_consistency_document(document, ledger.vkey) == [], (old, new)
    document = consistency(session, 3, 9)
    result = script("consistency", str(saved(tmp_path, document)), "--vkey", ledger.vkey)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "extends the log at size 3" in result.stdout
    swapped = dict(document, old_checkpoint=document["new_checkpoint"])
    swapped["new_checkpoint"] = document["old_checkpoint"]
    assert verifier.verify_consistency_document(swapped, ledger.vkey) != []


def test_a_forged_newer_checkpoint_is_rejected(
    ledger: LedgerService,
    fill: Filled,
    session: Session,
    verifier: ModuleType,
    script: Run,
    tmp_path: Path,
) -> None:
    fill(4, 30)
    document = consistency(session, 3, 9)
    newer = open_checkpoint(document["new_checkpoint"], ledger.vkey)
    impostor = NoteSigner(ledger.signer.name, b"\x09" * 32)
    other_key = dict(document, new_checkpoint=impostor.sign(newer))
    forked = Checkpoint(newer.origin, newer.size, bytes(32), newer.extensions)
    other_root = dict(document, new_checkpoint=ledger.signer.sign(forked))
    for forged, why in ((other_key, "no signature by"), (other_root, "newer root")):
        problems = verifier.verify_consistency_document(forged, ledger.vkey)
        assert len(problems) == 1 and why in problems[0], problems
        result = script("consistency", str(saved(tmp_path, forged)), "--vkey", ledger.vkey)
        assert result.returncode == 1 and why in result.stdout


def test_checkpoint_notes_and_cosignatures(
    ledger: LedgerService,
    fill: Filled,
    session: Session,
    script: Run,
    tmp_path: Path,
) -> None:
    fill(2, 30)
    note = build_bundle(session, ledger.vkey, [0])["checkpoint"]
    seed, when = b"\x05" * 32, int(datetime(2026, 4, 2, tzinfo=UTC).timestamp())
    body = note.partition("\n\n")[0] + "\n"
    line = cosign(body, "witness.midori-city.example/w1", seed, when)
    cosigner = NoteSigner("witness.midori-city.example/w1", seed)
    cosigner_vkey = verifier_key(cosigner.name, 0x04, cosigner.public_key)
    path = tmp_path / "checkpoint.txt"
    path.write_text(note + line.text(), encoding="utf-8")
    result = script("checkpoint", str(path), "--vkey", ledger.vkey, "--cosigner", cosigner_vkey)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "cosigned by witness.midori-city.example/w1 at 2026-04-02" in result.stdout
    stranger = NoteSigner("witness.sakura.example/w1", b"\x06" * 32)
    stranger_vkey = verifier_key(stranger.name, 0x04, stranger.public_key)
    result = script("checkpoint", str(path), "--vkey", ledger.vkey, "--cosigner", stranger_vkey)
    assert result.returncode == 1 and "no signature by witness.sakura" in result.stdout
    path.write_text(note, encoding="utf-8")
    result = script("checkpoint", str(path), "--vkey", ledger.vkey, "--cosigner", cosigner_vkey)
    assert result.returncode == 1
    lines = note.split("\n")
    lines[1] = str(int(lines[1]) + 1)
    path.write_text("\n".join(lines), encoding="utf-8")
    assert script("checkpoint", str(path), "--vkey", ledger.vkey).returncode == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("origin\n12\n" + "A" * 44, "end with a newline"),
        ("origin\n12\n", "origin, a size and a root"),
        ("origin\n\u00b2\n" + "A" * 43 + "=\n", "not a decimal number"),
        ("origin\n012\n" + "A" * 43 + "=\n", "not a decimal number"),
        ("origin\n12\n" + "A" * 42 + "==\n", "not 32 bytes"),
        ("origin\n12\n" + "*" * 43 + "=\n", "not base64"),
        ("origin\n12\n" + "A" * 43 + "=\n\n\n", "extension lines"),
    ],
)
def test_a_malformed_checkpoint_body_is_named(body: str, problem: str) -> None:
    with pytest.raises(NoteError, match=problem):
        Checkpoint.parse(body)
    assert Checkpoint.parse("origin\n12\n" + "A" * 43 + "=\n").size == 12


def test_bundle_requests_that_cannot_be_met(
    ledger: LedgerService, fill: Filled, session: Session, ledger_clock: FakeClock
) -> None:
    fill(4, 30)
    with pytest.raises(NotFoundError):
        build_bundle(session, ledger.vkey, [120])
    with pytest.raises(NotFoundError):
        build_bundle(session, ledger.vkey, [0], checkpoint_size=7)
    with pytest.raises(InputError):
        build_bundle(session, ledger.vkey, [95], checkpoint_size=9)
    with pytest.raises(InputError):
        build_bundle(session, ledger.vkey, [])
    with pytest.raises(InputError):
        build_bundle(session, ledger.vkey, [1], redact={1: ["head"]})
    with pytest.raises(InputError):
        build_bundle(session, ledger.vkey, [1], redact={2: ["subject"]})
    with pytest.raises(NotFoundError):
        consistency(session, 4)
    with pytest.raises(InputError):
        consistency(session, 9, 3)
    session.execute(
        update(LedgerChunk)
        .where(LedgerChunk.index == 1)
        .values(secret=None, purged_at=ledger_clock())
    )
    session.execute(delete(LedgerBlock).where(LedgerBlock.chunk_index == 1))
    with pytest.raises(ConflictError, match="purged"):
        build_bundle(session, ledger.vkey, [12])
    assert build_bundle(session, ledger.vkey, [0, 22])["events"][1]["seq"] == 22


def test_a_tampered_ledger_issues_no_bundle(
    ledger: LedgerService, fill: Filled, session: Session
) -> None:
    fill(2, 30)
    edit_event(session, 5, "content", '{"message":"edited"}')
    with pytest.raises(ConflictError, match="event 5"):
        build_bundle(session, ledger.vkey, [5])


def test_the_verifier_imports_only_the_standard_library_and_cryptography() -> None:
    tree = ast.parse(VERIFIER.read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module is not None
            imported.add(node.module.split(".")[0])
    assert imported - {"cryptography"} <= sys.stdlib_module_names, imported
    assert "cryptography" in imported
