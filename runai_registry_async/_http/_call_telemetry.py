"""One call's telemetry, from its start to its end: its operation span, each HTTP
request's span (an ``Attempt``), its retries and waits, as hook events and OpenTelemetry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._errors import ApiError, DeadlineExceeded, RunaiError, TransportError
from .._secrets import Secret
from ..events import RequestFailed, RequestSent, ResponseReceived, RetryScheduled, Throttled
from ._retry import describe_failure, parse_retry_after

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from ._request import Request
    from ._telemetry import Telemetry

# A wait for a turn shorter than this is not worth a span event (most are 0).
_SHORTEST_WAIT = 0.001


def error_type(exc: BaseException) -> str:
    """A failure in a word, as OpenTelemetry's ``error.type`` wants it: the status of an
    error answer, else a kind of failure."""
    if isinstance(exc, ApiError):
        return str(exc.status)
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if isinstance(exc, DeadlineExceeded):
        return "deadline_exceeded"
    if isinstance(exc, TransportError) and exc.timed_out:
        return "timeout"
    return type(exc).__name__


class Call:
    """One call's telemetry: its operation span, its tries, its waits."""

    __slots__ = ("telemetry", "request", "url", "span", "attempts", "_token")

    def __init__(self, telemetry: Telemetry, request: Request[Any]) -> None:
        self.telemetry = telemetry
        self.request = request
        self.url = telemetry.base_url + request.path
        self.attempts = 0
        otel = telemetry.otel
        self.span: Span | None = None if otel is None else otel.operation_span(request.name)
        self._token: object = None

    def activate(self) -> None:
        """Make the call's span the current one, until ``deactivate`` (in the same
        task and frame of an await: a token fetch started meanwhile is its child)."""
        otel = self.telemetry.otel
        if otel is not None and self.span is not None:
            self._token = otel.activate(self.span)

    def deactivate(self) -> None:
        otel = self.telemetry.otel
        if otel is not None and self._token is not None:
            otel.deactivate(self._token)
            self._token = None

    def attempt(
        self, headers: Secret[Mapping[str, str]]
    ) -> tuple[Attempt, Secret[Mapping[str, str]]]:
        """A request of this call is going out; returns its telemetry and the headers
        to send (with the trace context, when propagated)."""
        self.attempts += 1
        attempt = Attempt(self, self.attempts)
        otel, span = self.telemetry.otel, attempt.span
        if otel is not None and span is not None:
            headers = otel.with_trace_context(span, headers)
        return attempt, headers

    def retrying(self, attempt: int, wait: float, exc: RunaiError) -> None:
        """Try ``attempt`` failed with ``exc``; the next one starts in ``wait`` s."""
        reason = describe_failure(exc)
        request, telemetry = self.request, self.telemetry
        otel = telemetry.otel
        if otel is not None:
            otel.retries.add(1, {"runai_registry.operation": request.name})
            if self.span is not None:
                otel.add_event(
                    self.span, "retry", {"wait.seconds": wait, "reason": reason, "attempt": attempt}
                )
        telemetry.emit(
            RetryScheduled(
                operation=request.name,
                method=request.method,
                url=self.url,
                attempt=attempt,
                wait=wait,
                reason=reason,
            )
        )

    def waited(self, reason: str, seconds: float) -> None:
        """The call waited ``seconds`` before a try: for ``reason`` (the rate limit, a
        pause the server asked for)."""
        otel = self.telemetry.otel
        if otel is not None and self.span is not None and seconds >= _SHORTEST_WAIT:
            otel.add_event(self.span, "wait", {"wait.seconds": seconds, "reason": reason})

    def throttled(self, error: ApiError) -> None:
        request, telemetry = self.request, self.telemetry
        otel = telemetry.otel
        if otel is not None:
            otel.throttled.add(1, {"http.response.status_code": error.status})
        telemetry.emit(
            Throttled(
                operation=request.name,
                method=request.method,
                url=self.url,
                status=error.status,
                retry_after=parse_retry_after(error.retry_after),
            )
        )

    def end(self, exc: BaseException | None = None) -> None:
        """The call is over: succeeded, or failed with ``exc``."""
        otel = self.telemetry.otel
        if otel is not None and self.span is not None:
            otel.end(self.span, None if exc is None else error_type(exc))
            self.span = None


class Attempt:
    """One HTTP request's telemetry, from sending to the answer's headers."""

    __slots__ = ("call", "number", "span", "status", "_started")

    def __init__(self, call: Call, number: int) -> None:
        self.call = call
        self.number = number
        self.status: int | None = None
        request, telemetry = call.request, call.telemetry
        otel = telemetry.otel
        self.span: Span | None = None
        if otel is not None:
            attributes = otel.request_attributes(request.method, request.route)
            attributes["url.full"] = call.url
            if number > 1:
                attributes["http.request.resend_count"] = number - 1
            name = f"{request.method} {request.route}"
            self.span = otel.request_span(call.span, name, attributes)
        telemetry.emit(
            RequestSent(operation=request.name, method=request.method, url=call.url, attempt=number)
        )
        self._started = time.perf_counter()

    def answered(self, status: int) -> None:
        """The answer's status line and headers arrived."""
        self.status = status
        call = self.call
        request = call.request
        call.telemetry.emit(
            ResponseReceived(
                operation=request.name,
                method=request.method,
                url=call.url,
                attempt=self.number,
                status=status,
                elapsed=time.perf_counter() - self._started,
            )
        )

    def end(self, exc: BaseException | None) -> None:
        """The request is over: answered (``exc`` None, or the error the answer made),
        or failed without an answer."""
        elapsed = time.perf_counter() - self._started
        call = self.call
        request, telemetry = call.request, call.telemetry
        failure = None if exc is None else error_type(exc)
        if self.status is None and exc is not None:
            telemetry.emit(
                RequestFailed(
                    operation=request.name,
                    method=request.method,
                    url=call.url,
                    attempt=self.number,
                    error=failure or "",
                    elapsed=elapsed,
                )
            )
        otel = telemetry.otel
        if otel is None:
            return
        # url.full is left out: unbounded, as a metric attribute it would not aggregate.
        attributes = otel.request_attributes(request.method, request.route)
        if self.status is not None:
            attributes["http.response.status_code"] = self.status
        if failure is not None:
            attributes["error.type"] = failure
        otel.duration.record(elapsed, attributes)
        if self.span is not None:
            status = {} if self.status is None else {"http.response.status_code": self.status}
            otel.end(self.span, failure, status)
