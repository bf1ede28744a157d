"""Checkpoints as C2SP signed notes, Ed25519 log signatures and cosignatures.

Formats: c2sp.org/tlog-checkpoint (origin, tree size, base64 root hash, each on its own
line), c2sp.org/signed-note (a blank line, then `— <name> base64(key ID || signature)`
lines; Ed25519 key ID = SHA-256(name || "\\n" || 0x01 || public key)[:4]) and
c2sp.org/tlog-cosignature (key ID algorithm byte 0x04; the signature covers
"cosignature/v1\\ntime <t>\\n" and the checkpoint body, and carries the 8-byte time).
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DASH = "\u2014"
ED25519 = 0x01
COSIGNATURE_V1 = 0x04
MAX_NOTE = 1 << 20


class NoteError(ValueError):
    """A note or checkpoint that is malformed or whose signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the log's size and root."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The note text that signatures cover (ends with a newline)."""
        root = base64.b64encode(self.root).decode()
        lines = [self.origin, str(self.size), root, *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Read a checkpoint body (without signature lines)."""
        if not body.endswith("\n"):
            raise NoteError("a checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3 or not lines[0]:
            raise NoteError("a checkpoint needs an origin, a size and a root hash")
        size_text, root_text = lines[1], lines[2]
        if not (size_text.isascii() and size_text.isdigit()) or (
            size_text.startswith("0") and size_text != "0"
        ):
            raise NoteError(f"the tree size {size_text!r} is not a decimal number")
        try:
            root = base64.b64decode(root_text, validate=True)
        except ValueError as exc:
            raise NoteError("the root hash is not base64") from exc
        if len(root) != 32:
            raise NoteError("the root hash is not 32 bytes")
        if any(not line for line in lines[3:]):
            raise NoteError("a checkpoint's extension lines may not be empty")
        return cls(lines[0], int(size_text), root, tuple(lines[3:]))


def key_id(name: str, algorithm: int, public_key: bytes) -> bytes:
    """The 4-byte key ID of a signed-note key."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([algorithm]) + public_key).digest()[:4]


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def verifier_key(name: str, algorithm: int, public_key: bytes) -> str:
    """The vkey text `<name>+<hex key ID>+<base64(algorithm || key)>`."""
    encoded = base64.b64encode(bytes([algorithm]) + public_key).decode()
    return f"{name}+{key_id(name, algorithm, public_key).hex()}+{encoded}"


def parse_verifier_key(vkey: str) -> tuple[str, int, bytes]:
    """(name, algorithm, public key) from a vkey, checking its key ID."""
    parts = vkey.strip().split("+", 2)  # base64 may contain "+"; names may not
    if len(parts) != 3 or not parts[0]:
        raise NoteError("a verifier key reads <name>+<hex key id>+<base64 key>")
    name, hex_id, encoded = parts
    try:
        raw = base64.b64decode(encoded, validate=True)
        wanted = bytes.fromhex(hex_id)
    except ValueError as exc:
        raise NoteError("the verifier key is not hex and base64") from exc
    if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
        raise NoteError("only Ed25519 verifier keys are supported")
    if key_id(name, raw[0], raw[1:]) != wanted:
        raise NoteError("the verifier key's ID does not match its name and key")
    return name, raw[0], raw[1:]


@dataclass(frozen=True)
class SignatureLine:
    """One `— name base64` line of a signed note."""

    name: str
    key_id: bytes
    signature: bytes  # for cosignatures: 8-byte time then the 64-byte signature

    def text(self) -> str:
        """The line, with its newline."""
        encoded = base64.b64encode(self.key_id + self.signature).decode()
        return f"{DASH} {self.name} {encoded}\n"


def split_note(note: str) -> tuple[str, list[SignatureLine]]:
    """(body, signature lines) of a signed note."""
    if len(note) > MAX_NOTE:
        raise NoteError("the note is too long")
    body, separator, signatures = note.partition("\n\n")
    if not separator:
        raise NoteError("a signed note needs a blank line before its signatures")
    lines: list[SignatureLine] = []
    for line in signatures.split("\n"):
        if not line:
            continue
        if not line.startswith(DASH + " "):
            raise NoteError(f"not a signature line: {line[:40]!r}")
        name, _, encoded = line[2:].rpartition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError as exc:
            raise NoteError("a signature is not base64") from exc
        if not name or len(raw) < 5:
            raise NoteError("a signature line needs a key name and a signature")
        lines.append(SignatureLine(name, raw[:4], raw[4:]))
    if not note.endswith("\n"):
        raise NoteError("a signed note ends with a newline")
    return body + "\n", lines


class NoteSigner:
    """Signs checkpoints as the log (Ed25519 signed-note signature)."""

    def __init__(self, name: str, seed: bytes) -> None:
        self.name = name
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = raw_public(self._key.public_key())
        self.key_id = key_id(name, ED25519, self.public_key)

    def vkey(self) -> str:
        """This signer's verifier key."""
        return verifier_key(self.name, ED25519, self.public_key)

    def sign(self, checkpoint: Checkpoint) -> str:
        """The signed note of `checkpoint`."""
        body = checkpoint.body()
        signature = self._key.sign(body.encode())
        return body + "\n" + SignatureLine(self.name, self.key_id, signature).text()


def open_checkpoint(note: str, vkey: str) -> Checkpoint:
    """The checkpoint in `note` after checking the log's signature by `vkey`."""
    name, algorithm, public_key = parse_verifier_key(vkey)
    if algorithm != ED25519:
        raise NoteError("the log key must be an Ed25519 signed-note key")
    body, lines = split_note(note)
    wanted = key_id(name, ED25519, public_key)
    for line in lines:
        if line.name == name and line.key_id == wanted:
            try:
                Ed25519PublicKey.from_public_bytes(public_key).verify(line.signature, body.encode())
            except InvalidSignature as exc:
                raise NoteError("the log's signature on the checkpoint is invalid") from exc
            return Checkpoint.parse(body)
    raise NoteError(f"the checkpoint carries no signature by {name}")


def cosigned_message(body: str, timestamp: int) -> bytes:
    """What a cosigner signs for `body` at `timestamp`."""
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(body: str, name: str, seed: bytes, timestamp: int) -> SignatureLine:
    """A cosignature line over checkpoint `body` (what a customer's cosigner produces)."""
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = raw_public(key.public_key())
    signature = key.sign(cosigned_message(body, timestamp))
    return SignatureLine(
        name, key_id(name, COSIGNATURE_V1, public), struct.pack(">Q", timestamp) + signature
    )


def verify_cosignature(body: str, line: SignatureLine, vkey: str) -> int:
    """Check a cosignature line against `vkey`; returns its timestamp."""
    name, algorithm, public_key = parse_verifier_key(vkey)
    if algorithm != COSIGNATURE_V1:
        raise NoteError("a cosigner key must be a cosignature/v1 (0x04) key")
    if line.name != name or line.key_id != key_id(name, COSIGNATURE_V1, public_key):
        raise NoteError("the cosignature is not by this cosigner")
    if len(line.signature) != 8 + 64:
        raise NoteError("a cosignature is an 8-byte time and a 64-byte signature")
    (timestamp,) = struct.unpack(">Q", line.signature[:8])
    if timestamp >= 1 << 63:
        raise NoteError("the cosignature's time is out of range")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            line.signature[8:], cosigned_message(body, timestamp)
        )
    except InvalidSignature as exc:
        raise NoteError("the cosignature does not verify") from exc
    return int(timestamp)
