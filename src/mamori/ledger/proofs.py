"""Proof bundles and consistency proofs: what a customer or auditor checks offline.

A bundle proves chosen events against one signed checkpoint: for each event, its exact
head, its subject and content (each disclosed with its salt, or redacted to its digest),
the path from its leaf to its chunk's root, and the path from the chunk's leaf to the
checkpoint's root. `tools/mamori_verify.py` checks a bundle with nothing but the log's
public key; docs/ledger-proofs.md describes the format field by field.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori.core.errors import ConflictError, InputError, NotFoundError
from mamori.core.i18n import N_
from mamori.ledger import merkle
from mamori.ledger.blocks import StoredEvent
from mamori.ledger.models import LedgerCheckpoint, LedgerChunk, LedgerState
from mamori.ledger.notes import Checkpoint, NoteError, open_checkpoint, split_note
from mamori.ledger.records import chunk_leaf_data, event_leaf, part_digest, salts
from mamori.ledger.stored import UnreadableBlockError, chunk_holding, chunk_leaves, events_at

BUNDLE_FORMAT = "mamori-proof-bundle/v1"
CONSISTENCY_FORMAT = "mamori-consistency/v1"
PARTS = ("subject", "content")
NO_REDACTION: Mapping[int, Collection[str]] = MappingProxyType({})

TAMPERED = N_(
    "The ledger's stored data does not match its hashes at %(where)s; "
    "run the ledger verification before issuing proofs."
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class _Levels:
    """Every level of a Merkle tree, so many audit paths cost O(log n) each.

    Pairing nodes level by level and lifting an odd last node unchanged gives the RFC 9162
    tree (merkle.py says the same of its root); a node's sibling is then index ^ 1, and a
    lifted node simply has none at that level.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.levels = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            above = [merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            if len(below) % 2:
                above.append(below[-1])
            self.levels.append(above)

    def root(self) -> bytes:
        """The tree's root hash."""
        return self.levels[-1][0] if self.levels[0] else merkle.EMPTY_ROOT

    def path(self, index: int) -> list[bytes]:
        """The audit path of leaf `index`, nearest sibling first."""
        path = []
        for level in self.levels[:-1]:
            if (index ^ 1) < len(level):
                path.append(level[index ^ 1])
            index >>= 1
        return path


def _wanted(seqs: Sequence[int], redact: Mapping[int, Collection[str]]) -> list[int]:
    """The distinct positions asked for, in order, after checking the redactions."""
    wanted = sorted(set(seqs))
    if not wanted:
        raise InputError(N_("Name at least one event for the proof bundle."), field="seqs")
    for seq, parts in redact.items():
        if seq not in wanted:
            raise InputError(
                N_("Event %(seq)s is redacted but not in the bundle."),
                field="redact",
                params={"seq": seq},
            )
        unknown = set(parts) - set(PARTS)
        if unknown:
            raise InputError(
                N_("Only the subject and the content can be redacted, not %(parts)s."),
                field="redact",
                params={"parts": ", ".join(sorted(unknown))},
            )
    return wanted


def _load_events(session: Session, wanted: list[int]) -> dict[int, StoredEvent]:
    try:
        found = events_at(session, wanted)
    except UnreadableBlockError as exc:
        raise ConflictError(TAMPERED, params={"where": f"chunk {exc.chunk_index}"}) from exc
    missing = [seq for seq in wanted if seq not in found]
    if not missing:
        return found
    # A purged chunk keeps its row but loses its events: say so rather than "unknown".
    if chunk_holding(session, missing[0]) is not None:
        raise ConflictError(
            N_("Event %(seq)s was purged with its chunk; it can no longer be proved."),
            params={"seq": missing[0]},
        )
    raise NotFoundError(N_("The ledger has no event %(seq)s."), params={"seq": missing[0]})


def _load_chunks(session: Session, indexes: set[int]) -> dict[int, LedgerChunk]:
    chunks = {
        chunk.index: chunk
        for chunk in session.scalars(select(LedgerChunk).where(LedgerChunk.index.in_(indexes)))
    }
    for index in indexes:
        chunk = chunks.get(index)
        if chunk is None:
            raise ConflictError(TAMPERED, params={"where": f"chunk {index}"})
        if chunk.secret is None or chunk.purged_at is not None:
            raise ConflictError(
                N_("Chunk %(index)s was purged; its events can no longer be proved."),
                params={"index": index},
            )
    return chunks


def _head(session: Session) -> LedgerState:
    state = session.get(LedgerState, 1)
    if state is None or not state.note:
        raise NotFoundError(N_("The ledger has no signed head yet."))
    return state


def _note_at(session: Session, size: int) -> str | None:
    """The published checkpoint of `size`, or the head when that is its size."""
    published = session.get(LedgerCheckpoint, size)
    if published is not None:
        return published.note
    state = _head(session)
    return state.note if state.tree_size == size else None


def _binding(session: Session, needed: int, checkpoint_size: int | None) -> tuple[int, str]:
    """(size, note) of the checkpoint a bundle covering `needed` chunks is bound to."""
    if checkpoint_size is None:
        published = session.scalar(
            select(LedgerCheckpoint)
            .where(LedgerCheckpoint.size >= needed)
            .order_by(LedgerCheckpoint.size)
            .limit(1)
        )
        if published is not None:
            return published.size, published.note
        state = _head(session)
        return state.tree_size, state.note
    note = _note_at(session, checkpoint_size)
    if note is None:
        raise NotFoundError(
            N_("There is no checkpoint of size %(size)s."), params={"size": checkpoint_size}
        )
    if checkpoint_size < needed:
        raise InputError(
            N_("The checkpoint of size %(size)s does not cover chunk %(index)s."),
            field="checkpoint_size",
            params={"size": checkpoint_size, "index": needed - 1},
        )
    return checkpoint_size, note


def _unsigned(note: str) -> Checkpoint:
    """The checkpoint a stored note states, read without checking its signature."""
    try:
        return Checkpoint.parse(split_note(note)[0])
    except NoteError as exc:
        raise ConflictError(TAMPERED, params={"where": "a checkpoint note"}) from exc


def _log_leaves(session: Session, size: int) -> list[bytes]:
    """The stored leaf hashes of the first `size` chunks."""
    rows = session.execute(
        select(LedgerChunk.index, LedgerChunk.leaf)
        .where(LedgerChunk.index < size)
        .order_by(LedgerChunk.index)
    ).all()
    if [row[0] for row in rows] != list(range(size)):
        raise ConflictError(TAMPERED, params={"where": "the chunk sequence"})
    return [bytes(row[1]) for row in rows]


def _chunk_leaf_text(chunk: LedgerChunk) -> str:
    """The chunk's leaf data, recomputed from its row and checked against its stored hash."""
    data = chunk_leaf_data(
        chunk.index,
        chunk.tenant_id,
        chunk.event_class,
        chunk.first_seq,
        chunk.size,
        chunk.received_at,
        bytes(chunk.root),
    )
    if merkle.leaf_hash(data) != bytes(chunk.leaf):
        raise ConflictError(TAMPERED, params={"where": f"chunk {chunk.index}"})
    return data.decode()


def _chunk_tree(session: Session, chunk: LedgerChunk) -> _Levels:
    try:
        leaves = chunk_leaves(session, chunk) or []
    except UnreadableBlockError as exc:
        raise ConflictError(TAMPERED, params={"where": f"chunk {chunk.index}"}) from exc
    tree = _Levels(leaves)
    if len(leaves) != chunk.size or tree.root() != bytes(chunk.root):
        raise ConflictError(TAMPERED, params={"where": f"chunk {chunk.index}"})
    return tree


def _part(text: str, salt: bytes, redacted: bool) -> dict[str, Any]:
    if redacted:
        return {"redacted": True, "digest": _b64(part_digest(salt, text))}
    return {"value": text, "salt": _b64(salt)}


def _entry(
    event: StoredEvent, chunk: LedgerChunk, chunk_tree: _Levels, log: _Levels, hidden: set[str]
) -> dict[str, Any]:
    secret = bytes(chunk.secret or b"")
    if event_leaf(secret, event.seq, event.head, event.subject, event.content) != bytes(event.leaf):
        raise ConflictError(TAMPERED, params={"where": f"event {event.seq}"})
    subject_salt, content_salt = salts(secret, event.seq)
    index = event.seq - chunk.first_seq
    return {
        "seq": event.seq,
        "head": event.head,
        "subject": _part(event.subject, subject_salt, "subject" in hidden),
        "content": _part(event.content, content_salt, "content" in hidden),
        "index_in_chunk": index,
        "chunk_size": chunk.size,
        "chunk_path": [_b64(node) for node in chunk_tree.path(index)],
        "chunk_leaf": _chunk_leaf_text(chunk),
        "log_index": chunk.index,
        "log_path": [_b64(node) for node in log.path(chunk.index)],
    }


def build_bundle(
    session: Session,
    vkey: str,
    seqs: Sequence[int],
    *,
    redact: Mapping[int, Collection[str]] = NO_REDACTION,
    checkpoint_size: int | None = None,
) -> dict[str, Any]:
    """A JSON-able proof bundle for the events at `seqs`, bound to one signed checkpoint.

    `redact` maps a position to the parts ("subject", "content") shown only as digests.
    Without `checkpoint_size`, the smallest published checkpoint covering every event is
    used, or the signed head when none does yet.
    """
    wanted = _wanted(seqs, redact)
    events = _load_events(session, wanted)
    chunks = _load_chunks(session, {event.chunk_index for event in events.values()})
    size, note = _binding(session, max(chunks) + 1, checkpoint_size)
    try:
        signed = open_checkpoint(note, vkey)
    except NoteError as exc:
        raise ConflictError(TAMPERED, params={"where": f"checkpoint {size}"}) from exc
    log = _Levels(_log_leaves(session, size))
    if signed.size != size or log.root() != signed.root:
        raise ConflictError(TAMPERED, params={"where": f"checkpoint {size}"})
    trees = {index: _chunk_tree(session, chunk) for index, chunk in chunks.items()}
    entries = []
    for seq in wanted:
        event = events[seq]
        chunk = chunks[event.chunk_index]
        hidden = set(redact.get(seq, ()))
        entries.append(_entry(event, chunk, trees[chunk.index], log, hidden))
    return {"format": BUNDLE_FORMAT, "vkey": vkey, "checkpoint": note, "events": entries}


def consistency(session: Session, old_size: int, new_size: int | None = None) -> dict[str, Any]:
    """A JSON-able proof that the checkpoint of `new_size` (default: the head) extends the
    published checkpoint of `old_size`, with both signed notes."""
    old = session.get(LedgerCheckpoint, old_size)
    if old is None:
        raise NotFoundError(
            N_("There is no checkpoint of size %(size)s."), params={"size": old_size}
        )
    if new_size is None:
        new_size = _head(session).tree_size
    new_note = _note_at(session, new_size)
    if new_note is None:
        raise NotFoundError(
            N_("There is no checkpoint of size %(size)s."), params={"size": new_size}
        )
    if new_size < old_size:
        raise InputError(
            N_("The newer checkpoint (%(new)s) is smaller than the older one (%(old)s)."),
            field="new_size",
            params={"new": new_size, "old": old_size},
        )
    leaves = _log_leaves(session, new_size)
    proof = merkle.consistency_proof(old_size, leaves)
    old_root, new_root = _unsigned(old.note).root, _unsigned(new_note).root
    if merkle.root(leaves) != new_root:
        raise ConflictError(TAMPERED, params={"where": f"checkpoint {new_size}"})
    try:
        merkle.verify_consistency(old_size, new_size, old_root, new_root, proof)
    except merkle.ProofError as exc:
        raise ConflictError(TAMPERED, params={"where": f"checkpoint {old_size}"}) from exc
    return {
        "format": CONSISTENCY_FORMAT,
        "old_checkpoint": old.note,
        "new_checkpoint": new_note,
        "proof": [_b64(node) for node in proof],
    }


def bundle_bytes(bundle: Mapping[str, Any]) -> bytes:
    """The canonical file form of a bundle or consistency document.

    Sorted keys, two-space indentation, UTF-8 without escaping, one trailing newline. The
    verifier insists on exactly this form, so even whitespace in a saved file is covered.
    """
    text = json.dumps(bundle, sort_keys=True, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")
