"""Politeness: how fast a client may start requests, and how it finds out.

``RateLimiter`` is the generic cell rate algorithm (GCRA), the token bucket written as a
single timestamp: exact under any concurrency on one event loop, no busy-waiting (each
caller sleeps exactly until its slot), and a caller cancelled while waiting hands its
slot back. ``AdaptiveRate`` finds the rate a server tolerates from its throttling
(botocore's adaptive mode: CUBIC); ``advertised_rate`` reads a limit a server states in
its headers; ``Pacer`` holds the three together for one client. ``Pause`` is the
client-wide wait an outage's ``Retry-After`` asks for. ``Aimd`` is the additive-increase,
multiplicative-decrease rule the crawl uses for its concurrency.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Mapping

from multidict import istr

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
        self._tat = -math.inf  # the theoretical arrival time of the next start
        self._clock = clock
        self._interval = self._tolerance = 0.0
        self.set_rate(rate, burst)

    def set_rate(self, rate: float, burst: int) -> None:
        """From now on, ``rate`` starts a second in bursts of ``burst`` (``rate`` > 0)."""
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval

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


class AdaptiveRate:
    """The send rate a server tolerates, found from its answers (botocore's adaptive
    retry mode, after CUBIC congestion control). Pure: no I/O, an injected clock.

    Unlimited until the first throttle. A throttle cuts the rate to ``BETA`` times what
    the client was sending, or what the server let through, whichever is less (both
    measured over the last second), and the rate then grows back along a cubic curve:
    quickly at first, flat near the rate that was throttled, probing above it after.
    Throttles within ``HOLD`` seconds of a cut, or of requests sent before it, belong to
    its wave and do not cut again: a server's bucket, emptied by the burst that caused the
    cut, takes a moment to show the new rate. Successes never raise the rate past twice
    what is being sent.
    """

    SCALE = 0.4
    BETA = 0.7
    #: The sending rate is what was sent over this many seconds.
    WINDOW = 1.0
    #: The least rate a cut leaves: a server that throttles everything still hears from
    #: the client, slowly (the retry budget ends the calls).
    FLOOR = 1.0
    HOLD = 0.5

    __slots__ = (
        "rate",
        "_clock",
        "_w_max",
        "_k",
        "_last_cut",
        "_sends",
        "_successes",
        "_started",
    )

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        #: Starts a second now allowed; ``math.inf`` until the first throttle.
        self.rate = math.inf
        self._clock = clock
        self._w_max = 0.0
        self._k = 0.0
        self._last_cut = -math.inf
        now = clock()
        self._sends = _Meter(now)
        self._successes = _Meter(now)
        self._started: float | None = None

    @property
    def engaged(self) -> bool:
        return self.rate < math.inf

    def sending(self) -> float:
        """Requests sent a second, over about the last ``WINDOW`` (or since the first,
        if that was more recent, and at least a tenth of a second)."""
        return self._per_second(self._sends)

    def admitted(self) -> float:
        """Answers a second that were not throttled, over the same span."""
        return self._per_second(self._successes)

    def _per_second(self, meter: _Meter) -> float:
        if self._started is None:
            return 0.0
        now = self._clock()
        return meter.count(now) / min(self.WINDOW, max(0.1, now - self._started))

    def sent(self) -> float:
        """Count a request being sent; returns the time, for :meth:`throttled`."""
        now = self._clock()
        if self._started is None:
            self._started = now
        self._sends.add(now)
        return now

    def succeeded(self) -> None:
        now = self._clock()
        self._successes.add(now)
        if not self.engaged:
            return
        since = now - self._last_cut
        cubic = self.SCALE * (since - self._k) ** 3 + self._w_max
        self.rate = max(self.FLOOR, min(cubic, 2 * self.sending()))

    def throttled(self, sent_at: float) -> bool:
        """A request sent at ``sent_at`` was throttled; True if that cut the rate."""
        now = self._clock()
        if sent_at <= self._last_cut or now - self._last_cut < self.HOLD:
            return False  # the same wave
        sending = min(self.sending(), self.rate)
        if self._started is not None and now - self._started >= self.HOLD:
            # What the server let through is known once the first answers are in (they
            # come later than its refusals): past that, it bounds the cut too.
            sending = min(sending, self.admitted())
        sending = max(self.FLOOR, sending)
        self._w_max = sending
        self._k = (sending * (1 - self.BETA) / self.SCALE) ** (1 / 3)
        self._last_cut = now
        self.rate = max(self.FLOOR, sending * self.BETA)
        return True


class _Meter:
    """How many events happened over about the last window, in constant time and memory:
    the current window's count plus the previous one's, weighted by how much of it the
    last window still covers (a sliding-window estimate)."""

    __slots__ = ("_start", "_current", "_previous")

    def __init__(self, now: float) -> None:
        self._start = now
        self._current = 0
        self._previous = 0

    def add(self, now: float) -> None:
        if now - self._start >= AdaptiveRate.WINDOW:
            self._roll(now)
        self._current += 1

    def count(self, now: float) -> float:
        if now - self._start >= AdaptiveRate.WINDOW:
            self._roll(now)
        covered = 1 - (now - self._start) / AdaptiveRate.WINDOW
        return self._current + self._previous * covered

    def _roll(self, now: float) -> None:
        windows = int((now - self._start) // AdaptiveRate.WINDOW)
        self._previous = self._current if windows == 1 else 0
        self._current = 0
        self._start += windows * AdaptiveRate.WINDOW


# Looked up by multidict's case-insensitive keys: no case folding per answer.
_POLICY, _X_POLICY = istr("RateLimit-Policy"), istr("X-RateLimit-Policy")


def advertised_rate(headers: Mapping[str, str]) -> float | None:
    """The requests a second a server says it allows, from its rate-limit fields: the
    IETF httpapi draft's ``RateLimit-Policy: "name";q=100;w=60``, or a limit and its
    window in the older ``RateLimit-Limit`` (or ``X-RateLimit-Limit``) with
    ``RateLimit-Policy: 100;w=60``. None when there is none, or it makes no sense."""
    policy = headers.get(_POLICY) or headers.get(_X_POLICY)
    if not policy:
        return None
    quota = window = None
    for item in policy.split(",")[:4]:  # several policies: the first readable one
        parameters = dict(_parameter(part) for part in item.split(";")[1:8])
        quota = _number(parameters.get("q"))
        if quota is None:  # the older form: "100;w=60", the quota first
            quota = _number(item.split(";", 1)[0].strip())
        window = _number(parameters.get("w"))
        if quota is not None and window is not None:
            break
    if quota is None or window is None or not 0 < quota < 1e9 or not 0 < window < 1e7:
        return None
    return quota / window


def advertised_pause(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait when a server says nothing is left of its quota: ``RateLimit``'s
    ``r=0;t=5``, or ``RateLimit-Remaining: 0`` (or ``X-``) with ``...-Reset: 5``."""
    remaining = reset = None
    structured = headers.get("RateLimit")
    if structured:
        parameters = dict(_parameter(part) for part in structured.split(",")[0].split(";")[1:8])
        remaining, reset = _number(parameters.get("r")), _number(parameters.get("t"))
    else:
        for prefix in ("RateLimit-", "X-RateLimit-"):
            remaining = _number(headers.get(prefix + "Remaining"))
            reset = _number(headers.get(prefix + "Reset"))
            if remaining is not None:
                break
    if remaining != 0 or reset is None:
        return None
    if reset > 1e9:  # an epoch time, as some servers send
        reset -= time.time()
    return reset if 0 < reset <= 3600 else None


def _parameter(text: str) -> tuple[str, str]:
    name, _, value = text.strip().partition("=")
    return name.strip().lower(), value.strip()


def _number(text: str | None) -> float | None:
    """A plain decimal number, or None: never a NaN, an infinity or an exponent."""
    if not text or len(text) > 20 or not text.replace(".", "", 1).isdigit() or not text.isascii():
        return None
    return float(text)


#: The share of an advertised rate the client uses.
ADVERTISED_SHARE = 0.97


class Pacer:
    """How fast one client may start requests: no faster than ``max_per_second`` (the
    user's ceiling), than a limit the server advertises, or than the rate found from its
    throttling (``adaptive``). Pure but for :meth:`wait`."""

    # (__weakref__: the send-rate gauge must not keep a client alive.)
    __slots__ = ("ceiling", "burst", "adaptive", "_advertised", "_limiter", "_clock", "__weakref__")

    def __init__(
        self,
        ceiling: float | None,
        *,
        burst: int | None = None,
        adaptive: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ceiling = ceiling
        self.burst = burst
        self.adaptive = AdaptiveRate(clock=clock) if adaptive else None
        self._advertised: float | None = None
        self._limiter: RateLimiter | None = None
        if ceiling is not None:
            self._limiter = RateLimiter(ceiling, self._burst_for(ceiling), clock=clock)
        self._clock = clock

    @property
    def rate(self) -> float:
        """Starts a second allowed now (``math.inf``: no limit)."""
        rates = [r for r in (self.ceiling, self._advertised) if r is not None]
        if self.adaptive is not None:
            rates.append(self.adaptive.rate)
        return min(rates, default=math.inf)

    @property
    def limited(self) -> bool:
        """Whether requests must wait for a slot at all."""
        return self._limiter is not None

    async def wait(self, left: float | None, operation: str) -> None:
        """Wait for a slot (``DeadlineExceeded`` at once if it comes after ``left``)."""
        if self._limiter is not None:
            await self._limiter.acquire(left, operation)

    def sent(self) -> float:
        return self.adaptive.sent() if self.adaptive is not None else 0.0

    def answered(self, *, throttled: bool, sent_at: float, headers: Mapping[str, str]) -> None:
        """What an answer says: throttled or not, and any advertised limit."""
        changed = False
        advertised = advertised_rate(headers)
        if advertised is not None:
            # A little under it, one at a time: requests reach the server with some
            # jitter, and its bucket's depth is not said.
            advertised *= ADVERTISED_SHARE
            if advertised != self._advertised:
                self._advertised, changed = advertised, True
        adaptive = self.adaptive
        if adaptive is not None:
            if throttled:
                changed = adaptive.throttled(sent_at) or changed
            else:
                adaptive.succeeded()
                changed = changed or adaptive.engaged
        if changed:
            self._apply()

    def _apply(self) -> None:
        rate = self.rate
        if rate == math.inf:
            self._limiter = None
            return
        burst = self._burst_for(rate)
        if self._limiter is None:
            self._limiter = RateLimiter(rate, burst, clock=self._clock)
        else:
            self._limiter.set_rate(rate, burst)

    def _burst_for(self, rate: float) -> int:
        if self.burst is not None and rate == self.ceiling:
            return self.burst
        if rate == self._advertised:
            return 1
        return default_burst(rate)


def default_burst(rate: float) -> int:
    """A tenth of a second's worth of requests, 1 to 10."""
    return max(1, min(10, int(rate // 10)))


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
