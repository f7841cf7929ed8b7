"""The emulator's faults: failures, resets, delays and rate limits, per operation and
per registry. Pure bookkeeping: the HTTP app asks, this answers."""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict, deque
from typing import Any

from attrs import define

OPERATIONS = (
    "list_registries",
    "create_registry",
    "get_registry",
    "update_registry",
    "delete_registry",
    "list_repositories",
    "list_tags",
    "token",
)
"""The operations' names, as ``RunaiEmulator.fail_next`` and the others take them and
``RecordedRequest.operation`` gives them (``"token"``: the token endpoints)."""

# A fault for every registry of an operation is kept under this key.
_ANY = None


@define
class Fault:
    """What to do to the next matching request instead of (or before) serving it."""

    status: int | None = None
    retry_after: str | None = None
    reset: bool = False
    delay: float = 0.0
    body: bytes | None = None


@define
class _Flaky:
    rate: float
    status: int
    resets: bool
    rng: random.Random

    def draw(self) -> Fault | None:
        if not self.rate or self.rng.random() >= self.rate:
            return None
        return Fault(reset=True) if self.resets and self.rng.random() < 0.5 else Fault(self.status)


class TokenBucket:
    """A server's own rate limit, as control planes and gateways keep one: ``burst``
    tokens, refilled at ``per_second``; a request takes one or is refused. Written apart
    from the client's limiter on purpose: the one must not be checked against itself."""

    def __init__(self, per_second: float, burst: int, *, clock: Any = time.monotonic) -> None:
        if not isinstance(per_second, (int, float)) or not 0 < per_second < math.inf:
            raise ValueError(f"per_second must be a positive number, got {per_second!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst must be a positive int, got {burst!r}")
        self.per_second, self.burst = float(per_second), burst
        self._clock = clock
        self._tokens = float(burst)
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.per_second)
        self._at = now

    def take(self) -> float | None:
        """None when the request may go (a token taken); else seconds until one is back."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            return None
        return (1 - self._tokens) / self.per_second

    def state(self) -> tuple[int, float]:
        """The tokens left (whole ones) and the seconds until the bucket is full again."""
        self._refill()
        return int(self._tokens), (self.burst - self._tokens) / self.per_second


class FaultPlan:
    """Faults to inject; ``registry=`` narrows one to the requests about that registry."""

    def __init__(self) -> None:
        self._faults: dict[tuple[str, str | None], deque[Fault]] = defaultdict(deque)
        self._flaky: dict[tuple[str, str | None], _Flaky] = {}
        self._delays: dict[str, float] = {}
        self._rate_limit: tuple[float, int, str] | None = None
        self._advertise = False
        self._latency: tuple[float, float, random.Random] | None = None
        self._buckets: dict[str, TokenBucket] = {}
        #: How many requests the emulator answered with 429 for its rate limit.
        self.rate_limited = 0

    def fail_next(
        self,
        operation: str,
        count: int = 1,
        *,
        status: int = 503,
        retry_after: str | None = None,
        body: bytes | None = None,
        registry: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests of ``operation`` with ``status``.

        Args:
            operation: An operation's name, as in ``OPERATIONS`` (``"list_tags"``).
            count: How many requests.
            status: The status to answer.
            retry_after: A ``Retry-After`` header to send along.
            body: The body to send (default: the spec's Error JSON).
            registry: Only the requests about this registry (an asset id).
        """
        fault = Fault(status=status, retry_after=retry_after, body=body)
        self._add_faults(operation, count, fault, registry)

    def reset_next(self, operation: str, count: int = 1, *, registry: str | None = None) -> None:
        """Drop the connection of the next ``count`` requests of ``operation`` unanswered.

        Args:
            operation: An operation's name, as in ``OPERATIONS`` (``"list_tags"``).
            count: How many requests.
            registry: Only the requests about this registry (an asset id).
        """
        self._add_faults(operation, count, Fault(reset=True), registry)

    def flaky(
        self,
        operation: str,
        rate: float,
        *,
        status: int = 503,
        resets: bool = False,
        seed: int = 0,
        registry: str | None = None,
    ) -> None:
        """Fail a random share of ``operation``'s requests from now on.

        Args:
            operation: An operation's name, as in ``OPERATIONS`` (``"list_tags"``).
            rate: The share that fails, 0 to 1 (0 stops it).
            status: The status failures answer.
            resets: Half of the failures drop the connection instead.
            seed: The random generator's seed (the same seed, the same failures).
            registry: Only the requests about this registry (an asset id).
        """
        _check_operation(operation)
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        self._flaky[operation, registry] = _Flaky(rate, status, resets, random.Random(seed))

    def delay(self, operation: str, seconds: float) -> None:
        """Answer every request of ``operation`` late.

        Args:
            operation: An operation's name, as in ``OPERATIONS`` (``"list_tags"``).
            seconds: How late (0 stops it).
        """
        _check_operation(operation)
        self._delays[operation] = seconds

    def rate_limit(
        self,
        per_second: float | None,
        *,
        burst: int = 1,
        scope: str = "client",
        advertise: bool = False,
    ) -> None:
        """Answer 429 (the spec's Error body, ``Retry-After`` in whole seconds) past a
        rate, by a token bucket of the emulator's own (not the client's limiter).

        Args:
            per_second: Requests a second allowed (None stops the limit).
            burst: The bucket's depth: requests allowed at once.
            scope: One bucket per bearer token (``"client"``) or per registry
                (``"registry"``).
            advertise: Put the limit on every answer, in the IETF httpapi draft's
                fields (``RateLimit-Policy``, ``RateLimit``) and the older
                ``RateLimit-Limit``/``-Remaining``/``-Reset``.
        """
        if scope not in ("client", "registry"):
            raise ValueError("scope must be 'client' or 'registry'")
        if per_second is not None:
            TokenBucket(per_second, burst)  # checks both
        self._rate_limit = None if per_second is None else (per_second, burst, scope)
        self._advertise = advertise
        self._buckets.clear()

    def upstream_latency(self, low: float, high: float | None = None, *, seed: int = 0) -> None:
        """Answer each repositories and tags call late, as Run:ai does while it asks the
        upstream registry (only calls the rate limit let through).

        Args:
            low: The least wait, in seconds (``upstream_latency(0)`` stops it).
            high: The most (default: ``low``); each call waits a uniform draw between.
            seed: The random generator's seed.
        """
        high = low if high is None else high
        if not 0 <= low <= high:
            raise ValueError("upstream latency must be 0 <= low <= high")
        self._latency = (low, high, random.Random(seed)) if high > 0 else None

    # --- asked by the HTTP app ---------------------------------------------------------

    def _delay_for(self, operation: str) -> float:
        return self._delays.get(operation, 0.0)

    def _upstream_latency_for(self, operation: str) -> float:
        if self._latency is None or operation not in ("list_repositories", "list_tags"):
            return 0.0
        low, high, rng = self._latency
        return rng.uniform(low, high)

    def _next_fault(self, operation: str, registry: str | None) -> Fault | None:
        """The fault for this request, if any: the registry's own before the operation's."""
        keys = ((operation, registry), (operation, _ANY)) if registry else ((operation, _ANY),)
        for key in keys:
            faults = self._faults.get(key)
            if faults:
                return faults.popleft()
        for key in keys:
            flaky = self._flaky.get(key)
            if flaky is not None:
                return flaky.draw()
        return None

    def _rate_limit_wait(self, client: str, registry: str | None) -> float | None:
        """Seconds until this request would be allowed; None when it is allowed now
        (and counted)."""
        if self._rate_limit is None:
            return None
        scope = self._rate_limit[2]
        key = client if scope == "client" else registry
        if key is None:
            return None
        wait = self._bucket(key).take()
        if wait is not None:
            self.rate_limited += 1
        return wait

    def _advertised_fields(self, client: str, registry: str | None) -> dict[str, str]:
        """The rate-limit fields of an answer, if the limit is advertised."""
        if self._rate_limit is None or not self._advertise:
            return {}
        per_second, _, scope = self._rate_limit
        key = client if scope == "client" else registry
        if key is None:
            return {}
        bucket = self._bucket(key)
        tokens, full_in = bucket.state()
        next_token = 0.0 if tokens >= 1 else 1 / per_second
        quota = max(1, round(per_second))
        return {
            "RateLimit-Policy": f'"bucket";q={quota};w=1',
            "RateLimit": f'"bucket";r={tokens};t={math.ceil(next_token)}',
            "RateLimit-Limit": str(quota),
            "RateLimit-Remaining": str(tokens),
            "RateLimit-Reset": str(math.ceil(full_in)),
        }

    def _bucket(self, key: str) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            per_second, burst, _ = self._rate_limit  # type: ignore[misc]
            bucket = self._buckets[key] = TokenBucket(per_second, burst)
        return bucket

    @property
    def rate_limit_per_second(self) -> float | None:
        return None if self._rate_limit is None else self._rate_limit[0]

    def _add_faults(self, operation: str, count: int, fault: Fault, registry: str | None) -> None:
        _check_operation(operation)
        self._faults[operation, registry].extend([fault] * count)


def _check_operation(operation: str) -> None:
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation {operation!r}; one of {', '.join(OPERATIONS)}")
