"""The exceptions this library raises. Messages name the method and path, never a header."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ._secrets import key_names, redact, scrub, snippet

__all__ = [
    "ApiError",
    "BadRequestError",
    "ConflictError",
    "DeadlineExceeded",
    "DecodeError",
    "ForbiddenError",
    "NotFoundError",
    "RedirectError",
    "RunaiError",
    "ServiceUnavailableError",
    "TransportError",
    "UnauthorizedError",
]


class RunaiError(Exception):
    """Base class of every error raised by this library.

    ``operation`` names the call ("GET /api/v1/asset/registries"); ``attempts`` is how many
    times the request was sent before giving up. The library raises them; a test double
    of your own may build one with the same arguments.

    Args:
        message: What went wrong (secrets already scrubbed).
        operation: The call, e.g. ``"GET /api/v1/asset/registries"``.
        attempts: How many times the request was sent.
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
    seen the request. ``retryable`` is false for failures that trying again cannot fix:
    a certificate that does not verify, a host name that does not exist. ``timed_out``
    is true when the request (or the wait for its token) ran out of time.

    Args:
        message: What went wrong (secrets already scrubbed).
        operation: The call, e.g. ``"GET /api/v1/asset/registries"``.
        attempts: How many times the request was sent.
        connect_failed: No connection was made.
        retryable: Trying again might help.
        timed_out: The request ran out of time.
    """

    connect_failed: bool
    retryable: bool
    timed_out: bool

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        attempts: int = 1,
        connect_failed: bool = False,
        retryable: bool = True,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message, operation=operation, attempts=attempts)
        self.connect_failed = connect_failed
        self.retryable = retryable
        self.timed_out = timed_out


class DeadlineExceeded(TransportError):
    """The call's ``deadline=`` passed before it could finish.

    ``attempts`` says how many tries ran; ``last_error`` is the failure of the last one
    (None when the time ran out during the first).

    Args:
        message: What went wrong (secrets already scrubbed).
        operation: The call, e.g. ``"GET /api/v1/asset/registries"``.
        attempts: How many times the request was sent.
        last_error: The last try's failure, if any.
    """

    last_error: RunaiError | None

    def __init__(
        self,
        message: str,
        *,
        operation: str = "",
        attempts: int = 1,
        last_error: RunaiError | None = None,
    ) -> None:
        super().__init__(message, operation=operation, attempts=attempts, retryable=False)
        self.last_error = last_error

    def __str__(self) -> str:  # the message says the attempts already
        return Exception.__str__(self)


class DecodeError(RunaiError):
    """A successful response whose body is not JSON or does not match the schema."""


class ApiError(RunaiError):
    """The server answered with an error status.

    ``code``, ``message`` and ``details`` come from the spec's Error body when there is one;
    otherwise ``message`` holds a short snippet of whatever the body was.

    Args:
        status: The HTTP status.
        code: The Error body's ``code``, if any.
        message: The Error body's ``message``, or a snippet of the body.
        details: The Error body's ``details``, if any.
        operation: The call, e.g. ``"GET /api/v1/asset/registries"``.
        attempts: How many times the request was sent.
        retry_after: The answer's ``Retry-After`` header, as sent.
    """

    status: int
    code: int | None
    message: str
    details: str | None
    retry_after: str | None

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


class RedirectError(ApiError):
    """3xx: the server redirected, which the Run:ai API never does; nothing was followed.

    ``location`` is the target's origin (scheme, host and port) only, never its path or
    query. Following would send the body (a password, a client secret) and the bearer
    token to wherever a compromised server or proxy points.
    """

    location: str | None = None


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    503: ServiceUnavailableError,
}


def api_error(
    status: int,
    body: bytes,
    *,
    operation: str,
    retry_after: str | None = None,
    keys_only: bool = False,
    secrets: Iterable[str] = (),
) -> ApiError:
    """Build the error for an error response, from a spec Error body or any other body.

    ``keys_only`` describes the body by its error code, or its key names, alone (for the
    token endpoints, whose answers may echo the credential whatever their shape). Every
    one of ``secrets`` (what the request carried) is blanked from the message and
    details, and secret-looking values are blanked wherever they appear.
    """
    cls = _BY_STATUS.get(status, RedirectError if 300 <= status < 400 else ApiError)
    parsed = _parse_error_body(body)
    details: str | None = None
    code: int | None = None
    if keys_only:
        oauth = _parse_oauth_error(body)
        if parsed is not None:
            code = parsed[0]
            message = "the token request was refused" + (f" (code {code})" if code else "")
        elif oauth is not None:
            message = oauth
        else:
            message = key_names(body) if body.strip() else "empty body"
    elif parsed is not None:
        code, message, details = parsed
        message = redact(message)
        details = None if details is None else redact(details)
    else:
        message = f"unexpected body {snippet(body)}" if body.strip() else "empty body"
    secrets = tuple(secrets)
    message = scrub(message, secrets)
    details = None if details is None else scrub(details, secrets)
    return cls(status, code, message, details, operation=operation, retry_after=retry_after)


def redirect_error(status: int, location: str | None, *, operation: str) -> RedirectError:
    """The error for a 3xx answer, naming only the origin it pointed to."""
    error = RedirectError(
        status,
        None,
        f"redirected to {location or 'nowhere'}; redirects are never followed",
        operation=operation,
    )
    error.location = location
    return error


#: RFC 6749 5.2's error codes: fixed words, safe to quote (unlike error_description,
#: which a server may fill with anything, the request's secret included).
_OAUTH_ERRORS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
    }
)


def _parse_oauth_error(body: bytes) -> str | None:
    try:
        data: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("error") not in _OAUTH_ERRORS:
        return None
    return f"OAuth2 error {data['error']}"


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
