"""The request pipeline: every request of a client goes through ``Requester.send``.

    send ─ shared with identical GETs in flight? (_coalescing)
      └─ _send: the one retry loop (_retry.with_retries)
           └─ _attempt: one try
                ├─ wait for a turn: the server's pause, then the pace (_limiter, _ratelimit)
                ├─ authenticate: the token, and one retry after a 401 (_auth.AuthFlow)
                ├─ _open: send, classify the answer (throttled? an error?) (_transport)
                └─ decode the whole body, or open it as a stream (_stream)

Each stage is a method or an object of its own, so that a change has one place to go.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import aiohttp
from aiohttp import hdrs
from multidict import CIMultiDict, CIMultiDictProxy

from .._errors import ApiError, DeadlineExceeded, DecodeError, RunaiError
from .._secrets import Secret
from ._auth import AuthFlow
from ._call_telemetry import Call
from ._coalescing import SharedGets
from ._deadline import Deadline, attempt_timeout, within
from ._headers import request_headers
from ._ratelimit import Pacer
from ._request import Counters, Opener, Request, Settings
from ._retry import OnRetry, RetryBudget, parse_retry_after, with_retries
from ._stream import ItemStream, Stream
from ._telemetry import Telemetry
from ._transport import OnAnswer, Transport

T = TypeVar("T")


def is_throttle(status: int, retry_after: str | None) -> bool:
    """Whether an answer says "slow down": a 429, or a 503 with ``Retry-After``. A 503
    without one, a reset or a timeout is a fault, retried for its own request alone."""
    return status == 429 or (status == 503 and retry_after is not None)


class Requester:
    """Runs a client's requests through the pipeline (see the module's map)."""

    __slots__ = (
        "settings",
        "transport",
        "auth",
        "counters",
        "telemetry",
        "_sharing",
        "_pacer",
        "_budget",
        "_bodiless_headers",
    )

    def __init__(
        self,
        settings: Settings,
        transport: Transport,
        auth: AuthFlow,
        *,
        counters: Counters,
        budget: RetryBudget,
        pacer: Pacer,
        sharing: SharedGets | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport
        self.telemetry = telemetry
        self.auth = auth
        self.counters = counters
        self._budget = budget
        self._pacer = pacer
        self._sharing = sharing
        self._bodiless_headers: tuple[Secret[str] | None, Secret[Mapping[str, str]]] | None = None

    def send(self, request: Request[T]) -> Awaitable[T]:
        """The result of ``request``, after every stage and retry."""
        telemetry = self.telemetry
        call = None if telemetry is None else telemetry.call(request)
        if call is None:
            return self._shared_or_retried(request, None)
        return self._traced(request, call)

    async def _traced(self, request: Request[T], call: Call) -> T:
        try:
            result = await self._shared_or_retried(request, call)
        except BaseException as exc:
            call.end(exc)
            raise
        call.end()
        return result

    def _shared_or_retried(self, request: Request[T], call: Call | None) -> Awaitable[T]:
        sharing = self._sharing
        if (
            sharing is not None
            and request.method == "GET"
            and request.open_stream is None
            and sharing.active(request.cacheable)
        ):
            return sharing.get(
                request.path,
                lambda deadline: self._retried(request, deadline, call),
                cacheable=request.cacheable,
                how=(request.timeout, request.retry),
                deadline=request.deadline,
                operation=request.operation,
            )
        return self._retried(request, request.deadline, call)

    @property
    def adapts_rate(self) -> bool:
        """Whether the send rate follows the server's throttling."""
        return self._pacer.adaptive is not None

    def forget_shared(self) -> None:
        """Drop shared and cached results: the client changed a registry."""
        if self._sharing is not None:
            self._sharing.invalidate()

    # --- the stages ----------------------------------------------------------------------

    def _retried(
        self, request: Request[T], deadline: Deadline | None, call: Call | None
    ) -> Awaitable[T]:
        """Tries of ``request`` until one succeeds or its retry policy gives up."""
        if call is not None:
            return self._retried_reporting(request, deadline, call)
        return self._tries(request, deadline, None, self.counters.count_retry)

    async def _retried_reporting(
        self, request: Request[T], deadline: Deadline | None, call: Call
    ) -> T:
        """``_retried``, each try and retry reported to ``call``, whose span is the
        current one meanwhile (a token fetched on the way is its child)."""
        count = self.counters.count_retry

        def on_retry(attempt: int, wait: float, error: RunaiError) -> None:
            count(attempt, wait, error)
            call.retrying(attempt, wait, error)

        call.activate()
        try:
            return await self._tries(request, deadline, call, on_retry)
        finally:
            call.deactivate()

    def _tries(
        self,
        request: Request[T],
        deadline: Deadline | None,
        call: Call | None,
        on_retry: OnRetry,
    ) -> Awaitable[T]:
        return with_retries(
            lambda: self._attempt(request, deadline, call),
            request.retry,
            operation=request.operation,
            idempotent=request.idempotent,
            deadline=deadline,
            budget=self._budget,
            on_retry=on_retry,
        )

    async def _attempt(
        self, request: Request[T], deadline: Deadline | None, call: Call | None
    ) -> T:
        """One try: wait for a turn, authenticate and send, classify the answer, then
        read or open it."""
        operation = request.operation
        pacer = self._pacer
        if pacer.limited or pacer.pause.until:
            await self._wait_for_turn(deadline, operation, call)
        timeout = attempt_timeout(request.timeout, request.open_stream is not None)
        limit, timeout = within(deadline, request.timeout, timeout, operation)
        transport = self.transport
        sent_at = pacer.sent()

        def answered(status: int, headers: Mapping[str, str]) -> None:
            throttled = is_throttle(status, headers.get(hdrs.RETRY_AFTER))
            pacer.answered(throttled=throttled, sent_at=sent_at, headers=headers)

        try:
            response = await self.auth.send(
                lambda token: self._open(request, token, timeout, answered, call),
                limit,
                operation,
            )
        except ApiError as exc:
            if is_throttle(exc.status, exc.retry_after):
                self._throttled_by(exc, request, call)
            raise
        if request.open_stream is not None:
            return await request.open_stream(transport, response, operation)
        assert request.decode is not None  # one of the two, always
        return request.decode(await transport.read(response, operation), operation)

    def _open(
        self,
        request: Request[Any],
        token: Secret[str] | None,
        timeout: aiohttp.ClientTimeout,
        answered: OnAnswer,
        call: Call | None,
    ) -> Awaitable[aiohttp.ClientResponse]:
        """Send ``request`` with ``token``: one HTTP request, as the transport does it."""
        headers = self._headers(token, has_body=request.body is not None)
        if call is not None:
            return self._open_reporting(request, headers, timeout, answered, call)
        return self._transport_open(request, headers, timeout, answered)

    async def _open_reporting(
        self,
        request: Request[Any],
        headers: Secret[Mapping[str, str]],
        timeout: aiohttp.ClientTimeout,
        answered: OnAnswer,
        call: Call,
    ) -> aiohttp.ClientResponse:
        """``_open``, reported to ``call`` as one request (a span, events, a duration)."""
        attempt, headers = call.attempt(headers)

        def answered_reporting(status: int, response_headers: Mapping[str, str]) -> None:
            attempt.answered(status)
            answered(status, response_headers)

        try:
            response = await self._transport_open(request, headers, timeout, answered_reporting)
        except BaseException as exc:
            attempt.end(exc)
            raise
        attempt.end(None)
        return response

    def _transport_open(
        self,
        request: Request[Any],
        headers: Secret[Mapping[str, str]],
        timeout: aiohttp.ClientTimeout,
        answered: OnAnswer,
    ) -> Awaitable[aiohttp.ClientResponse]:
        return self.transport.open(
            request.method,
            request.path,
            operation=request.operation,
            timeout=timeout,
            headers=headers,
            body=request.body,
            on_answer=answered,
        )

    async def _wait_for_turn(
        self, deadline: Deadline | None, operation: str, call: Call | None
    ) -> None:
        """The client-wide pause an outage asked for, then a slot of the send rate."""
        pause = self._pacer.pause
        if pause.until:
            started = time.monotonic()
            await pause.wait(None if deadline is None else deadline.left(), operation)
            if call is not None:
                call.waited("the server asked for a pause", time.monotonic() - started)
        started = time.monotonic()
        await self._pacer.wait(None if deadline is None else deadline.left(), operation)
        if call is not None:
            call.waited("the send rate", time.monotonic() - started)

    def _throttled_by(self, error: ApiError, request: Request[Any], call: Call | None) -> None:
        self.counters.throttled += 1
        if call is not None:
            call.throttled(error)
        if request.on_throttled is not None:
            request.on_throttled()
        hinted = parse_retry_after(error.retry_after)
        if hinted is not None:
            self._pacer.asked_to_wait(hinted, outage=error.status == 503)

    def _headers(self, token: Secret[str] | None, *, has_body: bool) -> Secret[Mapping[str, str]]:
        fixed = self.transport.headers.value
        if has_body:
            return Secret(request_headers(fixed, token, has_body))
        # Reused while the token stays the same: aiohttp copies a multidict as it is.
        cached = self._bodiless_headers
        if cached is None or cached[0] is not token:
            headers: Secret[Mapping[str, str]] = Secret(
                CIMultiDictProxy(CIMultiDict(request_headers(fixed, token, False)))
            )
            cached = self._bodiless_headers = (token, headers)
        return cached[1]

    # --- streams -------------------------------------------------------------------------

    def stream(
        self,
        request: Callable[[Deadline | None, Opener[Any]], Request[Any]],
        key: str,
        *,
        envelope: type,
        convert: Callable[[Any, int], Any] | None,
        max_item_bytes: int,
        keep: frozenset[str] = frozenset(),
        deadline: float | None = None,
    ) -> Stream[Any]:
        """The array under ``key`` of a GET's body as a ``Stream``; the request
        (``request(deadline, open_stream)``) goes out when the iteration starts."""

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

            sent = request(whole, open_stream)
            call = None if self.telemetry is None else self.telemetry.call(sent)
            failure: BaseException | None = None
            try:
                stream, batch = await self._retried(sent, sent.deadline, call)
            except BaseException as exc:
                if call is not None:
                    call.end(exc)
                raise
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
            except GeneratorExit:
                raise  # the consumer left early: not a failure
            except BaseException as exc:
                failure = exc
                raise
            finally:
                stream.close()
                if call is not None:
                    call.end(failure)

        return Stream(items)
