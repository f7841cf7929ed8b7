"""The one retry loop: exponential backoff with full jitter, Retry-After, a deadline."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import TypeVar, final

from attrs import field, frozen
from attrs.validators import ge, gt

from .._errors import ApiError, DeadlineExceeded, RunaiError, TransportError
from .._secrets import detached
from ._deadline import Deadline

T = TypeVar("T")

log = logging.getLogger("runai_registry_async")

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


@frozen(init=False)
class RetryPolicy:
    """How failed requests are retried.

    ``attempts`` counts every try, the first included. Waits grow as
    ``base_delay * 2**n`` with full jitter, each capped at ``max_delay``; no wait starts
    that would end past ``max_elapsed`` seconds after the first try. A ``Retry-After``
    header (seconds or HTTP-date) replaces the jittered wait, still capped at ``max_delay``.
    (A call's own ``deadline=`` is another thing: it bounds the whole call, tries and
    waits included, and raises ``DeadlineExceeded``.)

    Retried: connection errors, timeouts, 429, 502, 503 and 504 on GET, PUT and DELETE.
    ``create_registry`` (POST) is retried only when the connection could not be opened,
    since otherwise the server may have created the registry already.

    Args:
        attempts: Tries in all, at least 1.
        base_delay: The first backoff's ceiling, in seconds.
        max_delay: The longest single wait, in seconds.
        max_elapsed: No retry starts later than this many seconds after the first try.
        deadline: The old name of ``max_elapsed`` (deprecated since 0.3).
    """

    attempts: int = field(validator=ge(1))
    base_delay: float = field(validator=ge(0))
    max_delay: float = field(validator=ge(0))
    max_elapsed: float = field(validator=gt(0))

    def __init__(
        self,
        attempts: int = 4,
        base_delay: float = 0.2,
        max_delay: float = 10.0,
        max_elapsed: float = 60.0,
        *,
        deadline: float | None = None,
    ) -> None:
        if deadline is not None:
            warnings.warn(
                "RetryPolicy(deadline=) is now RetryPolicy(max_elapsed=); "
                "deadline= goes in the next minor version",
                DeprecationWarning,
                stacklevel=2,
            )
            max_elapsed = deadline
        self.__attrs_init__(attempts, base_delay, max_delay, max_elapsed)

    @property
    def deadline(self) -> float:
        """The old name of ``max_elapsed`` (deprecated)."""
        warnings.warn(
            "RetryPolicy.deadline is now RetryPolicy.max_elapsed",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.max_elapsed

    def backoff(self, attempt: int) -> float:
        """The jittered wait after failed try number ``attempt``.

        Args:
            attempt: The try that failed, from 1.
        """
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)


NO_RETRY = RetryPolicy(attempts=1)


@final
class UseClientDefault:
    """The type of ``USE_CLIENT_DEFAULT``, for wrappers that pass a ``retry`` on."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "USE_CLIENT_DEFAULT"


USE_CLIENT_DEFAULT = UseClientDefault()
"""Every method's ``retry`` default: the client's ``RetryPolicy``. ``None`` means no
retries, so it cannot also mean the default (httpx has a sentinel of the same name).
A wrapper that passes ``retry`` on takes ``RetryPolicy | UseClientDefault | None``."""


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


#: Told of each retry as it is decided: ``on_retry(attempt, wait, error)`` (the try that
#: failed, the seconds until the next, and its error).
OnRetry = Callable[[int, float, RunaiError], None]


class Retries:
    """What to do after each failure of one call: wait and try again, or give up.

    Pure bookkeeping, no I/O: ``with_retries`` makes one on a call's first failure
    (a call that succeeds at once never does) and asks ``wait_after`` after each
    failed try. Only the call's own requests are retried: an error of another request
    (the token request, which its own loop has retried) ends the call as it is.
    """

    __slots__ = (
        "policy",
        "operation",
        "idempotent",
        "on_retry",
        "deadline",
        "budget",
        "started",
        "attempt",
        "spent",
        "previous",
    )

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        started: float,
        operation: str,
        idempotent: bool,
        on_retry: OnRetry | None = None,
        deadline: Deadline | None = None,
        budget: RetryBudget | None = None,
    ) -> None:
        self.policy = policy
        self.operation = operation
        self.idempotent = idempotent
        self.on_retry = on_retry
        self.deadline = deadline
        self.budget = budget
        self.started = started  # time.monotonic() as the first try began
        self.attempt = 0
        self.spent = 0  # taken from the budget by this call's retries
        self.previous: RunaiError | None = None  # the failure of the try before the last

    def wait_after(self, exc: RunaiError) -> float:
        """Seconds to wait before the next try after ``exc`` (0: at once); raises the
        error that ends the call when there is no next try.

        The error raised carries the number of tries in ``attempts`` and is detached
        from the frames below, which may hold a body or a header. Past the deadline (or
        where a wait would end past it) ``DeadlineExceeded`` is raised instead, carrying
        the last error.
        """
        self.attempt += 1
        attempt, deadline, operation = self.attempt, self.deadline, self.operation
        if deadline is not None and (isinstance(exc, DeadlineExceeded) or deadline.left() <= 0):
            raise _past(deadline, exc, operation, attempt, self.previous)
        if exc.operation != operation:
            raise detached(exc)  # another request's error, counted by its own loop
        policy = self.policy
        if attempt >= policy.attempts or not _is_retryable(exc, self.idempotent):
            raise detached(_final(exc, attempt))
        wait = _wait_for(exc, policy, attempt)
        if time.monotonic() - self.started + wait > policy.max_elapsed:
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
            describe_failure(exc),
        )
        if self.on_retry is not None:
            self.on_retry(attempt, wait, exc)
        self.previous = detached(exc)
        return wait


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    operation: str,
    idempotent: bool,
    deadline: Deadline | None = None,
    budget: RetryBudget | None = None,
    on_retry: OnRetry | None = None,
) -> T:
    """The one retry loop: ``attempt()`` until it succeeds or ``Retries`` gives up
    (see ``Retries.wait_after``). A success gives back to ``budget`` what it spent."""
    started = time.monotonic()
    retries: Retries | None = None
    while True:
        try:
            result = await attempt()
        except RunaiError as exc:
            if retries is None:
                retries = Retries(
                    policy,
                    started=started,
                    operation=operation,
                    idempotent=idempotent,
                    on_retry=on_retry,
                    deadline=deadline,
                    budget=budget,
                )
            wait = retries.wait_after(exc)
        else:
            if budget is not None:
                budget.succeeded(0 if retries is None else retries.spent)
            return result
        await asyncio.sleep(wait)


def _final(exc: RunaiError, attempt: int) -> RunaiError:
    exc.attempts = attempt
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
        if exc.operation != operation:
            return detached(exc)  # another request's, counted by its own loop
        # Raised by this attempt as it found no time left (its message says no count):
        # it carries the failure that used the time up.
        if exc.last_error is None:
            exc.last_error = previous
        return detached(_final(exc, attempt))
    last = detached(exc if exc.operation != operation else _final(exc, attempt))
    return detached(deadline.exceeded(operation, attempt, last))


def describe_failure(exc: RunaiError) -> str:
    """The failure in a few words, for the retry log line and the retry event."""
    if isinstance(exc, ApiError):
        hint = f", Retry-After {exc.retry_after}" if exc.retry_after else ""
        return f"HTTP {exc.status}{hint}"
    return str(exc).removeprefix(f"{exc.operation}: ")
