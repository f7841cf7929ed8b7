"""Politeness: how fast one client may start requests, and how it finds out.

``Pacer`` holds the three limits of a client together: the user's ``max_per_second``,
a limit the server advertises in its headers (``advertised_rate``), and the rate found
from its throttling (``_adaptive.AdaptiveRate``); it sets the client's ``RateLimiter``
(``_limiter``) to the lowest.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

from multidict import istr

from ._adaptive import AdaptiveRate
from ._limiter import Pause, RateLimiter

# Looked up by multidict's case-insensitive keys: no case folding per answer.
_POLICY, _X_POLICY = istr("RateLimit-Policy"), istr("X-RateLimit-Policy")
_STRUCTURED = istr("RateLimit")
_REMAINING_AND_RESET = (
    (istr("RateLimit-Remaining"), istr("RateLimit-Reset")),
    (istr("X-RateLimit-Remaining"), istr("X-RateLimit-Reset")),
)


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
    structured = headers.get(_STRUCTURED)
    if structured:
        parameters = dict(_parameter(part) for part in structured.split(",")[0].split(";")[1:8])
        remaining, reset = _number(parameters.get("r")), _number(parameters.get("t"))
    else:
        for remaining_field, reset_field in _REMAINING_AND_RESET:
            remaining = _number(headers.get(remaining_field))
            if remaining is not None:
                reset = _number(headers.get(reset_field))
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


#: A wait the server asks for longer than this pauses every request of the client; a
#: shorter one (a token bucket's usual "1") slows the send rate, and only the refused
#: request waits it out (pausing everyone for the whole second let the burst through
#: again, and the next request was refused again).
LONG_WAIT = 1.0


class Pacer:
    """How fast one client may start requests: no faster than ``max_per_second`` (the
    user's ceiling), than a limit the server advertises, or than the rate found from its
    throttling (``adaptive``); and not before a ``pause`` the server asked for (no longer
    than ``max_pause``). Pure but for ``wait``."""

    # (__weakref__: the send-rate gauge must not keep a client alive.)
    __slots__ = (
        "ceiling",
        "burst",
        "adaptive",
        "pause",
        "max_pause",
        "_advertised",
        "_limiter",
        "_clock",
        "__weakref__",
    )

    def __init__(
        self,
        ceiling: float | None,
        *,
        burst: int | None = None,
        adaptive: bool = True,
        max_pause: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ceiling = ceiling
        self.burst = burst
        self.adaptive = AdaptiveRate(clock=clock) if adaptive else None
        self.pause = Pause(clock=clock)
        self.max_pause = max_pause
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

    def asked_to_wait(self, seconds: float, *, outage: bool = False) -> None:
        """The server asked for ``seconds`` before the next request (a ``Retry-After``,
        or its advertised quota spent). An outage, or a long wait, pauses every request
        not yet started (as octokit does); a short one does not (see ``LONG_WAIT``)."""
        if outage or seconds > LONG_WAIT:
            self.pause.extend(min(seconds, self.max_pause))

    def answered(self, *, throttled: bool, sent_at: float, headers: Mapping[str, str]) -> None:
        """What an answer says: throttled or not, any advertised limit, and whether its
        quota is spent."""
        spent_for = advertised_pause(headers)
        if spent_for is not None:
            self.asked_to_wait(spent_for)
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
