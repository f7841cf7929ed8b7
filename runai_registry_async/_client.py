"""``RegistryClient``: the seven Registry operations, plus streaming lists."""

from __future__ import annotations

import functools
import math
import ssl as ssl_module
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import EllipsisType, TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from . import _urls
from ._auth import Auth, Fetch, TokenCache, token_cache
from ._converter import body_decoder, dumps, structure
from ._errors import ApiError, DeadlineExceeded, DecodeError, RunaiError, UnauthorizedError
from ._models import (
    Registry,
    RegistryCreationRequest,
    RegistryListResponse,
    RegistryUpdateRequest,
    Repositories,
    RepositoryTags,
)
from ._ratelimit import Pause, RateLimiter
from ._retry import NO_RETRY, Deadline, RetryPolicy, call_with_retries, parse_retry_after
from ._secrets import Secret
from ._sharing import SharedGets
from ._stream import DEFAULT_MAX_ITEM_BYTES, ItemStream
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, Transport, checked_base_url

if TYPE_CHECKING:
    from typing_extensions import Self

T = TypeVar("T")

AssetId = str | uuid.UUID

_DEFAULT_RETRY = RetryPolicy()


class RegistryClient:
    """An async client for the Registry assets of a Run:ai control plane.

    Use it as ``async with RegistryClient(base_url, token=...) as client:`` (or call
    :meth:`aclose`). It opens its own aiohttp session unless ``session`` is given, and
    never closes a borrowed one.

    Args:
        base_url: The control plane, e.g. ``https://myorg.run.ai``. Plain ``http://`` is
            refused unless the host is loopback or ``allow_insecure_http=True``.
        token: A static bearer token.
        auth: :class:`ClientCredentials`, or an async callable returning a token (called
            again when the server rejects the token it gave).
        session: An aiohttp session to borrow.
        timeout: Seconds allowed per request (connect and total); each method takes a
            ``timeout=`` override. For streams it bounds each wait for data instead.
        retry: The :class:`RetryPolicy`, or None for no retries.
        ssl: An ``ssl.SSLContext`` (for a private CA); TLS is always verified otherwise.
        allow_insecure_http: Allow ``http://`` to a host that is not loopback.
        max_connections: Size of the owned session's connection pool.
        max_response_bytes: The most a response body may hold, counted after
            decompression (default 256 MiB, about 7 million tags); a longer one raises
            ``DecodeError``. Streams count it too.
        max_item_bytes: The most one streamed item (a tag, a registry) may take
            (default 1 MiB); streams hold at most one chunk plus one item in memory.
        coalesce: Identical GETs in flight at the same moment share one request (the
            first caller's timeout and retry policy apply to it).
        proxy: A forward proxy URL (``http://user:pass@proxy:3128``); its credentials
            never show in a repr or an error.
        trust_env: Read the proxy from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and
            NO_PROXY (as curl, requests and httpx do) when ``proxy`` is not given; nothing
            else is read from the environment (not ``~/.netrc``). A borrowed session
            keeps its own settings.
        max_per_second: Start at most this many requests a second, client-wide (the
            crawl, the streams and plain calls all draw from it), in bursts of at most
            ``burst`` (default: a tenth of a second's worth, 1 to 10).
        cache_ttl: Keep ``get_registry``, ``list_repositories`` and ``list_tags``
            results this many seconds (at most 1,024 of them); the client's own create,
            update and delete forget them all. Shared results are the same objects:
            treat them as read-only.
    """

    __slots__ = (
        "_transport",
        "_tokens",
        "_timeout",
        "_retry",
        "_bodiless_headers",
        "_max_item_bytes",
        "_sharing",
        "_base_path",
        "_limiter",
        "_pause",
        "retries",
        "throttled",
    )

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        auth: Auth | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = _DEFAULT_RETRY,
        ssl: ssl_module.SSLContext | None = None,
        allow_insecure_http: bool = False,
        max_connections: int = 100,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES,
        coalesce: bool = False,
        cache_ttl: float | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        max_per_second: float | None = None,
        burst: int | None = None,
    ) -> None:
        # From here on no frame local holds the plain token (a traceback rendered with
        # its locals shows every frame's).
        secret_token = None if token is None else Secret(token)
        del token
        if ssl is not None and not isinstance(ssl, ssl_module.SSLContext):
            raise ValueError("ssl must be an ssl.SSLContext")
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValueError("retry must be a RetryPolicy or None")
        _check_size(max_response_bytes, "max_response_bytes")
        _check_size(max_item_bytes, "max_item_bytes")
        self._timeout = _checked_timeout(timeout)
        self._retry = retry or NO_RETRY
        self._max_item_bytes = max_item_bytes
        if cache_ttl is not None:
            _checked_timeout(cache_ttl, "cache_ttl")
        self._sharing = (
            SharedGets(coalesce=bool(coalesce), ttl=cache_ttl)
            if coalesce or cache_ttl is not None
            else None
        )
        self._transport = Transport(
            checked_base_url(base_url, allow_insecure_http=allow_insecure_http),
            session=session,
            ssl=ssl,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            proxy=proxy,
            trust_env=trust_env,
        )
        self._base_path = self._transport.base_path
        self._tokens: TokenCache = token_cache(
            secret_token,
            auth,
            self._transport,
            timeout=self._timeout,
            with_retries=self._token_fetch_with_retries,
        )
        self._bodiless_headers: tuple[Secret[str] | None, Secret[Mapping[str, str]]] | None = None
        self._limiter = (
            None
            if max_per_second is None
            else RateLimiter(
                max_per_second, _default_burst(max_per_second) if burst is None else burst
            )
        )
        self._pause = Pause()
        #: How many times a request was retried, over the client's life.
        self.retries = 0
        #: How many 429 and 503 answers the client has received.
        self.throttled = 0

    def __repr__(self) -> str:
        return f"<RegistryClient {self._transport.base_url}>"

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def requests_sent(self) -> int:
        """How many HTTP requests the client has sent, retries and token requests included."""
        return self._transport.requests_sent

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session the client opened (a borrowed one stays open)."""
        await self._transport.close()

    # --- the seven operations -------------------------------------------------------

    async def list_registries(
        self,
        name: str | None = None,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
    ) -> list[Registry]:
        """All registries, or those whose name matches ``name``."""
        path = _urls.REGISTRIES + _urls.query(name=name)
        return (
            await self._request(
                "GET", path, _read_registry_list, timeout=timeout, deadline=deadline, retry=retry
            )
        ).entries

    async def create_registry(
        self,
        request: RegistryCreationRequest,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
    ) -> Registry:
        """Create a registry; the answer is the created registry (201).

        Not retried once the request may have reached the server. After a failed create,
        list the registries by name before trying again: a 409 means it already exists.
        """
        _check_type(request, RegistryCreationRequest, "request")
        try:
            return await self._request(
                "POST",
                _urls.REGISTRIES,
                _read_registry,
                body=Secret(dumps(request)),
                timeout=timeout,
                deadline=deadline,
                retry=retry,
            )
        finally:
            self._changed()

    async def get_registry(
        self,
        asset_id: AssetId,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
    ) -> Registry:
        """One registry by id."""
        return await self._request(
            "GET",
            _urls.registry_path(asset_id),
            _read_registry,
            timeout=timeout,
            deadline=deadline,
            retry=retry,
            cacheable=True,
        )

    async def update_registry(
        self,
        asset_id: AssetId,
        request: RegistryUpdateRequest,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
    ) -> Registry:
        """Replace a registry's name, description and spec; the answer is the result."""
        path = _urls.registry_path(asset_id)
        _check_type(request, RegistryUpdateRequest, "request")
        try:
            return await self._request(
                "PUT",
                path,
                _read_registry,
                body=Secret(dumps(request)),
                timeout=timeout,
                deadline=deadline,
                retry=retry,
            )
        finally:
            self._changed()

    async def delete_registry(
        self,
        asset_id: AssetId,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
    ) -> None:
        """Delete a registry (204)."""
        try:
            await self._request(
                "DELETE",
                _urls.registry_path(asset_id),
                _discard,
                timeout=timeout,
                deadline=deadline,
                retry=retry,
            )
        finally:
            self._changed()

    async def list_repositories(
        self,
        asset_id: AssetId,
        *,
        search_name: str | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
    ) -> list[str]:
        """The names of a registry's repositories, optionally those containing ``search_name``."""
        path = _repositories_path(asset_id, search_name)
        return (
            await self._request(
                "GET",
                path,
                _read_repositories,
                timeout=timeout,
                deadline=deadline,
                retry=retry,
                cacheable=True,
            )
        ).repositories

    async def list_tags(
        self,
        asset_id: AssetId,
        repository: str,
        *,
        search_name: str | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
    ) -> RepositoryTags:
        """The tags of one repository, optionally those containing ``search_name``."""
        path = _tags_path(asset_id, repository, search_name)
        return await self._request(
            "GET",
            path,
            _read_tags,
            timeout=timeout,
            deadline=deadline,
            retry=retry,
            about=_about(repository),
            cacheable=True,
        )

    # --- streaming ------------------------------------------------------------------

    def iter_registries(
        self,
        name: str | None = None,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
    ) -> AsyncIterator[Registry]:
        """Like :meth:`list_registries`, yielding each registry as soon as it has arrived."""
        path = _urls.REGISTRIES + _urls.query(name=name)
        operation = self._operation("GET", path)

        def convert(item: Any, index: int) -> Registry:
            return structure(item, Registry, operation=operation, path=f"$.entries[{index}]")

        return self._stream(
            path, "entries", RegistryListResponse, convert, timeout, deadline=deadline, retry=retry
        )

    def iter_repositories(
        self,
        asset_id: AssetId,
        *,
        search_name: str | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
    ) -> AsyncIterator[str]:
        """Like :meth:`list_repositories`, yielding each name as soon as it has arrived."""
        return self._stream(
            _repositories_path(asset_id, search_name),
            "repositories",
            Repositories,
            None,
            timeout,
            deadline=deadline,
            retry=retry,
        )

    def iter_tags(
        self,
        asset_id: AssetId,
        repository: str,
        *,
        search_name: str | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
    ) -> AsyncIterator[str]:
        """Like :meth:`list_tags`, yielding each tag as soon as it has arrived.

        Memory stays bounded by one network chunk plus one tag (at most
        ``max_item_bytes``) whatever the number of tags. Leaving the loop early closes
        the response at once. Retries apply until the first tag is yielded; a failure
        after that raises (``DecodeError`` naming how many items were yielded) instead
        of starting over, which would repeat items. A body that ``list_tags`` would
        reject raises the same ``DecodeError``.
        """
        return self._stream(
            _tags_path(asset_id, repository, search_name),
            "tags",
            RepositoryTags,
            None,
            timeout,
            keep=_NAME,
            deadline=deadline,
            retry=retry,
            about=_about(repository),
        )

    # --- the one request path ---------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        handle: _Handler[T],
        *,
        body: Secret[bytes] | None = None,
        timeout: float | None = None,
        deadline: float | Deadline | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
        stream: bool = False,
        about: str = "",
        cacheable: bool = False,
    ) -> Awaitable[T]:
        """Send ``method path`` with auth and retries; ``handle`` reads the 2xx response."""
        # A plain function handing back the retry loop's coroutine: one frame fewer on
        # every resume of every request.
        operation = self._operation(method, path, about)
        seconds = self._timeout if timeout is None else _checked_timeout(timeout)
        if deadline is not None and not isinstance(deadline, Deadline):
            deadline = Deadline(_checked_timeout(deadline, "deadline"))
        args = (
            method,
            path,
            handle,
            body,
            operation,
            seconds,
            _client_timeout(seconds, stream),
            deadline,
        )
        policy = self._retry if retry is ... else self._policy(retry)
        sharing = self._sharing
        if sharing is not None and method == "GET" and not stream and sharing.active(cacheable):
            return sharing.get(
                path,
                lambda: call_with_retries(
                    self._attempt,
                    args,
                    policy,
                    operation=operation,
                    idempotent=True,
                    on_retry=self._count_retry,
                    deadline=deadline,
                ),
                cacheable=cacheable,
            )
        return call_with_retries(
            self._attempt,
            args,
            policy,
            operation=operation,
            idempotent=method != "POST",
            on_retry=self._count_retry,
            deadline=deadline,
        )

    def _operation(self, method: str, path: str, about: str = "") -> str:
        """What error messages call a request: the full path, base path included."""
        return f"{method} {self._base_path}{path.partition('?')[0]}{about}"

    def _policy(self, retry: RetryPolicy | EllipsisType | None) -> RetryPolicy:
        if retry is ...:
            return self._retry
        if retry is None:
            return NO_RETRY
        if not isinstance(retry, RetryPolicy):
            raise ValueError(f"retry must be a RetryPolicy or None, not {type(retry).__name__}")
        return retry

    async def _attempt(
        self,
        method: str,
        path: str,
        handle: _Handler[T],
        body: Secret[bytes] | None,
        operation: str,
        seconds: float,
        client_timeout: aiohttp.ClientTimeout,
        deadline: Deadline | None,
    ) -> T:
        """One try: the current token, the request, then ``handle`` on the 2xx response."""
        if self._limiter is not None or self._pause.until:
            await self._wait_for_turn(deadline, operation)
        if deadline is not None:
            left = deadline.left()
            if left < seconds:  # this try gets only what is left of the call's time
                if left <= 0:
                    raise deadline.exceeded(operation, 1, None)
                seconds = left
                client_timeout = _clipped_timeout(client_timeout, left)
        tokens, transport = self._tokens, self._transport
        token = tokens.current() or await tokens.get(seconds)
        try:
            response = await transport.open(
                method,
                path,
                operation=operation,
                timeout=client_timeout,
                headers=self._headers_for(token, body is not None),
                body=body,
            )
        except UnauthorizedError as exc:
            exc.token_rejected = tokens.reject(token)
            raise
        except ApiError as exc:
            if exc.status in _THROTTLING:
                self._throttled_by(exc)
            raise
        return await handle(transport, response, operation)

    async def _wait_for_turn(self, deadline: Deadline | None, operation: str) -> None:
        """The shared pause a 429/503 asked for, then a slot of ``max_per_second``."""
        await self._pause.wait(None if deadline is None else deadline.left(), operation)
        if self._limiter is not None:
            await self._limiter.acquire(None if deadline is None else deadline.left(), operation)

    def _throttled_by(self, error: ApiError) -> None:
        self.throttled += 1
        hinted = parse_retry_after(error.retry_after)
        if hinted is not None:
            # Every request of this client that has not started waits too (as octokit
            # does), no longer than a retry would.
            self._pause.extend(min(hinted, self._retry.max_delay))

    def _headers_for(self, token: Secret[str] | None, has_body: bool) -> Secret[Mapping[str, str]]:
        if has_body:
            return Secret(_headers(token, has_body))
        # Reused while the token stays the same: aiohttp copies a multidict as it is.
        cached = self._bodiless_headers
        if cached is None or cached[0] is not token:
            headers: Secret[Mapping[str, str]] = Secret(
                CIMultiDictProxy(CIMultiDict(_headers(token, False)))
            )
            cached = self._bodiless_headers = (token, headers)
        return cached[1]

    def _count_retry(self) -> None:
        self.retries += 1

    def _changed(self) -> None:
        if self._sharing is not None:
            self._sharing.invalidate()

    def _token_fetch_with_retries(self, fetch: Fetch) -> Fetch:
        """``fetch`` run through the client's retry policy: one loop for every waiter."""

        def fetch_with_retries() -> Awaitable[tuple[Secret[str], float | None]]:
            return call_with_retries(
                fetch,
                (),
                self._retry,
                operation="token request",
                idempotent=True,
                on_retry=self._count_retry,
            )

        return fetch_with_retries

    async def _stream(
        self,
        path: str,
        key: str,
        envelope: type,
        convert: Callable[[Any, int], Any] | None,
        timeout: float | None,
        *,
        keep: frozenset[str] = frozenset(),
        deadline: float | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
        about: str = "",
    ) -> AsyncIterator[Any]:
        max_item_bytes = self._max_item_bytes
        whole = None if deadline is None else Deadline(_checked_timeout(deadline, "deadline"))

        async def open_stream(
            transport: Transport, response: aiohttp.ClientResponse, operation: str
        ) -> tuple[ItemStream, list[Any] | None]:
            stream = ItemStream(
                response,
                key,
                envelope=envelope,
                keep=keep,
                convert=convert,
                operation=operation,
                max_item_bytes=max_item_bytes,
                max_total_bytes=transport.max_response_bytes,
                deadline=whole,
            )
            try:
                return stream, await stream.next_batch()
            except BaseException:
                stream.close()
                raise

        stream, batch = await self._request(
            "GET",
            path,
            open_stream,
            timeout=timeout,
            deadline=whole,
            retry=retry,
            stream=True,
            about=about,
        )
        yielded = 0
        try:
            while batch is not None:
                for item in batch:
                    yield item
                yielded += len(batch)
                try:
                    batch = await stream.next_batch()
                except DeadlineExceeded:
                    raise
                except RunaiError as exc:
                    error = DecodeError(
                        f"{exc} ({yielded} items were yielded before)", operation=exc.operation
                    )
                else:
                    continue
                raise error
        finally:
            stream.close()


_NAME = frozenset({"name"})


_THROTTLING = frozenset({429, 503})


def _default_burst(rate: float) -> int:
    return max(1, min(10, int(rate // 10)))


def _about(repository: str) -> str:
    return f" (repository {repository!r})"


_Handler = Callable[[Transport, aiohttp.ClientResponse, str], Awaitable[T]]


async def _discard(transport: Transport, response: aiohttp.ClientResponse, operation: str) -> None:
    response.release()


def _headers(token: Secret[str] | None, has_body: bool) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token.value}"
    if has_body:
        headers["Content-Type"] = "application/json"
    return headers


def _decoder(model: type[T]) -> _Handler[T]:
    """The handler that reads a whole JSON body and structures it as ``model``."""
    decode_body = body_decoder(model)

    async def decode(transport: Transport, response: aiohttp.ClientResponse, operation: str) -> T:
        return decode_body(await transport.read(response, operation), operation)

    return decode


_read_registry = _decoder(Registry)
_read_registry_list = _decoder(RegistryListResponse)
_read_repositories = _decoder(Repositories)
_read_tags = _decoder(RepositoryTags)


@functools.cache
def _client_timeout(seconds: float, stream: bool) -> aiohttp.ClientTimeout:
    # A stream may take long in total; bound each wait for data instead.
    if stream:
        return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
    return aiohttp.ClientTimeout(total=seconds, sock_connect=seconds)


def _repositories_path(asset_id: AssetId, search_name: str | None) -> str:
    path = _urls.registry_path(asset_id) + "/repositories"
    if search_name is not None:
        path += "?searchName=" + _urls.encode("searchName", search_name, allow_reserved=True)
    return path


def _tags_path(asset_id: AssetId, repository: str, search_name: str | None) -> str:
    if not isinstance(repository, str) or not repository:
        raise ValueError("repository must be a non-empty string")
    path = (
        _urls.registry_path(asset_id)
        + "/repositories/tags?repository="
        + _urls.encode("repository", repository, allow_reserved=True)
    )
    if search_name is not None:
        path += "&searchName=" + _urls.encode("searchName", search_name, allow_reserved=True)
    return path


def _check_type(value: object, expected: type, name: str) -> None:
    if not isinstance(value, expected):
        raise TypeError(f"{name} must be a {expected.__name__}, not {type(value).__name__}")


def _clipped_timeout(timeout: aiohttp.ClientTimeout, left: float) -> aiohttp.ClientTimeout:
    # Not cached: every value is new. A stream's total stays None; its reads are bounded
    # by the stream itself.
    return aiohttp.ClientTimeout(
        total=None if timeout.total is None else left,
        sock_connect=left,
        sock_read=None if timeout.sock_read is None else min(timeout.sock_read, left),
    )


def _checked_timeout(timeout: float, name: str = "timeout") -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout < math.inf
    ):
        raise ValueError(f"{name} must be a finite positive number of seconds, got {timeout!r}")
    return float(timeout)


def _check_size(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
        raise ValueError(f"{name} must be an int of at least 1024 (bytes), got {value!r}")
