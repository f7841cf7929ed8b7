"""The exceptions this library raises. Messages name the method and path, never a header."""

from __future__ import annotations

import re
from typing import Any

import orjson

__all__ = [
    "ApiError",
    "BadRequestError",
    "ConflictError",
    "DecodeError",
    "ForbiddenError",
    "NotFoundError",
    "RunaiError",
    "ServiceUnavailableError",
    "TransportError",
    "UnauthorizedError",
]


class RunaiError(Exception):
    """Base class of every error raised by this library.

    ``operation`` names the call ("GET /api/v1/asset/registries"); ``attempts`` is how many
    times the request was sent before giving up.
    """

    operation: str
    attempts: int

    def __init__(self, message: str, *, operation: str = "", attempts: int = 1) -> None:
        super().__init__(message)
        self.operation = operation
        self.attempts = attempts

    def __str__(self) -> str:
        text = super().__str__()
        return text if self.attempts <= 1 else f"{text} (after {self.attempts} attempts)"


class TransportError(RunaiError):
    """The request did not get a response: connection failure, reset or timeout.

    ``connect_failed`` is true when no connection was made, so the server cannot have
    seen the request.
    """

    connect_failed: bool

    def __init__(
        self, message: str, *, operation: str = "", attempts: int = 1, connect_failed: bool = False
    ) -> None:
        super().__init__(message, operation=operation, attempts=attempts)
        self.connect_failed = connect_failed


class DecodeError(RunaiError):
    """A successful response whose body is not JSON or does not match the schema."""


class ApiError(RunaiError):
    """The server answered with an error status.

    ``code``, ``message`` and ``details`` come from the spec's Error body when there is one;
    otherwise ``message`` holds a short snippet of whatever the body was.
    """

    status: int
    code: int | None
    message: str
    details: str | None
    retry_after: str | None
    #: Set on a 401 that rejected a token which can be refreshed (the retry loop then
    #: fetches a new token and tries once more).
    token_rejected: bool = False

    def __init__(
        self,
        status: int,
        code: int | None,
        message: str,
        details: str | None = None,
        *,
        operation: str = "",
        attempts: int = 1,
        retry_after: str | None = None,
    ) -> None:
        text = (
            f"{operation}: HTTP {status}: {message}" if operation else f"HTTP {status}: {message}"
        )
        if details:
            text += f" ({details})"
        super().__init__(text, operation=operation, attempts=attempts)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.retry_after = retry_after


class BadRequestError(ApiError):
    """400: the server rejected the request's content."""


class UnauthorizedError(ApiError):
    """401: missing, invalid or expired credentials."""


class ForbiddenError(ApiError):
    """403: the credentials may not do this."""


class NotFoundError(ApiError):
    """404: no such registry (or repository)."""


class ConflictError(ApiError):
    """409: an asset with that name already exists."""


class ServiceUnavailableError(ApiError):
    """503: the control plane is unavailable."""


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    503: ServiceUnavailableError,
}


def api_error(
    status: int, body: bytes, *, operation: str, retry_after: str | None = None
) -> ApiError:
    """Build the error for an error response, from a spec Error body or any other body."""
    cls = _BY_STATUS.get(status, ApiError)
    parsed = _parse_error_body(body)
    if parsed is not None:
        code, message, details = parsed
    else:
        code, details = None, None
        message = f"unexpected body {snippet(body)}" if body.strip() else "empty body"
    return cls(status, code, message, details, operation=operation, retry_after=retry_after)


def _parse_error_body(body: bytes) -> tuple[int | None, str, str | None] | None:
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return None
    code = data.get("code")
    details = data.get("details")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        data["message"],
        details if isinstance(details, str) else None,
    )


# A broken body can still hold a registry's password or a token: blank their values.
_SECRET_VALUE = re.compile(
    r'("(?:password|clientSecret|client_secret|accessToken|access_token|token)"\s*:\s*)"[^"]*"?',
    re.IGNORECASE,
)


def snippet(body: bytes, limit: int = 200) -> str:
    """A short, printable excerpt of a response body for error messages, secrets blanked."""
    text = _SECRET_VALUE.sub(r'\1"***"', body[: limit * 4].decode("utf-8", "replace"))
    text = " ".join(text.split())
    return repr(text[:limit] + ("..." if len(text) > limit else ""))
