"""Errors rendered in one place per channel: an HTML page, or the JSON error shape."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from mamori.core.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InputError,
    MamoriError,
    NotFoundError,
    OverloadedError,
    RateLimitedError,
    RetryLaterError,
)
from mamori.core.i18n import N_, translate
from mamori.ledger.formats.base import PayloadTooLargeError, UnsupportedMediaError
from mamori.ledger.ingest import INGEST_PATHS
from mamori.web.auth import LoginRequiredError, MfaRequiredError, optional_principal
from mamori.web.render import language, page

STATUS = (
    (NotFoundError, 404),
    (LoginRequiredError, 401),
    (AuthenticationError, 401),
    (MfaRequiredError, 401),
    (ForbiddenError, 403),
    (ConflictError, 409),
    (RateLimitedError, 429),
    (OverloadedError, 503),
    (PayloadTooLargeError, 413),
    (UnsupportedMediaError, 415),
    (InputError, 400),
)
HTTP_MESSAGES = {
    404: N_("This page does not exist."),
    405: N_("This action is not available here."),
    413: N_("The request is too large."),
}


def is_api(request: Request) -> bool:
    """Whether the request is for the JSON API."""
    return request.url.path.startswith("/api/")


def is_ingest(request: Request) -> bool:
    """Whether the request is from a log shipper (answered in JSON like the API)."""
    return request.url.path in INGEST_PATHS


def status_of(error: MamoriError) -> int:
    """The HTTP status for a MamoriError."""
    for kind, code in STATUS:
        if isinstance(error, kind):
            return code
    return 500


def _json(
    request: Request, message: str, code: int, detail: object = None, field: str | None = None
) -> Response:
    return JSONResponse({"error": message, "detail": detail, "field": field}, status_code=code)


def install_error_handlers(app: FastAPI) -> None:
    """Register the one HTML and one JSON rendering of every error."""

    @app.exception_handler(MamoriError)
    async def mamori_error(request: Request, error: MamoriError) -> Response:
        lang = language(request)
        code = status_of(error)
        headers = (
            {"Retry-After": str(error.retry_after)} if isinstance(error, RetryLaterError) else {}
        )
        if is_api(request) or is_ingest(request):
            field = error.field if isinstance(error, InputError) else None
            detail = dict(error.params or {})
            if isinstance(error, InputError) and error.line is not None:
                detail["line"] = error.line
            response = _json(request, error.render(lang), code, detail or None, field)
        elif isinstance(error, MfaRequiredError):
            return RedirectResponse("/login/mfa", status_code=303)
        elif isinstance(error, LoginRequiredError):
            target = quote(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
            return RedirectResponse(f"/login?next={target}", status_code=303)
        else:
            principal = optional_principal(request)
            response = page(
                request,
                "error.html",
                principal,
                status_code=code,
                http_status=code,
                message=error.render(language(request, principal)),
            )
        response.headers.update(headers)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        lang = language(request)
        message = translate(lang, HTTP_MESSAGES.get(error.status_code, N_("The request failed.")))
        if is_api(request):
            return _json(request, message, error.status_code)
        return page(
            request,
            "error.html",
            optional_principal(request),
            status_code=error.status_code,
            http_status=error.status_code,
            message=message,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError) -> Response:
        lang = language(request)
        first = error.errors()[0] if error.errors() else {}
        location = first.get("loc", ())[1:] if first.get("type") != "json_invalid" else ()
        field = ".".join(str(part) for part in location) or None
        message = translate(
            lang, N_("invalid value: %(problem)s"), {"problem": first.get("msg", "")}
        )
        if is_api(request):
            return _json(request, message, 422, None, field)
        return page(request, "error.html", status_code=422, http_status=422, message=message)
