"""Typed errors shared by every domain; each channel renders them in one place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from mamori.core.i18n import Lang, translate


class MamoriError(Exception):
    """Base of every error mamori raises on purpose.

    `message` is a catalog message id (English) with `%(name)s` placeholders filled
    from `params`, so each channel can show it in its reader's language.
    `exit_code` follows the CLI convention: 1 a check or gate failed, 2 bad input.
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.params = dict(params or {})
        self.hint = hint
        super().__init__(self.render("en"))

    def render(self, lang: Lang) -> str:
        """The message in `lang`."""
        return translate(lang, self.message, self.params)


class InputError(MamoriError):
    """Bad input: names the file, line and field that are wrong."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.field = field
        super().__init__(message, hint=hint, params=params)

    def location(self) -> str:
        """`file:line: field` with whichever parts are known."""
        parts = []
        if self.file:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ": ".join(parts)

    def render(self, lang: Lang) -> str:
        """`file:line: field 'x': message`, the message in `lang`."""
        text = super().render(lang)
        where = self.location()
        return f"{where}: {text}" if where else text


class NotFoundError(MamoriError):
    """A record that was asked for does not exist (or is not visible to the caller)."""

    exit_code = 2


class ConfigurationError(MamoriError):
    """mamori is set up wrongly (missing font, unreachable database, …)."""

    exit_code = 2


class ForbiddenError(MamoriError):
    """The caller is known but may not do this (HTTP 403)."""

    exit_code = 1


class AuthenticationError(MamoriError):
    """The caller could not be identified: wrong password, expired session (HTTP 401)."""

    exit_code = 1


class ConflictError(MamoriError):
    """The action does not fit the record's current state (HTTP 409)."""

    exit_code = 1


class RetryLaterError(MamoriError):
    """Not now: the caller may try again after `retry_after` seconds (sent as Retry-After)."""

    exit_code = 1

    def __init__(
        self, message: str, *, retry_after: int, params: Mapping[str, Any] | None = None
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, params=params)


class RateLimitedError(RetryLaterError):
    """Too many attempts from this caller (HTTP 429)."""


class OverloadedError(RetryLaterError):
    """mamori is too busy for this request now (HTTP 503)."""


class ErrorOut(BaseModel):
    """The one JSON shape of every API error."""

    error: str
    detail: Any = None
    field: str | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": description}
    for code, description in (
        (400, "Bad input"),
        (401, "Not signed in, or the token is invalid"),
        (403, "Not allowed"),
        (404, "Not found (or not visible to the caller)"),
        (409, "Not possible in the record's current state"),
        (413, "Request too large"),
        (422, "Invalid request"),
        (429, "Too many requests"),
    )
}
