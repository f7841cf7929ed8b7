"""Politeness: a limit on requests started per second, a shared pause, adaptive concurrency.

``RateLimiter`` is the generic cell rate algorithm (GCRA), the token bucket written as a
single timestamp: exact under any concurrency on one event loop, no busy-waiting (each
caller sleeps exactly until its slot), and a caller cancelled while waiting hands its
slot back. ``Pause`` is the client-wide wait a 429 or 503 with ``Retry-After`` asks for.
``Aimd`` is the additive-increase, multiplicative-decrease rule the crawl uses to find
the concurrency the server tolerates.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from .._errors import DeadlineExceeded


class RateLimiter:
    """At most ``rate`` starts per second, with bursts of up to ``burst`` at once."""

    __slots__ = ("_interval", "_tolerance", "_tat", "_clock")

    def __init__(
        self, rate: float, burst: int = 1, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate < math.inf:
            raise ValueError(f"a rate must be a positive number per second, got {rate!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst must be a positive int, got {burst!r}")
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._tat = -math.inf  # the theoretical arrival time of the next start
        self._clock = clock

    def delay(self) -> float:
        """Seconds until a start would be allowed; nothing is reserved."""
        now = self._clock()
        return max(0.0, max(self._tat, now) - self._tolerance - now)

    def reserve(self) -> float:
        """Take the next slot; returns how long to wait before starting."""
        now = self._clock()
        tat = max(self._tat, now)
        self._tat = tat + self._interval
        return max(0.0, tat - self._tolerance - now)

    async def acquire(self, left: float | None = None, operation: str = "") -> None:
        """Wait for a slot. With ``left`` (seconds of a deadline) a slot that comes too
        late is not taken: ``DeadlineExceeded`` is raised at once."""
        if left is not None and self.delay() > left:
            raise DeadlineExceeded(
                f"{operation}: the rate limit allows no start within the deadline",
                operation=operation,
                attempts=0,
            )
        wait = self.reserve()
        if wait <= 0:
            return
        reserved_until = self._tat
        try:
            await asyncio.sleep(wait)
        except asyncio.CancelledError:
            if self._tat == reserved_until:  # nobody reserved after us: hand it back
                self._tat -= self._interval
            raise


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


class Aimd:
    """The concurrency a crawl may use: halved when throttled, grown by one per round.

    A round is as many successes as the current limit, so growth is one step per
    round of requests, as in TCP congestion avoidance; a throttle seen while an earlier
    decrease is still under way (within the same round) does not halve again.
    """

    __slots__ = ("limit", "ceiling", "_successes", "_since_decrease")

    def __init__(self, ceiling: int) -> None:
        self.limit = ceiling
        self.ceiling = ceiling
        self._successes = 0
        self._since_decrease = ceiling + 1  # requests completed since the last decrease

    def throttled(self) -> None:
        # Every completion counts, throttled ones too: under steady throttling the limit
        # must keep falling, one halving per round.
        self._since_decrease += 1
        if self._since_decrease <= self.limit:
            return  # still the same wave of throttling
        self.limit = max(1, self.limit // 2)
        self._successes = 0
        self._since_decrease = 0

    def succeeded(self) -> None:
        if self.limit == self.ceiling and self._since_decrease > self.ceiling:
            return  # nothing to grow and no decrease to remember: the usual case, kept short
        self._since_decrease += 1
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.ceiling:
            self.limit += 1
            self._successes = 0
