"""Finding the pace a server tolerates from its answers: pure, no I/O, an injected clock.

``AdaptiveRate`` is the send rate (botocore's adaptive retry mode, after CUBIC);
``Aimd`` is the additive-increase, multiplicative-decrease rule the crawl uses for its
concurrency when the rate does not adapt.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


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

    BETA = 0.7
    #: Seconds after a cut until the rate is back at the one throttled, at most:
    #: botocore's fixed ``SCALE`` alone takes 9 s at 1,000 a second, longer than a
    #: whole crawl at that rate. ``SCALE`` still sets the least growth (low rates).
    RECOVERY = 2.0
    SCALE = 0.4
    #: The sending rate is what was sent over this many seconds.
    WINDOW = 1.0
    #: The least rate a cut leaves: a server that throttles everything still hears from
    #: the client, slowly (the retry budget ends the calls).
    FLOOR = 1.0
    HOLD = 0.5
    #: A client that sent nothing for this long (or three intervals of its rate) was idle.
    IDLE = 0.25

    __slots__ = (
        "rate",
        "_clock",
        "_w_max",
        "_scale",
        "_k",
        "_last_cut",
        "_sends",
        "_successes",
        "_started",
        "_last_sent",
    )

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        #: Starts a second now allowed; ``math.inf`` until the first throttle.
        self.rate = math.inf
        self._clock = clock
        self._w_max = 0.0
        self._scale = self._k = 0.0
        self._last_cut = -math.inf
        now = clock()
        self._sends = _Meter(now)
        self._successes = _Meter(now)
        self._started: float | None = None
        self._last_sent = -math.inf

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
        """Count a request being sent; returns the time, for ``throttled``."""
        now = self._clock()
        if self._started is None or now - self._last_sent > max(self.IDLE, 3 / self.rate):
            # The first request, or the first after the client fell silent (every request
            # waiting out a Retry-After, say): measure afresh, or a second in which little
            # was sent would read as a server that lets little through.
            self._started = now
            self._sends, self._successes = _Meter(now), _Meter(now)
        self._last_sent = now
        self._sends.add(now)
        return now

    def succeeded(self) -> None:
        now = self._clock()
        self._successes.add(now)
        if not self.engaged:
            return
        since = now - self._last_cut
        cubic = self._scale * (since - self._k) ** 3 + self._w_max
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
        drop = sending * (1 - self.BETA)
        self._scale = max(self.SCALE, drop / self.RECOVERY**3)
        self._k = (drop / self._scale) ** (1 / 3)
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
