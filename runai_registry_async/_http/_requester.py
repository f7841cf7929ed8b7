"""The one request path: auth, rate limit and pause, retries, deadlines, then the 2xx
response read whole and decoded, or opened as a stream. ``RegistryClient`` builds on it."""

from __future__ import annotations

import asyncio
import functools
import math
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from types import EllipsisType
from typing import Any, TypeVar

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from .._errors import ApiError, DeadlineExceeded, DecodeError, RunaiError, UnauthorizedError
from .._secrets import Secret
from ._auth import Fetch, TokenCache
from ._coalescing import SharedGets
from ._ratelimit import Pause, RateLimiter
from ._retry import (
    NO_RETRY,
    Deadline,
    Retries,
    RetryBudget,
    RetryPolicy,
    after_failure,
    call_with_retries,
    parse_retry_after,
)
from ._stream import ItemStream, Stream
from ._transport import Transport

T = TypeVar("T")

#: Turns a whole 2xx body into the result: ``decode(body, operation)``.
Decode = Callable[[bytes, str], T]
#: Opens a 2xx response as a stream: ``open_stream(transport, response, operation)``.
Opener = Callable[[Transport, aiohttp.ClientResponse, str], Awaitable[T]]

_THROTTLING = frozenset({429, 503})


class RequestPath:
    """Every request of a client goes through :meth:`_request` (or :meth:`_stream`).

    Holds no constructor: ``RegistryClient.__init__`` sets these slots.
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
        "_retry_budget",
        "retries",
        "throttled",
    )

    _transport: Transport
    _tokens: TokenCache
    _timeout: float
    _retry: RetryPolicy
    _bodiless_headers: tuple[Secret[str] | None, Secret[Mapping[str, str]]] | None
    _max_item_bytes: int
    _sharing: SharedGets | None
    _base_path: str
    _limiter: RateLimiter | None
    _pause: Pause
    _retry_budget: RetryBudget
    retries: int
    throttled: int

    def _request(
        self,
        method: str,
        path: str,
        decode: Decode[T] | None,
        *,
        body: Secret[bytes] | None = None,
        timeout: float | None = None,
        deadline: float | Deadline | None = None,
        retry: RetryPolicy | EllipsisType | None = ...,
        open_stream: Opener[T] | None = None,
        about: str = "",
        cacheable: bool = False,
    ) -> Awaitable[T]:
        """Send ``method path`` with auth and retries; the 2xx body goes to ``decode``,
        or, with ``open_stream``, the response is handed to it unread."""
        # A plain function handing back the call's coroutine: one frame fewer on every
        # resume of every request.
        operation = self._operation(method, path, about)
        stream = open_stream is not None
        seconds = self._timeout if timeout is None else checked_timeout(timeout)
        if deadline is not None and not isinstance(deadline, Deadline):
            deadline = Deadline(checked_timeout(deadline, "deadline"))
        policy = self._retry if retry is ... else self._policy(retry)
        client_timeout = _client_timeout(seconds, stream)

        def call(until: Deadline | None) -> Awaitable[T]:
            return self._call(
                method,
                path,
                decode,
                open_stream,
                body,
                operation,
                seconds,
                client_timeout,
                until,
                policy,
                method != "POST",
            )

        sharing = self._sharing
        if sharing is not None and method == "GET" and not stream and sharing.active(cacheable):
            return sharing.get(
                path,
                call,
                cacheable=cacheable,
                how=(seconds, policy),
                deadline=deadline,
                operation=operation,
            )
        return call(deadline)

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

    async def _call(
        self,
        method: str,
        path: str,
        decode: Decode[T] | None,
        open_stream: Opener[T] | None,
        body: Secret[bytes] | None,
        operation: str,
        seconds: float,
        client_timeout: aiohttp.ClientTimeout,
        deadline: Deadline | None,
        policy: RetryPolicy,
        idempotent: bool,
    ) -> T:
        """Tries until one succeeds or ``Retries`` says stop: each waits its turn, takes
        the current token, sends, and reads or opens the 2xx response.

        ``call_with_retries`` with the try written in: one coroutine, not two, per request.
        """
        started = time.monotonic()
        retries: Retries | None = None
        response: aiohttp.ClientResponse | None = None
        while True:
            try:
                if self._limiter is not None or self._pause.until:
                    await self._wait_for_turn(deadline, operation)
                limit, timeout = seconds, client_timeout
                if deadline is not None:
                    limit, timeout = _within(deadline, seconds, client_timeout, operation)
                tokens, transport = self._tokens, self._transport
                token = tokens.current() or await tokens.get(limit)
                try:
                    response = await transport.open(
                        method,
                        path,
                        operation=operation,
                        timeout=timeout,
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
                if open_stream is not None:
                    result = await open_stream(transport, response, operation)
                else:
                    assert decode is not None  # one of the two, always
                    result = decode(await transport.read(response, operation), operation)
                self._retry_budget.succeeded(0 if retries is None else retries.spent)
                return result
            except RunaiError as exc:
                # A read response holds its body: this frame, which the error's traceback
                # shows, must not keep it.
                response = None
                how = (
                    policy,
                    started,
                    operation,
                    idempotent,
                    self._count_retry,
                    deadline,
                    self._retry_budget,
                )
                retries, wait = after_failure(retries, exc, how)
            if wait:
                await asyncio.sleep(wait)

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

    def _stream(
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
    ) -> Stream[Any]:
        """The array under ``key`` of ``GET path`` as a :class:`Stream`. The arguments
        are checked now; the request goes out when the iteration starts."""
        if timeout is not None:
            checked_timeout(timeout)
        if deadline is not None:
            checked_timeout(deadline, "deadline")
        self._policy(retry)
        max_item_bytes = self._max_item_bytes

        async def items(batched: bool) -> AsyncGenerator[Any, None]:
            # The deadline counts from the start of the iteration, as the request does.
            whole = None if deadline is None else Deadline(float(deadline))

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
                None,
                timeout=timeout,
                deadline=whole,
                retry=retry,
                open_stream=open_stream,
                about=about,
            )
            yielded = 0
            try:
                while batch is not None:
                    yielded += len(batch)  # counted first: the consumer may change the list
                    if batched:
                        yield batch
                    else:
                        for item in batch:
                            yield item
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

        return Stream(items)


def default_burst(rate: float) -> int:
    """A tenth of a second's worth of requests, 1 to 10."""
    return max(1, min(10, int(rate // 10)))


def _headers(token: Secret[str] | None, has_body: bool) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token.value}"
    if has_body:
        headers["Content-Type"] = "application/json"
    return headers


@functools.cache
def _client_timeout(seconds: float, stream: bool) -> aiohttp.ClientTimeout:
    # A stream may take long in total; bound each wait for data instead.
    if stream:
        return aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
    return aiohttp.ClientTimeout(total=seconds, sock_connect=seconds)


def _within(
    deadline: Deadline, seconds: float, timeout: aiohttp.ClientTimeout, operation: str
) -> tuple[float, aiohttp.ClientTimeout]:
    """``seconds`` and ``timeout`` for one try, cut to what is left of the call's
    ``deadline`` if that is less."""
    left = deadline.left()
    if left >= seconds:
        return seconds, timeout
    if left <= 0:
        raise deadline.spent(operation)
    return left, _clipped_timeout(timeout, left)


def _clipped_timeout(timeout: aiohttp.ClientTimeout, left: float) -> aiohttp.ClientTimeout:
    # Not cached: every value is new. A stream's total stays None; its reads are bounded
    # by the stream itself.
    return aiohttp.ClientTimeout(
        total=None if timeout.total is None else left,
        sock_connect=left,
        sock_read=None if timeout.sock_read is None else min(timeout.sock_read, left),
    )


def checked_timeout(timeout: float, name: str = "timeout") -> float:
    """``timeout`` as a float, if it is a finite positive number of seconds."""
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout < math.inf
    ):
        raise ValueError(f"{name} must be a finite positive number of seconds, got {timeout!r}")
    return float(timeout)
