"""The HTTP layer: one aiohttp session (owned or borrowed), one way to send a request."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl as ssl_module
import time
from collections.abc import Mapping

import aiohttp
from yarl import URL

from ._errors import TransportError, api_error

log = logging.getLogger("runai_registry_async")

# An error body is read for its message only; a proxy's huge HTML page is cut here.
_ERROR_BODY_LIMIT = 64 * 1024


def checked_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """The base URL without a trailing slash; plain HTTP only to loopback unless allowed."""
    if not isinstance(base_url, str):
        raise ValueError(f"base_url must be a string, not {type(base_url).__name__}")
    try:
        url = URL(base_url)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"base_url is not a URL: {base_url!r}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
    if url.user or url.password:
        raise ValueError("base_url must not carry credentials; use token= or auth=")
    if url.query_string or url.fragment:
        raise ValueError(f"base_url must not have a query or fragment, got {base_url!r}")
    if url.scheme == "http" and not allow_insecure_http and not _is_loopback(url.host):
        raise ValueError(
            f"refusing plain http:// to {url.host}: the token would travel unencrypted; "
            "use https:// or pass allow_insecure_http=True"
        )
    return str(url).rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Transport:
    """Sends requests to one base URL and turns failures into this library's errors."""

    __slots__ = (
        "base_url",
        "_scheme",
        "_authority",
        "_base_path",
        "_session",
        "_owns_session",
        "_ssl",
        "_max_connections",
        "_closed",
        "requests_sent",
    )

    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None,
        ssl: ssl_module.SSLContext | None,
        max_connections: int,
    ) -> None:
        self.base_url = base_url
        url = URL(base_url)
        self._scheme, self._authority, self._base_path = url.scheme, url.raw_authority, url.raw_path
        if self._base_path == "/":
            self._base_path = ""
        self._session = session
        self._owns_session = session is None
        self._ssl = ssl
        self._max_connections = max_connections
        self._closed = False
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"<Transport {self.base_url} owns_session={self._owns_session}>"

    @property
    def closed(self) -> bool:
        return self._closed

    def session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this RegistryClient is closed")
        if self._session is None:
            # Created on first use: aiohttp wants a running event loop.
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, ssl=self._ssl if self._ssl is not None else True
            )
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def close(self) -> None:
        """Close the session if this transport opened it; a borrowed one stays open."""
        if self._closed:
            return
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()

    async def open(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        timeout: aiohttp.ClientTimeout,
        headers: Mapping[str, str],
        body: bytes | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one request; return the response once its status is 2xx (body unread).

        The caller must release the response. Error statuses raise the status's
        ``ApiError``; no response at all raises ``TransportError``.
        """
        session = self.session()
        path, _, query = path.partition("?")
        # From parts: parsing a whole URL string costs more than the rest of this method.
        url = URL.build(
            scheme=self._scheme,
            authority=self._authority,
            path=self._base_path + path,
            query_string=query,
            encoded=True,
        )
        debug = log.isEnabledFor(logging.DEBUG)
        started = time.perf_counter() if debug else 0.0
        self.requests_sent += 1
        try:
            if self._ssl is not None and not self._owns_session:
                response = await session.request(
                    method, url, headers=headers, timeout=timeout, data=body, ssl=self._ssl
                )
            else:
                response = await session.request(
                    method, url, headers=headers, timeout=timeout, data=body
                )
        except aiohttp.ClientConnectorError as exc:
            raise TransportError(
                f"{operation}: cannot connect: {exc.os_error or exc}",
                operation=operation,
                connect_failed=True,
            ) from None
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _transport_error(exc, operation) from None
        if debug:
            log.debug(
                "%s -> %d in %.1f ms",
                operation,
                response.status,
                (time.perf_counter() - started) * 1000,
            )
        if response.status < 300:
            return response
        try:
            raw = await response.content.read(_ERROR_BODY_LIMIT)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            raw = b""
        finally:
            response.release()
        raise api_error(
            response.status,
            raw,
            operation=operation,
            retry_after=response.headers.get("Retry-After"),
        )

    async def read(self, response: aiohttp.ClientResponse, operation: str) -> bytes:
        """The whole body of a response opened by ``open``, which is then released."""
        try:
            return await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise _transport_error(exc, operation) from None
        finally:
            response.release()

    async def send_unauthenticated(
        self, method: str, path: str, body: bytes, content_type: str, *, timeout: float = 30.0
    ) -> bytes:
        """One request without a bearer token (the token endpoint); returns the body."""
        operation = f"{method} {path}"
        response = await self.open(
            method,
            path,
            operation=operation,
            timeout=aiohttp.ClientTimeout(total=timeout),
            headers={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
        )
        return await self.read(response, operation)


def _transport_error(exc: BaseException, operation: str) -> TransportError:
    if isinstance(exc, asyncio.TimeoutError):
        return TransportError(f"{operation}: timed out", operation=operation)
    detail = str(exc) or type(exc).__name__
    return TransportError(f"{operation}: {type(exc).__name__}: {detail}", operation=operation)
