"""Waiting for a turn: the client's rate limit and the pauses a server asks for.

``RateLimiter`` spaces starts at a rate (the one place a request sleeps for the send
rate); ``Pause`` is the client-wide wait an outage's ``Retry-After`` asks for. What the
rate should be is decided elsewhere (``_ratelimit.Pacer``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable

from .._errors import DeadlineExceeded

#: How late (seconds) a queued waiter may start and still keep its slot's time. A busy
#: event loop always wakes it a little late: at a burst of 1, each late start would
#: otherwise push every later slot back, and the pace fall below the rate. Past this the
#: client stalled, and a stall earns no burst.
LATE_SLACK = 0.01


class RateLimiter:
    """At most ``rate`` starts per second, with bursts of up to ``burst`` at once.

    The generic cell rate algorithm (GCRA): the token bucket written as one timestamp.
    Waiters queue in order and only the first sleeps, until its slot: a slot is taken
    when it comes, not booked ahead, so a rate lowered meanwhile spaces every waiter
    at the new rate (the adaptive rate's cut takes effect at once, not after a queue
    booked at the old one). A waiter cancelled in the queue has taken nothing.
    """

    __slots__ = ("_interval", "_tolerance", "_tat", "_clock", "_queue")

    def __init__(
        self, rate: float, burst: int = 1, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < math.inf:
            raise ValueError(f"a rate must be a positive number per second, got {rate!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst must be a positive int, got {burst!r}")
        self._tat = -math.inf  # the theoretical arrival time of the next start
        self._clock = clock
        self._interval = self._tolerance = 0.0
        self._queue: deque[asyncio.Future[None]] = deque()
        self.set_rate(rate, burst)

    def set_rate(self, rate: float, burst: int) -> None:
        """From now on, ``rate`` starts a second in bursts of ``burst`` (``rate`` > 0):
        the next start comes one new interval after the last."""
        interval = 1.0 / rate
        self._tat += interval - self._interval
        self._interval = interval
        self._tolerance = (burst - 1) * self._interval

    def delay(self) -> float:
        """Seconds until a start would be allowed, waiters aside; nothing is taken."""
        now = self._clock()
        return max(0.0, max(self._tat, now) - self._tolerance - now)

    def take(self, *, late: float = 0.0) -> None:
        """Take the next slot now (call when ``delay`` is 0). ``late``: how far behind
        its slot's time a start may be and still keep that time (see ``LATE_SLACK``)."""
        self._tat = max(self._tat, self._clock() - late) + self._interval

    def expected_wait(self) -> float:
        """About how long a start asked for now would wait, behind the queue."""
        return self.delay() + len(self._queue) * self._interval

    async def acquire(self, left: float | None = None, operation: str = "") -> None:
        """Wait for a slot. With ``left`` (seconds of a deadline) a slot that would come
        too late is not waited for: ``DeadlineExceeded`` is raised at once."""
        if left is not None and self.expected_wait() > left:
            raise DeadlineExceeded(
                f"{operation}: the rate limit allows no start within the deadline",
                operation=operation,
                attempts=0,
            )
        queue = self._queue
        if not queue and self.delay() <= 0:
            self.take()
            return
        turn = asyncio.get_running_loop().create_future()
        queue.append(turn)
        try:
            if queue[0] is not turn:
                await turn  # woken when the waiter ahead has started or gone
            # A timed wait, checked again after each sleep: the rate may have fallen.
            while (wait := self.delay()) > 0:  # noqa: ASYNC110 (no event to wait for)
                await asyncio.sleep(wait)
            self.take(late=LATE_SLACK)
        finally:
            first = queue[0] is turn
            queue.remove(turn)
            if first and queue and not queue[0].done():
                queue[0].set_result(None)


class Pause:
    """A client-wide pause until a time, as a 429 or 503's ``Retry-After`` asks."""

    __slots__ = ("until", "_clock")

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.until = 0.0
        self._clock = clock

    def extend(self, seconds: float) -> None:
        self.until = max(self.until, self._clock() + seconds)

    def left(self) -> float:
        return self.until - self._clock() if self.until else 0.0

    async def wait(self, deadline_left: float | None = None, operation: str = "") -> None:
        """Sleep until the pause ends; past a deadline, raise ``DeadlineExceeded``."""
        while (wait := self.left()) > 0:  # a later 429 may have extended it meanwhile
            if deadline_left is not None and wait >= deadline_left:
                raise DeadlineExceeded(
                    f"{operation}: the server asked to pause past the deadline",
                    operation=operation,
                    attempts=0,
                )
            await asyncio.sleep(wait)
            if deadline_left is not None:
                deadline_left -= wait
