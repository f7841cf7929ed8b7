"""The HTTP layer: one aiohttp session (owned or borrowed), one way to send a request."""

from __future__ import annotations

import asyncio
import logging
import ssl as ssl_module
import time
from collections.abc import Callable, Mapping

import aiohttp
from aiohttp import hdrs
from yarl import URL

from .._errors import DecodeError, RunaiError, TransportError, api_error, redirect_error
from .._secrets import Secret, sent_secrets
from ._failures import connect_error, redirect_origin, transport_error, without_proxy_credentials
from ._headers import fixed_headers
from ._urls import chosen_proxy

#: Hears of each answer as its headers arrive: ``on_answer(status, headers)``.
OnAnswer = Callable[[int, Mapping[str, str]], None]
log = logging.getLogger("runai_registry_async")

# An error body is read for its message only; a proxy's huge HTML page is cut here.
_ERROR_BODY_LIMIT = 64 * 1024

#: The default cap on a response body, counted after decompression (about 7 million tags).
DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024


class Transport:
    """Sends requests to one base URL and turns failures into this library's errors."""

    __slots__ = (
        "base_url",
        "_scheme",
        "_authority",
        "base_path",
        "_session",
        "_owns_session",
        "_ssl",
        "_request_ssl",
        "_max_connections",
        "_proxy",
        "max_response_bytes",
        "_closed",
        "_loop",
        "requests_sent",
        "headers",
        "_given_values",
    )

    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None,
        ssl: ssl_module.SSLContext | None,
        max_connections: int,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        proxy: str | None = None,
        trust_env: bool = True,
        allow_insecure_http: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        #: Sent with every request, the token's included: ``User-Agent`` and the caller's
        #: (whose values may be secrets, an API key say: never shown, and scrubbed).
        self.headers = Secret(fixed_headers(headers))
        self._given_values = Secret(
            tuple(v for k, v in (headers or {}).items() if k.lower() != "user-agent")
        )
        url = URL(base_url)
        self._scheme, self._authority, self.base_path = url.scheme, url.raw_authority, url.raw_path
        if self.base_path == "/":
            self.base_path = ""
        self._session = session
        self._owns_session = session is None
        self._ssl = ssl
        # A borrowed session gets the context per request; ``True`` leaves it to the
        # connector (the owned one was built with the context, or verifies by default).
        self._request_ssl: ssl_module.SSLContext | bool = (
            ssl if ssl is not None and session is not None else True
        )
        self._max_connections = max_connections
        # Wrapped: a proxy URL may carry credentials.
        self._proxy = chosen_proxy(
            url,
            proxy,
            trust_env=trust_env and session is None,
            allow_insecure_http=allow_insecure_http,
        )
        self.max_response_bytes = max_response_bytes
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"<Transport {self.base_url} owns_session={self._owns_session}>"

    @property
    def closed(self) -> bool:
        return self._closed

    def session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("this RegistryClient is closed")
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None:
                raise RuntimeError(
                    "this RegistryClient is bound to the event loop it was first used on "
                    "(an earlier asyncio.run?); create the client inside the loop that uses it"
                )
            self._loop = loop
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
        headers: Secret[Mapping[str, str]],
        body: Secret[bytes] | None = None,
        keys_only: bool = False,
        on_answer: OnAnswer | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one request; return the response once its status is 2xx (body unread).

        The caller must release the response. Error statuses raise the status's
        ``ApiError`` (a 3xx, never followed, ``RedirectError``); no response at all
        raises ``TransportError``. ``headers`` and ``body`` stay wrapped until the
        expression that hands them to aiohttp, so no frame here shows them.
        ``on_answer(status, headers)`` hears of every answer, whatever its status.
        """
        session = self._session
        if session is None or self._closed or self._loop is not asyncio.get_running_loop():
            session = self.session()  # or the reason why not
        path, _, query = path.partition("?")
        # From parts: parsing a whole URL string costs more than the rest of this method.
        url = URL.build(
            scheme=self._scheme,
            authority=self._authority,
            path=self.base_path + path,
            query_string=query,
            encoded=True,
        )
        debug = log.isEnabledFor(logging.DEBUG)
        started = time.perf_counter() if debug else 0.0
        self.requests_sent += 1
        # Errors are built inside the except clauses and raised after them: raised
        # inside, they would carry aiohttp's exception (request headers and all) along.
        error: RunaiError
        try:
            response = await session.request(
                method,
                url,
                headers=headers.value,
                timeout=timeout,
                data=None if body is None else body.value,
                allow_redirects=False,
                ssl=self._request_ssl,
                proxy=None if self._proxy is None else self._proxy.value,
            )
        except aiohttp.ClientConnectorError as exc:
            error = self._scrubbed(connect_error(exc, operation))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = self._scrubbed(transport_error(exc, operation))
        except RuntimeError as exc:
            # aiohttp's "Session is closed" (a borrowed session closed by its owner).
            reason = "the aiohttp session is closed" if session.closed else repr(str(exc))
            error = TransportError(f"{operation}: {reason}", operation=operation, retryable=False)
        except asyncio.CancelledError as exc:
            # aiohttp's frames below hold the plain headers and body.
            raise exc.with_traceback(None)  # noqa: B904 - the same exception, re-raised
        else:
            if debug:
                log.debug(
                    "%s -> %d in %.1f ms",
                    operation,
                    response.status,
                    (time.perf_counter() - started) * 1000,
                )
            if on_answer is not None:
                on_answer(response.status, response.headers)
            if response.status < 300:
                return response
            error = await self._status_error(response, operation, keys_only, headers, body)
        raise error

    def _scrubbed(self, error: TransportError) -> TransportError:
        return without_proxy_credentials(error, self._proxy)

    @property
    def proxy_origin(self) -> str | None:
        """The proxy in use, without its credentials."""
        return None if self._proxy is None else str(URL(self._proxy.value).origin())

    async def _status_error(
        self,
        response: aiohttp.ClientResponse,
        operation: str,
        keys_only: bool,
        headers: Secret[Mapping[str, str]],
        body: Secret[bytes] | None,
    ) -> RunaiError:
        if response.status < 400:
            response.release()
            return redirect_error(response.status, redirect_origin(response), operation=operation)
        try:
            raw = await response.content.read(_ERROR_BODY_LIMIT)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            raw = b""
        finally:
            response.release()
        return api_error(
            response.status,
            raw,
            operation=operation,
            retry_after=response.headers.get("Retry-After"),
            keys_only=keys_only,
            # A server may echo what it was sent, whatever the shape of its answer.
            secrets=[
                *sent_secrets(
                    headers.value.get("Authorization"), None if body is None else body.value
                ),
                *self._given_values.value,
            ],
        )

    async def read(self, response: aiohttp.ClientResponse, operation: str) -> bytes:
        """The whole body of a response opened by ``open``, which is then released.

        At most ``max_response_bytes`` after decompression; a longer body raises
        ``DecodeError`` as soon as it crosses the limit.
        """
        limit = self.max_response_bytes
        error: RunaiError
        try:
            headers = response.headers  # looked up by istr keys: no case folding per call
            length = headers.get(hdrs.CONTENT_LENGTH)
            if length is not None and hdrs.CONTENT_ENCODING not in headers and int(length) <= limit:
                return await response.read()  # aiohttp reads no more than Content-Length
            body = await _read_at_most(response.content, limit)
            if body is not None:
                return body
            error = DecodeError(
                f"{operation}: response larger than max_response_bytes ({limit} bytes)",
                operation=operation,
            )
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            error = transport_error(exc, operation)
        finally:
            response.release()
        raise error

    async def send_unauthenticated(
        self, method: str, path: str, body: Secret[bytes], content_type: str, *, timeout: float
    ) -> Secret[bytes]:
        """One request without a bearer token (the token endpoint); returns the body.

        Error answers are described by their key names only: they may hold a credential.
        """
        operation = f"{method} {self.base_path}{path}"
        response = await self.open(
            method,
            path,
            operation=operation,
            timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=timeout),
            headers=Secret(
                {**self.headers.value, "Content-Type": content_type, "Accept": "application/json"}
            ),
            body=body,
            keys_only=True,
        )
        return Secret(await self.read(response, operation))


async def _read_at_most(content: aiohttp.StreamReader, limit: int) -> bytes | None:
    """The rest of ``content``, or None once more than ``limit`` bytes have arrived."""
    chunks: list[bytes] = []
    total = 0
    while chunk := await content.readany():
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
