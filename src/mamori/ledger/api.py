"""Ingest endpoints that log shippers point at, authenticated by an API token.

- `POST /api/v1/ingest`: JSON array, NDJSON, concatenated JSON or msgpack (Vector's `http`
  sink, Fluent Bit's `http` output), optionally gzip-compressed; answers JSON counts.
- `POST /v1/logs`: OpenTelemetry OTLP/HTTP logs, protobuf or JSON; answers in kind.
- `POST /loki/api/v1/push`: Grafana Loki push, JSON or snappy protobuf; answers 204.

The token is sent as `Authorization: Bearer <token>` or, for shippers that only do basic
authentication, as the password of `Authorization: Basic`.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from mamori.core.errors import ERROR_RESPONSES
from mamori.core.i18n import N_
from mamori.core.scope import Principal
from mamori.ledger.formats import PayloadTooLargeError
from mamori.ledger.formats.base import media_type
from mamori.ledger.formats.otlp import export_response
from mamori.ledger.ingest import GENERIC_PATH, LOKI_PATH, OTLP_PATH
from mamori.ledger.ingest import Request as Sent
from mamori.ledger.store import AppendResult
from mamori.tenants.models import ApiToken
from mamori.tenants.service import tokens
from mamori.web.auth import LoginRequiredError, client_address, web_context

router = APIRouter()

GENERIC_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "application/msgpack": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


class IngestOut(BaseModel):
    """What an ingest request stored."""

    accepted: int
    duplicates: int
    tree_size: int


def _token(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return None


def _principal(request: Request) -> Principal:
    """The token's principal. Read without the write lock, so a request is not held up by
    the appends of others, and from this process's memory when it identified the token a
    moment ago (`RecentTokens`); the token's last use is written at most once a minute."""
    secret = _token(request)
    if secret is None:
        raise LoginRequiredError(N_("ingest needs an API token"))
    context, address = web_context(request), client_address(request)
    stale: list[str] = []

    def look_up() -> tuple[Principal, ApiToken] | None:
        with context.services(read_only=True) as services:
            found = tokens.identify(services, secret, address)
            if found is not None and tokens.last_use_is_stale(found[1], services.now()):
                stale.append(found[1].id)
        return found

    principal = context.recent_tokens.identify(secret, address, look_up)
    if principal is None:
        raise LoginRequiredError(N_("the API token is invalid, expired or revoked"))
    if stale:
        with context.services() as services:
            tokens.record_use(services, stale[0])
    return principal


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    too_large = PayloadTooLargeError(
        N_("the request body is larger than %(limit)s bytes"), params={"limit": limit}
    )
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise too_large
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise too_large
        parts.append(part)
    return b"".join(parts)


async def _ingest(request: Request, formats: tuple[str, ...], response: Response) -> AppendResult:
    context = web_context(request)
    service = context.ingest
    result = await _store(request, formats)
    if context.settings.serve_processes > 1 and service.gate.in_flight:
        # This process has other requests to work through: the shipper's next request
        # goes on a new connection, which an idle server process is the first to take.
        response.headers["Connection"] = "close"
    return result


async def _store(request: Request, formats: tuple[str, ...]) -> AppendResult:
    context = web_context(request)
    service = context.ingest
    principal = await run_in_threadpool(_principal, request)
    service.admit(principal)
    body = await _body(request, context.settings.ingest_max_body_bytes)
    sent = Sent(
        principal,
        body,
        request.headers.get("content-type"),
        request.headers.get("content-encoding"),
        formats,
    )
    return await run_in_threadpool(service.handle, sent)


@router.post(
    GENERIC_PATH,
    response_model=IngestOut,
    responses={**ERROR_RESPONSES, 413: ERROR_RESPONSES[400], 415: ERROR_RESPONSES[400]},
    openapi_extra=GENERIC_BODY,
    tags=["ingest"],
)
async def ingest(request: Request, response: Response) -> IngestOut:
    """Store events sent as JSON records or msgpack (needs the `ingest:logs` scope)."""
    result = await _ingest(request, ("json", "msgpack"), response)
    return IngestOut(
        accepted=result.stored, duplicates=result.duplicates, tree_size=result.tree_size
    )


@router.post(OTLP_PATH, include_in_schema=False)
async def otlp_logs(request: Request) -> Response:
    """OpenTelemetry OTLP/HTTP logs."""
    kind = media_type(request.headers.get("content-type"))
    body, content_type = export_response(kind)
    answer = Response(body, media_type=content_type)
    await _ingest(request, ("otlp",), answer)
    return answer


@router.post(LOKI_PATH, include_in_schema=False)
async def loki_push(request: Request) -> Response:
    """Grafana Loki push."""
    answer = Response(status_code=204)
    await _ingest(request, ("loki",), answer)
    return answer
