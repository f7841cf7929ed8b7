"""The one retry loop: exponential backoff with full jitter, Retry-After, a deadline."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

from attrs import field, frozen
from attrs.validators import ge, gt

from .._errors import ApiError, DeadlineExceeded, RunaiError, TransportError, UnauthorizedError
from .._secrets import detached

T = TypeVar("T")

log = logging.getLogger("runai_registry_async")

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@frozen
class RetryPolicy:
    """How failed requests are retried.

    ``attempts`` counts every try, the first included. Waits grow as
    ``base_delay * 2**n`` with full jitter, each capped at ``max_delay``; no wait starts
    that would end past ``deadline`` seconds after the first try. A ``Retry-After``
    header (seconds or HTTP-date) replaces the jittered wait, still capped at ``max_delay``.

    Retried: connection errors, timeouts, 429, 502, 503 and 504 on GET, PUT and DELETE.
    ``create_registry`` (POST) is retried only when the connection could not be opened,
    since otherwise the server may have created the registry already.
    """

    attempts: int = field(default=4, validator=ge(1))
    base_delay: float = field(default=0.2, validator=ge(0))
    max_delay: float = field(default=10.0, validator=ge(0))
    deadline: float = field(default=60.0, validator=gt(0))

    def backoff(self, attempt: int) -> float:
        """The jittered wait after failed try number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)


NO_RETRY = RetryPolicy(attempts=1)


class RetryBudget:
    """Retries a client may still make, shared by all of its calls (botocore's retry
    quota): a server that refuses for ever makes calls fail at once, not retry for hours.

    Each retry spends ``retry_cost`` (``timeout_cost`` after a timeout or a dropped
    connection); each call that succeeds gives back what it spent, or ``refund`` if it
    spent nothing. Pure bookkeeping, no clock.
    """

    __slots__ = ("capacity", "available", "retry_cost", "timeout_cost", "refund")

    def __init__(
        self, capacity: int = 500, *, retry_cost: int = 5, timeout_cost: int = 10, refund: int = 1
    ) -> None:
        self.capacity = self.available = capacity
        self.retry_cost, self.timeout_cost, self.refund = retry_cost, timeout_cost, refund

    def spend(self, exc: RunaiError) -> int:
        """What a retry after ``exc`` costs, taken from the budget; 0 if it cannot pay."""
        cost = self.timeout_cost if isinstance(exc, TransportError) else self.retry_cost
        if cost > self.available:
            return 0
        self.available -= cost
        return cost

    def succeeded(self, spent: int) -> None:
        """A call succeeded after spending ``spent`` on its retries."""
        self.available = min(self.capacity, self.available + (spent or self.refund))


class Deadline:
    """When a whole call must be over: token fetch, every attempt, every wait."""

    __slots__ = ("seconds", "expires_at")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires_at = time.monotonic() + seconds

    def left(self) -> float:
        return self.expires_at - time.monotonic()

    def spent(self, operation: str) -> DeadlineExceeded:
        """The error of a try that found no time left to start (the retry loop that
        made the tries sets ``attempts`` and ``last_error``)."""
        return DeadlineExceeded(
            f"{operation}: deadline of {self.seconds:g} s passed before the next attempt "
            "could start",
            operation=operation,
        )

    def exceeded(
        self, operation: str, attempts: int, last_error: RunaiError | None
    ) -> DeadlineExceeded:
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        last = f"; the last failed with: {last_error}" if last_error is not None else ""
        return DeadlineExceeded(
            f"{operation}: deadline of {self.seconds:g} s passed after {tries}{last}",
            operation=operation,
            attempts=attempts,
            last_error=last_error,
        )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header, in either of its forms; None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() also takes "²"
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = datetime.now(timezone.utc).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def _is_retryable(exc: RunaiError, idempotent: bool) -> bool:
    if exc._retried:  # it has been through a retry loop already (a token fetch)
        return False
    if isinstance(exc, TransportError):
        return exc.retryable and (idempotent or exc.connect_failed)
    if isinstance(exc, ApiError):
        return idempotent and exc.status in RETRYABLE_STATUSES
    return False


def _wait_for(exc: RunaiError, policy: RetryPolicy, attempt: int) -> float:
    if isinstance(exc, ApiError):
        hinted = parse_retry_after(exc.retry_after)
        if hinted is not None:
            return min(hinted, policy.max_delay)
    return policy.backoff(attempt)


class Retries:
    """What to do after each failure of one call: wait and try again, or give up.

    Pure bookkeeping, no I/O: a call makes one on its first failure (a call that
    succeeds at once never does) and asks :meth:`wait_after` after each failed try.
    """

    __slots__ = (
        "policy",
        "operation",
        "idempotent",
        "on_retry",
        "deadline",
        "started",
        "attempt",
        "token_refreshed",
        "previous",
        "budget",
        "spent",
    )

    def __init__(
        self,
        policy: RetryPolicy,
        started: float,
        operation: str,
        idempotent: bool,
        on_retry: Callable[[], None] | None = None,
        deadline: Deadline | None = None,
        budget: RetryBudget | None = None,
    ) -> None:
        self.policy = policy
        self.operation = operation
        self.idempotent = idempotent
        self.on_retry = on_retry
        self.deadline = deadline
        self.started = started  # time.monotonic() as the first try began
        self.attempt = 0
        self.token_refreshed = False
        self.previous: RunaiError | None = None  # the failure of the try before the last
        self.budget = budget
        self.spent = 0  # taken from the budget by this call's retries

    def wait_after(self, exc: RunaiError) -> float:
        """Seconds to wait before the next try after ``exc`` (0: at once); raises the
        error that ends the call when there is no next try.

        A 401 that rejected a refreshable token is retried once at once (the next try
        fetches a new token); it does not count against the policy. The error raised
        carries the number of tries in ``attempts`` and is detached from the frames
        below, which may hold a body or a header. Past the deadline (or where a wait
        would end past it) ``DeadlineExceeded`` is raised instead, carrying the last error.
        """
        self.attempt += 1
        attempt, deadline, operation = self.attempt, self.deadline, self.operation
        if isinstance(exc, UnauthorizedError):
            if self.token_refreshed or not exc.token_rejected:
                raise detached(_final(exc, attempt))
            self.token_refreshed = True
            self.attempt -= 1
            log.debug("%s: token rejected, retrying once with a fresh one", operation)
            return 0.0
        if deadline is not None and (isinstance(exc, DeadlineExceeded) or deadline.left() <= 0):
            raise _past(deadline, exc, operation, attempt, self.previous)
        policy = self.policy
        if attempt >= policy.attempts or not _is_retryable(exc, self.idempotent):
            raise detached(_final(exc, attempt))
        wait = _wait_for(exc, policy, attempt)
        if time.monotonic() - self.started + wait > policy.deadline:
            raise detached(_final(exc, attempt))
        if deadline is not None and wait >= deadline.left():
            # A wait that would end past the deadline is not started.
            raise _past(deadline, exc, operation, attempt, self.previous)
        if self.budget is not None:
            cost = self.budget.spend(exc)
            if not cost:
                raise detached(_out_of_budget(_final(exc, attempt)))
            self.spent += cost
        log.debug(
            "%s: attempt %d of %d failed, waiting %.3f s before the next: %s",
            operation,
            attempt,
            policy.attempts,
            wait,
            _reason(exc),
        )
        if self.on_retry is not None:
            self.on_retry()
        self.previous = detached(exc)
        return wait


async def call_with_retries(
    send: Callable[..., Awaitable[T]],
    args: tuple[Any, ...],
    policy: RetryPolicy,
    *,
    operation: str,
    idempotent: bool,
    on_retry: Callable[[], None] | None = None,
    deadline: Deadline | None = None,
) -> T:
    """Run ``send(*args)`` until it succeeds, fails for good, or the policy runs out
    (see :meth:`Retries.wait_after`)."""
    started = time.monotonic()
    retries: Retries | None = None
    while True:
        try:
            return await send(*args)
        except RunaiError as exc:
            how = (policy, started, operation, idempotent, on_retry, deadline, None)
            retries, wait = after_failure(retries, exc, how)
        if wait:
            await asyncio.sleep(wait)


#: What a call's ``Retries`` is made from, in the order of its parameters.
RetryArgs = tuple[
    RetryPolicy, float, str, bool, Callable[[], None] | None, Deadline | None, RetryBudget | None
]


def after_failure(
    retries: Retries | None, exc: RunaiError, how: RetryArgs
) -> tuple[Retries, float]:
    """The call's ``Retries`` (made from ``how`` on its first failure) and the wait
    before its next try after ``exc``; raises the error that ends the call instead."""
    if retries is None:
        retries = Retries(*how)
    return retries, retries.wait_after(exc)


def _final(exc: RunaiError, attempt: int) -> RunaiError:
    if not exc._retried:  # an error from an inner loop keeps its own count
        exc.attempts = attempt
        exc._retried = True
    return exc


def _out_of_budget(exc: RunaiError) -> RunaiError:
    text = exc.args[0] if exc.args else ""
    exc.args = (
        f"{text}; not retried: the client's retry budget is spent (too many failures "
        "lately; successes refill it)",
    )
    return exc


def _past(
    deadline: Deadline,
    exc: RunaiError,
    operation: str,
    attempt: int,
    previous: RunaiError | None,
) -> RunaiError:
    if isinstance(exc, DeadlineExceeded):
        # Raised by this attempt as it found no time left (its message says no count):
        # it carries the failure that used the time up.
        if not exc._retried and exc.last_error is None:
            exc.last_error = previous
        return detached(_final(exc, attempt))
    last = detached(_final(exc, attempt))
    return detached(deadline.exceeded(operation, attempt, last))


def _reason(exc: RunaiError) -> str:
    """The failure in a few words, for the retry log line."""
    if isinstance(exc, ApiError):
        hint = f", Retry-After {exc.retry_after}" if exc.retry_after else ""
        return f"HTTP {exc.status}{hint}"
    return str(exc).removeprefix(f"{exc.operation}: ")
