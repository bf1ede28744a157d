"""The portal's outermost layer: a size limit on request bodies, security headers on answers.

A plain ASGI middleware. Starlette's `@app.middleware("http")` runs each request in a
task of its own and hands the body over through memory streams, which cost an ingest
request of 300 KB a few milliseconds; this layer only wraps `receive` and `send`.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mamori.ledger.ingest import INGEST_PATHS
from mamori.web.auth import SESSION_COOKIE, is_https

MAX_BODY_BYTES = 1024 * 1024  # forms and API bodies of this portal are small

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class Guard:
    """Refuses a body above `MAX_BODY_BYTES` with 413 (ingest paths have their own, larger
    limit, `MAMORI_INGEST_MAX_BODY_BYTES`) and adds the security headers every answer
    carries, unless the answer set its own."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if scope["path"] not in INGEST_PATHS:
            receive = self._limited(request, receive)
        await self.app(scope, receive, self._with_headers(request, send))

    def _limited(self, request: Request, receive: Receive) -> Receive:
        """`receive`, raising 413 once the body passes the limit, or at once when its
        declared length does (the error handlers render it, in JSON for the API)."""
        limit = self.max_body_bytes
        declared = request.headers.get("content-length", "")
        refused = declared.isascii() and declared.isdigit() and int(declared) > limit
        received = 0

        async def limited() -> Message:
            nonlocal received
            if refused:
                raise HTTPException(413)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413)
            return message

        return limited

    def _with_headers(self, request: Request, send: Send) -> Send:
        extra = dict(SECURITY_HEADERS)
        if is_https(request):
            extra["Strict-Transport-Security"] = "max-age=31536000"
        if SESSION_COOKIE in request.cookies or "authorization" in request.headers:
            extra["Cache-Control"] = "no-store"

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.setdefault(name, value)
            await send(message)

        return sending
