"""What aiohttp's failures become: this library's errors, saying what went wrong and
never what was sent (a proxy's credentials, a redirect's path)."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
from yarl import URL

from .._errors import TransportError
from .._secrets import Secret, scrub
from ._urls import parsed_url

# Resolver answers that say the name does not exist: asking again cannot help.
_PERMANENT_DNS_ERRORS = frozenset(
    getattr(socket, name)
    for name in ("EAI_NONAME", "EAI_FAIL", "EAI_NODATA")
    if hasattr(socket, name)
)


def without_proxy_credentials(error: TransportError, proxy: Secret[str] | None) -> TransportError:
    """``error`` with the proxy's credentials, should aiohttp have quoted them, blanked:
    decoded and as written (percent-encoded), since aiohttp may quote either."""
    url = None if proxy is None else URL(proxy.value)
    if url is None or not (url.user or url.password):
        return error
    text = str(error.args[0]) if error.args else ""
    credentials = (url.password, url.raw_password, url.user, url.raw_user)
    error.args = (scrub(text, [c for c in credentials if c]),)
    return error


def redirect_origin(response: aiohttp.ClientResponse) -> str | None:
    """Scheme, host and port of a redirect's target; never its path or query."""
    location = response.headers.get("Location")
    if not location:
        return None
    target = parsed_url(location)
    if target is None:
        return "an unparsable location"
    if not target.is_absolute():
        target = response.url.join(target)
    return str(target.origin()) if target.host else "an unparsable location"


def connect_error(exc: aiohttp.ClientConnectorError, operation: str) -> TransportError:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return TransportError(
            f"{operation}: TLS certificate not accepted: {exc.certificate_error}",
            operation=operation,
            connect_failed=True,
            retryable=False,
        )
    os_error = exc.os_error
    if isinstance(os_error, socket.gaierror) and os_error.errno in _PERMANENT_DNS_ERRORS:
        return TransportError(
            f"{operation}: cannot resolve {exc.host}: {os_error.strerror}",
            operation=operation,
            connect_failed=True,
            retryable=False,
        )
    return TransportError(
        f"{operation}: cannot connect: {os_error or exc}",
        operation=operation,
        connect_failed=True,
    )


def transport_error(exc: BaseException, operation: str) -> TransportError:
    if isinstance(exc, asyncio.TimeoutError):
        return TransportError(f"{operation}: timed out", operation=operation, timed_out=True)
    detail = str(exc) or type(exc).__name__
    return TransportError(f"{operation}: {type(exc).__name__}: {detail}", operation=operation)
