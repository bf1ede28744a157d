"""Customers cosign the ledger's checkpoints, so the provider cannot show them another history.

A tenant administrator registers a cosigner key (a C2SP cosignature/v1 vkey) for the
tenant, checks each published checkpoint it is shown (the log's signature, and a
consistency proof from the last checkpoint it cosigned), and sends back a cosignature
line. mamori accepts the line only if it verifies with the tenant's key and the tenant
has not already cosigned a larger checkpoint: a cosigner's view only ever grows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from mamori.core.audit import AuditRecord, AuditTrail
from mamori.core.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from mamori.core.i18n import N_
from mamori.core.scope import Principal
from mamori.ledger.models import LedgerCheckpoint, LedgerCosignature, LedgerCosigner
from mamori.ledger.notes import (
    COSIGNATURE_V1,
    NoteError,
    parse_verifier_key,
    split_note,
    verify_cosignature,
)
from mamori.tenants.permissions import Permission


def _tenant_of(principal: Principal) -> str:
    if principal.tenant_id is None or not principal.can(Permission.COSIGN_CHECKPOINTS):
        raise ForbiddenError(N_("only a tenant administrator may cosign checkpoints"))
    return principal.tenant_id


def register_cosigner(
    session: Session, trail: AuditTrail, principal: Principal, vkey: str, now: datetime
) -> LedgerCosigner:
    """Register the tenant's cosigner key; an earlier key of the tenant is retired."""
    tenant = _tenant_of(principal)
    try:
        name, algorithm, _ = parse_verifier_key(vkey)
    except NoteError as exc:
        raise InputError(
            N_("not a valid verifier key: %(reason)s"), field="vkey", params={"reason": str(exc)}
        ) from exc
    if algorithm != COSIGNATURE_V1:
        raise InputError(
            N_("a cosigner key must be a cosignature/v1 key (type 0x04)"), field="vkey"
        )
    for old in session.scalars(_active(tenant)):
        old.revoked_at = now
    cosigner = LedgerCosigner(
        id=str(uuid.uuid4()), tenant_id=tenant, name=name, vkey=vkey.strip(), created_at=now
    )
    session.add(cosigner)
    trail.record(
        session,
        AuditRecord.by(principal, "ledger.cosigner", "cosigner", cosigner.id, tenant, name=name),
    )
    return cosigner


def _active(tenant: str) -> Select[LedgerCosigner]:
    return (
        select(LedgerCosigner)
        .where(LedgerCosigner.tenant_id == tenant)
        .where(LedgerCosigner.revoked_at.is_(None))
    )


def cosign(
    session: Session, trail: AuditTrail, principal: Principal, size: int, line: str, now: datetime
) -> LedgerCosignature:
    """Accept the tenant's cosignature `line` on the published checkpoint of `size`."""
    tenant = _tenant_of(principal)
    checkpoint = session.get(LedgerCheckpoint, size)
    if checkpoint is None:
        raise NotFoundError(N_("There is no checkpoint of size %(size)s."), params={"size": size})
    cosigner = session.scalars(_active(tenant)).first()
    if cosigner is None:
        raise ConflictError(N_("register a cosigner key before cosigning"))
    largest = session.scalar(
        select(func.max(LedgerCosignature.checkpoint_size)).where(
            LedgerCosignature.tenant_id == tenant
        )
    )
    if largest is not None and size < largest:
        raise ConflictError(
            N_("you already cosigned the larger checkpoint %(size)s"), params={"size": largest}
        )
    body, _ = split_note(checkpoint.note)
    try:
        _, lines = split_note(body + "\n" + line.strip() + "\n")
        signed_at = verify_cosignature(body, lines[0], cosigner.vkey)
    except (NoteError, IndexError) as exc:
        raise InputError(
            N_("the cosignature does not verify: %(reason)s"),
            field="line",
            params={"reason": str(exc) or "-"},
        ) from exc
    row = LedgerCosignature(
        cosigner_id=cosigner.id,
        tenant_id=tenant,
        checkpoint_size=size,
        signed_at=datetime.fromtimestamp(signed_at, UTC),
        line=lines[0].text().rstrip("\n"),
        created_at=now,
    )
    session.add(row)
    trail.record(
        session, AuditRecord.by(principal, "ledger.cosign", "checkpoint", str(size), tenant)
    )
    return row


def cosignatures(session: Session, tenant_id: str) -> Sequence[LedgerCosignature]:
    """The tenant's cosignatures, newest checkpoint first."""
    return session.scalars(
        select(LedgerCosignature)
        .where(LedgerCosignature.tenant_id == tenant_id)
        .order_by(LedgerCosignature.checkpoint_size.desc())
    ).all()
