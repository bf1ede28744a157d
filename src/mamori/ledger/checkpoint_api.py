"""The ledger's public face for verifiers: its key, checkpoints, consistency, cosigning."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from mamori.core.errors import ERROR_RESPONSES, NotFoundError
from mamori.core.i18n import N_
from mamori.ledger import cosigning, proofs
from mamori.ledger.models import LedgerCheckpoint
from mamori.tenants.permissions import Permission
from mamori.tenants.schemas import ApiModel, UtcDatetime
from mamori.web.auth import authenticate, check_csrf, require, web_context

router = APIRouter(
    prefix="/api/v1/ledger",
    dependencies=[Depends(check_csrf)],
    responses=ERROR_RESPONSES,
    tags=["ledger"],
)
SCOPE = "ledger:read"


class CheckpointOut(ApiModel):
    """A published checkpoint: its size, root and signed note (C2SP format)."""

    size: int
    note: str
    created_at: UtcDatetime


class CosignerIn(BaseModel):
    """A tenant's cosigner key: a C2SP vkey of type cosignature/v1."""

    vkey: str = Field(min_length=10, max_length=400)


class CosignerOut(ApiModel):
    """A registered cosigner key."""

    id: str
    name: str
    vkey: str
    created_at: UtcDatetime


class CosignatureIn(BaseModel):
    """A cosignature line (`— <name> <base64>`) over a published checkpoint."""

    line: str = Field(min_length=10, max_length=400)


class CosignatureOut(ApiModel):
    """A stored cosignature."""

    checkpoint_size: int
    signed_at: UtcDatetime
    line: str


@router.get("/vkey", response_class=PlainTextResponse)
def vkey(request: Request) -> str:
    """The log's verifier key (public: verifiers need nothing else)."""
    return web_context(request).ledger.vkey + "\n"


@router.get("/checkpoints", response_model=list[CheckpointOut])
def checkpoints(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[CheckpointOut]:
    """Published checkpoints, newest first."""
    with web_context(request).services() as services:
        require(authenticate(request, services), Permission.VIEW_CHECKPOINTS, SCOPE)
        rows = services.session.scalars(
            select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc()).limit(limit)
        ).all()
        return [CheckpointOut.model_validate(row) for row in rows]


@router.get("/checkpoints/{size}", response_model=CheckpointOut)
def checkpoint(request: Request, size: int) -> CheckpointOut:
    """One published checkpoint."""
    with web_context(request).services() as services:
        require(authenticate(request, services), Permission.VIEW_CHECKPOINTS, SCOPE)
        row = services.session.get(LedgerCheckpoint, size)
        if row is None:
            raise NotFoundError(
                N_("There is no checkpoint of size %(size)s."), params={"size": size}
            )
        return CheckpointOut.model_validate(row)


@router.get("/consistency")
def consistency(
    request: Request,
    old: Annotated[int, Query(ge=1, le=2**62)],
    new: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> dict[str, Any]:
    """A proof that the checkpoint `new` (default: the head) extends the published `old`."""
    with web_context(request).services() as services:
        require(authenticate(request, services), Permission.VIEW_CHECKPOINTS, SCOPE)
        return proofs.consistency(services.session, old, new)


@router.post("/cosigners", response_model=CosignerOut, status_code=201)
def register(request: Request, body: CosignerIn) -> CosignerOut:
    """Register the tenant's cosigner key (retiring its previous one)."""
    with web_context(request).services() as services:
        principal = require(authenticate(request, services), Permission.COSIGN_CHECKPOINTS, SCOPE)
        row = cosigning.register_cosigner(
            services.session, services.audit_trail, principal, body.vkey, services.now()
        )
        return CosignerOut.model_validate(row)


@router.post("/checkpoints/{size}/cosignatures", response_model=CosignatureOut, status_code=201)
def cosign(request: Request, size: int, body: CosignatureIn) -> CosignatureOut:
    """Cosign a published checkpoint for the caller's tenant."""
    with web_context(request).services() as services:
        principal = require(authenticate(request, services), Permission.COSIGN_CHECKPOINTS, SCOPE)
        row = cosigning.cosign(
            services.session, services.audit_trail, principal, size, body.line, services.now()
        )
        return CosignatureOut.model_validate(row)


@router.get("/cosignatures", response_model=list[CosignatureOut])
def my_cosignatures(request: Request) -> list[CosignatureOut]:
    """The caller's tenant's cosignatures."""
    with web_context(request).services() as services:
        principal = require(authenticate(request, services), Permission.COSIGN_CHECKPOINTS, SCOPE)
        rows = cosigning.cosignatures(services.session, principal.tenant_id or "")
        return [CosignatureOut.model_validate(row) for row in rows]
