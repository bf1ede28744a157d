#!/usr/bin/env python3
# mamori_verify.py: check proofs from a mamori ledger offline, with only the log's public key.
#
# This one file is all a customer or auditor needs: Python 3.11+ and `pip install
# cryptography`. It imports nothing from mamori and re-implements what it relies on, so
# trusting it means reading these few hundred lines, not mamori.
#
#   python mamori_verify.py bundle FILE [--vkey VKEY] [--json]
#       A proof bundle (mamori-proof-bundle/v1). Checks that the checkpoint is signed by
#       the log key (Ed25519, C2SP signed-note), recomputes each event's leaf from its
#       exact head text and its disclosed (salted) or redacted subject and content,
#       follows the event's path to its chunk's root and the chunk's path to the
#       checkpoint's root (RFC 9162), and checks that values stated twice agree (event
#       position, chunk index and size, tenant, class, arrival time). Without --vkey the
#       key is taken from the bundle itself, which the output says: pin the key the
#       provider published.
#   python mamori_verify.py consistency FILE --vkey VKEY
#       A consistency document (mamori-consistency/v1): both checkpoints are signed by the
#       log key and the newer tree extends the older one (RFC 9162 section 2.1.4).
#   python mamori_verify.py checkpoint NOTE_FILE --vkey VKEY [--cosigner VKEY ...]
#       A signed checkpoint note, and a cosignature (C2SP tlog-cosignature,
#       cosignature/v1) by each named cosigner.
#
# Exit status: 0 everything verifies, 1 something does not (each failure is printed),
# 2 the input could not be read (missing file, not UTF-8, not JSON, malformed --vkey).
# Files must be byte for byte as mamori wrote them: a reformatted file is reported.
"""Offline verification of mamori ledger proof bundles, consistency proofs and checkpoints.

Module use: `verify_bundle(data, vkey)`, `verify_consistency_document(data, vkey)` and
`verify_checkpoint_note(note, vkey, cosigners)` return lists of problems (empty: valid);
the `check_*` functions return a `Report` with what was established as well.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

BUNDLE_FORMAT = "mamori-proof-bundle/v1"
CONSISTENCY_FORMAT = "mamori-consistency/v1"
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space open each note signature line
ED25519, COSIGNATURE_V1 = 0x01, 0x04
MAX_NOTE_BYTES, MAX_SIGNATURES, MAX_PATH = 1 << 20, 100, 64
HEX_DIGITS = "0123456789abcdef"


class CheckError(Exception):
    """A check that did not pass, with the reason."""


class UnreadableError(Exception):
    """Input that cannot be read at all (exit status 2)."""


@dataclass
class Report:
    """What one verification established (`facts`) and what failed (`problems`)."""

    problems: list[str] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems


# --- strict decoding: every value has one accepted spelling, so no byte goes unchecked ---


def b64(text: object, what: str, size: int | None = None) -> bytes:
    """Decode canonical base64 (padding and unused bits as an encoder writes them)."""
    if not isinstance(text, str):
        raise CheckError(f"{what} is not a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckError(f"{what} is not base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise CheckError(f"{what} is not canonical base64")
    if size is not None and len(raw) != size:
        raise CheckError(f"{what} is {len(raw)} bytes, not {size}")
    return raw


def hex_hash(text: object, what: str) -> bytes:
    """Decode a SHA-256 hash written as 64 lower-case hex digits."""
    if not isinstance(text, str) or len(text) != 64 or text.strip(HEX_DIGITS):
        raise CheckError(f"{what} is not a SHA-256 hash in lower-case hex")
    return bytes.fromhex(text)


def utf8(text: str, what: str) -> bytes:
    """The UTF-8 bytes of `text` (JSON escapes can smuggle in lone surrogates)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CheckError(f"{what} is not valid Unicode text") from exc


def natural(value: object, what: str) -> int:
    """A JSON integer that is zero or more (booleans and floats are refused)."""
    if type(value) is not int or value < 0:
        raise CheckError(f"{what} is not a whole number")
    return value


def exact_fields(value: object, names: set[str], what: str) -> dict[str, Any]:
    """A JSON object with exactly the fields `names`."""
    if not isinstance(value, dict):
        raise CheckError(f"{what} is not a JSON object")
    if set(value) != names:
        extra, missing = sorted(set(value) - names), sorted(names - set(value))
        raise CheckError(f"{what} has unexpected fields {extra} or lacks {missing}")
    return value


# --- RFC 9162 section 2.1: Merkle tree hashing and proofs ---


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf: SHA-256 of 0x00 and the leaf data."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256 of 0x01 and both children."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion_proof(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> None:
    """Raise CheckError unless `path` leads leaf hash `leaf` at `index` of `size` to `root`."""
    if index >= size:
        raise CheckError(f"leaf {index} lies outside a tree of {size}")
    position, last, node = index, size - 1, leaf
    for sibling in path:
        if last == 0:
            raise CheckError("the path is longer than the tree is deep")
        if position % 2 == 1 or position == last:
            node = node_hash(sibling, node)
            # A right edge with no sibling: climb until this node is a right child again.
            while position % 2 == 0 and position != 0:
                position, last = position // 2, last // 2
        else:
            node = node_hash(node, sibling)
        position, last = position // 2, last // 2
    if last != 0:
        raise CheckError("the path is shorter than the tree is deep")
    if node != root:
        raise CheckError("the path leads to a different root")


def verify_consistency_proof(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Raise CheckError unless `proof` shows tree (`new_size`, `new_root`) extends the old one."""
    if old_size == 0 or old_size > new_size:
        raise CheckError(f"no consistency proof runs from size {old_size} to size {new_size}")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise CheckError("two checkpoints of the same size disagree")
        return
    nodes = list(proof)
    if old_size & (old_size - 1) == 0:  # the old tree is a complete subtree of the new one
        nodes.insert(0, old_root)
    if not nodes:
        raise CheckError("the consistency proof is empty")
    position, last = old_size - 1, new_size - 1
    while position % 2 == 1:
        position, last = position // 2, last // 2
    old_node = new_node = nodes[0]
    for node in nodes[1:]:
        if last == 0:
            raise CheckError("the consistency proof is too long")
        if position % 2 == 1 or position == last:
            old_node, new_node = node_hash(node, old_node), node_hash(node, new_node)
            while position % 2 == 0 and position != 0:
                position, last = position // 2, last // 2
        else:
            new_node = node_hash(new_node, node)
        position, last = position // 2, last // 2
    if last != 0:
        raise CheckError("the consistency proof is too short")
    if old_node != old_root:
        raise CheckError("the consistency proof does not lead to the older root")
    if new_node != new_root:
        raise CheckError("the consistency proof does not lead to the newer root")


def hash_path(value: object, what: str) -> list[bytes]:
    """A JSON list of base64 SHA-256 hashes."""
    if not isinstance(value, list) or len(value) > MAX_PATH:
        raise CheckError(f"{what} is not a list of at most {MAX_PATH} hashes")
    return [b64(item, f"{what} entry {n}", 32) for n, item in enumerate(value)]


# --- C2SP signed-note, tlog-checkpoint and tlog-cosignature ---


@dataclass(frozen=True)
class VerifierKey:
    """A signed-note verifier key: `<name>+<hex key ID>+<base64(type || public key)>`."""

    name: str
    algorithm: int
    public_key: bytes
    key_id: bytes


@dataclass(frozen=True)
class Checkpoint:
    """The origin, tree size, root hash and extension lines of a checkpoint body."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes


def compute_key_id(name: str, algorithm: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || key)[:4], as signed-note and cosignature define."""
    return hashlib.sha256(
        utf8(name, "a key name") + b"\n" + bytes([algorithm]) + public_key
    ).digest()[:4]


def parse_vkey(text: str) -> VerifierKey:
    """Read an Ed25519 (0x01) or cosignature/v1 (0x04) verifier key, checking its ID."""
    parts = text.split("+", 2)  # names and hex have no "+"; only the base64 may
    if len(parts) != 3 or not parts[0] or any(c.isspace() for c in parts[0]):
        raise CheckError("a verifier key reads <name>+<key id>+<base64 key>")
    name, hex_id, encoded = parts
    if len(hex_id) != 8 or hex_id.strip(HEX_DIGITS):
        raise CheckError("a verifier key's ID is eight lower-case hex digits")
    raw = b64(encoded, "the verifier key", 33)
    if raw[0] not in (ED25519, COSIGNATURE_V1):
        raise CheckError(f"the key type 0x{raw[0]:02x} is not Ed25519 or cosignature/v1")
    key = VerifierKey(name, raw[0], raw[1:], bytes.fromhex(hex_id))
    if compute_key_id(name, key.algorithm, key.public_key) != key.key_id:
        raise CheckError("the verifier key's ID does not match its name and key")
    return key


def split_note(note: str) -> tuple[str, list[NoteSignature]]:
    """(body, signature lines) of a signed note; the body keeps its final newline."""
    if len(utf8(note, "the note")) > MAX_NOTE_BYTES or not note.endswith("\n"):
        raise CheckError("a signed note is at most 1 MiB and ends with a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise CheckError("the note has no blank line before its signatures")
    body, lines = note[: cut + 1], note[cut + 2 : -1].split("\n")
    if any(ord(c) < 0x20 and c != "\n" for c in body):
        raise CheckError("the note text contains control characters")
    if len(lines) > MAX_SIGNATURES:
        raise CheckError("the note has too many signatures")
    signatures = []
    for line in lines:
        words = line[len(SIGNATURE_PREFIX) :].split(" ")
        if not line.startswith(SIGNATURE_PREFIX) or len(words) != 2 or not words[0]:
            raise CheckError(f"not a signature line: {line[:60]!r}")
        raw = b64(words[1], f"the signature by {words[0]}")
        if len(raw) < 5:
            raise CheckError(f"the signature by {words[0]} is too short")
        signatures.append(NoteSignature(words[0], raw[:4], raw[4:]))
    return body, signatures


def parse_checkpoint(body: str) -> Checkpoint:
    """Read a checkpoint body: origin, decimal size, base64 root, then extension lines."""
    lines = body[:-1].split("\n")
    if len(lines) < 3 or not lines[0]:
        raise CheckError("a checkpoint has an origin, a tree size and a root hash")
    size = lines[1]
    if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise CheckError(f"the tree size {size!r} is not a decimal number")
    if any(not line for line in lines[3:]):
        raise CheckError("a checkpoint's extension lines are not empty")
    return Checkpoint(lines[0], int(size), b64(lines[2], "the root hash", 32), tuple(lines[3:]))


def _signed_by(signatures: list[NoteSignature], key: VerifierKey) -> NoteSignature:
    # The first line naming the key decides: a bad one is never excused by a later one.
    for signature in signatures:
        if signature.name == key.name and signature.key_id == key.key_id:
            return signature
    raise CheckError(f"the note carries no signature by {key.name}")


def _ed25519(public_key: bytes, signature: bytes, message: bytes, what: str) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise CheckError(f"{what} does not verify") from exc


def open_note(note: object, key: VerifierKey, what: str = "the checkpoint") -> Checkpoint:
    """The checkpoint in `note`, once the log's signature by `key` has verified."""
    if not isinstance(note, str):
        raise CheckError(f"{what} is not a signed note")
    if key.algorithm != ED25519:
        raise CheckError("the log key must be an Ed25519 (type 0x01) key")
    try:
        body, signatures = split_note(note)
        signature = _signed_by(signatures, key)
        _ed25519(key.public_key, signature.signature, utf8(body, "the note"), "the log signature")
        checkpoint = parse_checkpoint(body)
    except CheckError as exc:
        raise CheckError(f"{what}: {exc}") from exc
    if checkpoint.origin != key.name:
        raise CheckError(f"{what} names the log {checkpoint.origin!r}, not {key.name!r}")
    return checkpoint


def check_cosignature(note: str, key: VerifierKey) -> int:
    """The time of the cosignature/v1 by `key` on `note`, once it has verified."""
    if key.algorithm != COSIGNATURE_V1:
        raise CheckError(f"{key.name}: a cosigner key has type 0x04 (cosignature/v1)")
    body, signatures = split_note(note)
    signature = _signed_by(signatures, key).signature
    if len(signature) != 8 + 64:
        raise CheckError(f"{key.name}: a cosignature is an 8-byte time and a 64-byte signature")
    moment = int.from_bytes(signature[:8], "big")
    if moment >= 1 << 63:
        raise CheckError(f"{key.name}: the cosignature's time is out of range")
    message = f"cosignature/v1\ntime {moment}\n{body}"
    _ed25519(key.public_key, signature[8:], utf8(message, "the note"), f"{key.name}'s cosignature")
    return moment


# --- proof bundles ---

EVENT_FIELDS = {"seq", "head", "subject", "content", "index_in_chunk", "chunk_size"}
EVENT_FIELDS |= {"chunk_path", "chunk_leaf", "log_index", "log_path"}
CHUNK_FIELDS = {"class", "first_seq", "index", "received_at", "root", "size", "tenant"}


def _json_text(text: object, what: str) -> dict[str, Any]:
    """Parse stored JSON text only to compare values; it is hashed exactly as given."""
    if not isinstance(text, str):
        raise CheckError(f"{what} is not text")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CheckError(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise CheckError(f"{what} is not a JSON object")
    return value


def part_digest(part: object, what: str) -> tuple[bytes, str | None]:
    """(digest, disclosed text or None) of a subject or content part."""
    if isinstance(part, dict) and "redacted" in part:
        hidden = exact_fields(part, {"redacted", "digest"}, what)
        if hidden["redacted"] is not True:
            raise CheckError(f"the {what} is neither disclosed nor redacted")
        return b64(hidden["digest"], f"the {what} digest", 32), None
    shown = exact_fields(part, {"value", "salt"}, what)
    value = shown["value"]
    if not isinstance(value, str):
        raise CheckError(f"the {what} is not text")
    salt = b64(shown["salt"], f"the {what} salt", 32)
    return hashlib.sha256(salt + utf8(value, f"the {what}")).digest(), value


def _agree(pairs: list[tuple[str, object, object]]) -> None:
    for what, stated, recorded in pairs:
        if type(stated) is not type(recorded) or stated != recorded:
            raise CheckError(f"{what}: {stated!r} here, {recorded!r} in the hashed record")


def _cross_check(event: dict[str, Any], head: dict[str, Any], chunk: dict[str, Any]) -> None:
    """Values the bundle states beside the hashed texts must be the ones hashed."""
    seq, index = natural(event["seq"], "seq"), natural(event["index_in_chunk"], "index_in_chunk")
    first = natural(chunk["first_seq"], "the chunk's first_seq")
    _agree(
        [
            ("the position", seq, head.get("seq")),
            ("the position in the chunk", seq, first + index),
            (
                "the chunk's index in the log",
                natural(event["log_index"], "log_index"),
                chunk["index"],
            ),
            ("the chunk size", natural(event["chunk_size"], "chunk_size"), chunk["size"]),
            ("the tenant", head.get("tenant"), chunk["tenant"]),
            ("the event class", head.get("class"), chunk["class"]),
            ("the arrival time", head.get("received_at"), chunk["received_at"]),
        ]
    )


def _check_event(event: object, checkpoint: Checkpoint) -> dict[str, Any]:
    """Verify one bundle entry against the checkpoint; returns what it discloses."""
    event = exact_fields(event, EVENT_FIELDS, "the entry")
    head = _json_text(event["head"], "the head")
    chunk = exact_fields(_json_text(event["chunk_leaf"], "the chunk leaf"), CHUNK_FIELDS, "chunk")
    _cross_check(event, head, chunk)
    subject_digest, subject = part_digest(event["subject"], "subject")
    content_digest, content = part_digest(event["content"], "content")
    leaf = leaf_hash(utf8(event["head"], "the head") + b"\n" + subject_digest + content_digest)
    chunk_root = hex_hash(chunk["root"], "the chunk leaf's root")
    try:
        path = hash_path(event["chunk_path"], "chunk_path")
        verify_inclusion_proof(event["index_in_chunk"], chunk["size"], leaf, path, chunk_root)
    except CheckError as exc:
        raise CheckError(f"not included in its chunk: {exc}") from exc
    try:
        chunk_leaf = leaf_hash(utf8(event["chunk_leaf"], "the chunk leaf"))
        path = hash_path(event["log_path"], "log_path")
        verify_inclusion_proof(
            event["log_index"], checkpoint.size, chunk_leaf, path, checkpoint.root
        )
    except CheckError as exc:
        raise CheckError(f"its chunk is not included in the checkpoint: {exc}") from exc
    return {"seq": event["seq"], "head": event["head"], "subject": subject, "content": content}


UNPINNED = (
    "the log key was taken from the bundle itself, not pinned with --vkey: this shows the "
    "bundle is internally consistent, not that it comes from the log you trust; compare the "
    "key with the one the provider published, or pass it with --vkey"
)


def _key(text: object, what: str) -> VerifierKey:
    if not isinstance(text, str):
        raise CheckError(f"{what} is not text")
    try:
        return parse_vkey(text)
    except CheckError as exc:
        raise CheckError(f"{what}: {exc}") from exc


def _describe(checkpoint: Checkpoint) -> dict[str, Any]:
    root = base64.b64encode(checkpoint.root).decode("ascii")
    return {"origin": checkpoint.origin, "size": checkpoint.size, "root": root}


def _opened_bundle(data: object, pinned: str | None) -> tuple[Checkpoint, list[Any]]:
    bundle = exact_fields(data, {"format", "vkey", "checkpoint", "events"}, "the bundle")
    if bundle["format"] != BUNDLE_FORMAT:
        raise CheckError(f"the format is {bundle['format']!r}, not {BUNDLE_FORMAT!r}")
    key = _key(bundle["vkey"], "the bundle's key")
    if pinned is not None:
        _key(pinned, "the pinned key")
        if bundle["vkey"] != pinned.strip():
            raise CheckError(f"the bundle's key {bundle['vkey']!r} is not the pinned key")
    checkpoint = open_note(bundle["checkpoint"], key)
    events = bundle["events"]
    if not isinstance(events, list) or not events:
        raise CheckError("the bundle proves no events")
    return checkpoint, events


def _label(event: object, number: int) -> str:
    seq = event.get("seq") if isinstance(event, dict) else None
    return f"event {seq}" if type(seq) is int else f"entry {number}"


def check_bundle(data: object, vkey: str | None = None) -> Report:
    """Verify a proof bundle; with `vkey` None the bundle's own key is used (and warned of)."""
    report = Report(
        details={"command": "bundle", "key_source": "bundle" if vkey is None else "pinned"}
    )
    if vkey is None:
        report.warnings.append(UNPINNED)
    try:
        checkpoint, events = _opened_bundle(data, vkey)
    except CheckError as exc:
        report.problems.append(f"bundle: {exc}")
        return report
    report.details["checkpoint"] = _describe(checkpoint)
    report.facts.append(f"checkpoint: {checkpoint.origin}, size {checkpoint.size}, signed")
    proven = []
    for number, event in enumerate(events, 1):
        label = _label(event, number)
        try:
            shown = _check_event(event, checkpoint)
        except CheckError as exc:
            report.problems.append(f"{label}: {exc}")
            continue
        proven.append(shown)
        report.facts.append(f"{label}: verified")
        report.facts.append(f"  head:    {shown['head']}")
        for part in ("subject", "content"):
            report.facts.append(f"  {part + ':':8} {shown[part] or '(redacted)'}")
    report.details["events"] = proven
    return report


def verify_bundle(data: dict[str, Any], vkey: str | None) -> list[str]:
    """The problems found in a proof bundle (empty when it verifies)."""
    return check_bundle(data, vkey).problems


def check_consistency_document(data: object, vkey: str) -> Report:
    """Verify a consistency document: both checkpoints signed, the newer extending the older."""
    report = Report(details={"command": "consistency"})
    fields = {"format", "old_checkpoint", "new_checkpoint", "proof"}
    try:
        document = exact_fields(data, fields, "the document")
        if document["format"] != CONSISTENCY_FORMAT:
            raise CheckError(f"the format is {document['format']!r}, not {CONSISTENCY_FORMAT!r}")
        key = _key(vkey, "the pinned key")
        old = open_note(document["old_checkpoint"], key, "the older checkpoint")
        new = open_note(document["new_checkpoint"], key, "the newer checkpoint")
        proof = hash_path(document["proof"], "the proof")
        verify_consistency_proof(old.size, new.size, old.root, new.root, proof)
    except CheckError as exc:
        report.problems.append(f"consistency: {exc}")
        return report
    report.details.update(old=_describe(old), new=_describe(new))
    report.facts.append(f"the log at size {new.size} extends the log at size {old.size}")
    for name, checkpoint in (("older", old), ("newer", new)):
        shown = _describe(checkpoint)
        report.facts.append(f"  {name}: {shown['origin']}, size {shown['size']}, {shown['root']}")
    return report


def verify_consistency_document(data: dict[str, Any], vkey: str) -> list[str]:
    """The problems found in a consistency document (empty when it verifies)."""
    return check_consistency_document(data, vkey).problems


def _when(moment: int) -> str:
    try:
        return datetime.fromtimestamp(moment, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return f"{moment} (POSIX time)"


def check_checkpoint_note(note: str, vkey: str, cosigners: Sequence[str] = ()) -> Report:
    """Verify a signed checkpoint note and a cosignature by each of `cosigners`."""
    report = Report(details={"command": "checkpoint", "cosignatures": []})
    try:
        checkpoint = open_note(note, _key(vkey, "the pinned key"))
    except CheckError as exc:
        report.problems.append(f"checkpoint: {exc}")
        return report
    report.details["checkpoint"] = _describe(checkpoint)
    report.facts.append(f"checkpoint: {checkpoint.origin}, size {checkpoint.size}, signed")
    report.facts += [f"  extension: {line}" for line in checkpoint.extensions]
    for text in cosigners:
        try:
            cosigner = _key(text, "a cosigner key")
            moment = check_cosignature(note, cosigner)
        except CheckError as exc:
            report.problems.append(f"cosignature: {exc}")
            continue
        report.details["cosignatures"].append({"name": cosigner.name, "time": moment})
        report.facts.append(f"cosigned by {cosigner.name} at {_when(moment)}")
    return report


def verify_checkpoint_note(note: str, vkey: str, cosigners: Sequence[str] = ()) -> list[str]:
    """The problems found in a checkpoint note and its cosignatures (empty when all verify)."""
    return check_checkpoint_note(note, vkey, cosigners).problems


# --- files and the command line ---


def canonical_bytes(document: object) -> bytes:
    """The one byte form mamori writes a bundle or consistency document in."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


def read_text(path: str) -> str:
    """A file's text, strictly UTF-8; UnreadableError otherwise."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise UnreadableError(f"{path}: {exc.strerror or exc}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def read_document(path: str) -> tuple[object, list[str]]:
    """(parsed JSON, problems with the file's form): repeated keys, a non-canonical layout."""
    text = read_text(path)
    repeated: list[str] = []

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, value in pairs:
            if name in found:
                repeated.append(name)
            found[name] = value
        return found

    try:
        data = json.loads(text, object_pairs_hook=unique)
    except (ValueError, RecursionError) as exc:
        raise UnreadableError(f"{path}: not JSON ({exc})") from exc
    problems = [f"file: the field {name!r} appears twice" for name in repeated]
    if not problems and canonical_bytes(data) != text.encode("utf-8"):
        problems.append("file: not byte for byte as mamori wrote it (edited or reformatted)")
    return data, problems


def _pin(text: str, option: str) -> str:
    try:
        parse_vkey(text.strip())
    except CheckError as exc:
        raise UnreadableError(f"{option}: {exc}") from exc
    return text.strip()


def _run_bundle(args: argparse.Namespace) -> Report:
    pinned = None if args.vkey is None else _pin(args.vkey, "--vkey")
    data, problems = read_document(args.file)
    report = check_bundle(data, pinned)
    report.problems[:0] = problems
    return report


def _run_consistency(args: argparse.Namespace) -> Report:
    pinned = _pin(args.vkey, "--vkey")
    data, problems = read_document(args.file)
    report = check_consistency_document(data, pinned)
    report.problems[:0] = problems
    return report


def _run_checkpoint(args: argparse.Namespace) -> Report:
    pinned = _pin(args.vkey, "--vkey")
    cosigners = [_pin(text, "--cosigner") for text in args.cosigner]
    return check_checkpoint_note(read_text(args.file), pinned, cosigners)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mamori_verify.py", description="Verify mamori ledger proofs offline."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    runs: dict[str, tuple[Callable[[argparse.Namespace], Report], str]] = {
        "bundle": (_run_bundle, "a proof bundle (JSON)"),
        "consistency": (_run_consistency, "a consistency document (JSON)"),
        "checkpoint": (_run_checkpoint, "a signed checkpoint note (text)"),
    }
    for name, (run, what) in runs.items():
        command = commands.add_parser(name, help=f"verify {what}")
        command.add_argument("file", metavar="FILE", help=what)
        command.add_argument("--vkey", required=name != "bundle", help="the log's verifier key")
        command.add_argument("--json", action="store_true", help="print the result as JSON")
        command.set_defaults(run=run)
        if name == "checkpoint":
            command.add_argument(
                "--cosigner", action="append", default=[], help="a cosigner's key (repeatable)"
            )
    return parser


def _print(report: Report, as_json: bool) -> None:
    if as_json:
        summary = {"ok": report.ok, "problems": report.problems, "warnings": report.warnings}
        print(json.dumps({**report.details, **summary}, ensure_ascii=False, indent=2))
        return
    for line in report.facts:
        print(line)
    for line in report.warnings:
        print(f"WARNING: {line}")
    for line in report.problems:
        print(f"FAILED: {line}")
    count = len(report.problems)
    verdict = "verified" if report.ok else f"NOT verified ({count} problem{'s' * (count != 1)})"
    print(f"RESULT: {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        report = args.run(args)
    except UnreadableError as exc:
        print(f"mamori_verify: cannot read the input: {exc}", file=sys.stderr)
        return 2
    _print(report, args.json)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
