"""Sharing GET results between concurrent callers: one request in flight, a short cache.

No I/O of its own: it runs whatever request the client hands it, once for every caller
that asks for the same thing at the same moment.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from .._errors import DeadlineExceeded
from ._deadline import Deadline

T = TypeVar("T")


class _InFlight:
    """A shared request and how many callers wait for it."""

    __slots__ = ("future", "deadline", "waiters")

    def __init__(self, future: asyncio.Future[Any], deadline: Deadline | None) -> None:
        self.future = future
        self.deadline = deadline  # the first caller's, under which the request runs
        self.waiters = 0


class SharedGets:
    """Identical requests in flight share one; results may be kept for ``ttl`` seconds.

    Requests are identical when they ask for the same path with the same ``how`` (the
    timeout and retry policy of their tries). Each caller keeps its own deadline: the
    shared request runs under the first caller's, a caller whose deadline passes first
    stops waiting alone, and one that outlives the shared request's deadline makes its
    own request for the time it has left. A caller that is cancelled or gives up leaves
    the request running for the others; the last one to leave cancels it. At most
    ``max_entries`` results are cached, the oldest dropped first.
    """

    __slots__ = (
        "_coalesce",
        "_ttl",
        "_max_entries",
        "_inflight",
        "_cache",
        "_clock",
        "_generation",
        "shared",
    )

    def __init__(
        self,
        *,
        coalesce: bool,
        ttl: float | None,
        max_entries: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._coalesce = coalesce
        self._ttl = ttl
        self._max_entries = max_entries
        self._inflight: dict[tuple[str, Hashable], _InFlight] = {}
        self._cache: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._clock = clock
        # Bumped by every write: a result asked for before it is not cached after it.
        self._generation = 0
        #: How many calls were answered without a request of their own.
        self.shared = 0

    def active(self, cacheable: bool) -> bool:
        return self._coalesce or (cacheable and self._ttl is not None)

    async def get(
        self,
        key: str,
        request: Callable[[Deadline | None], Awaitable[T]],
        *,
        cacheable: bool,
        how: Hashable = None,
        deadline: Deadline | None = None,
        operation: str = "",
    ) -> T:
        """The result of ``request(deadline)``, shared with every caller asking for
        ``key`` the same way (``how``); waiting no longer than ``deadline``."""
        use_cache = cacheable and self._ttl is not None
        if use_cache:
            cached = self._cache.get(key)
            if cached is not None:
                if cached[0] > self._clock():
                    self.shared += 1
                    return cached[1]  # type: ignore[no-any-return]
                del self._cache[key]
        flight_key = (key, how)
        flight = self._inflight.get(flight_key)
        if flight is None or flight.future.cancelled():
            flight = _InFlight(asyncio.ensure_future(request(deadline)), deadline)
            self._inflight[flight_key] = flight
            generation = self._generation
            flight.future.add_done_callback(
                lambda done: self._settle(
                    flight_key, done, use_cache and generation == self._generation
                )
            )
        else:
            self.shared += 1
        flight.waiters += 1
        try:
            # The first caller's deadline is the request's own: no second clock for it.
            own = None if flight.deadline is deadline else deadline
            return await _waited(flight.future, own, operation)
        except DeadlineExceeded:
            if flight.deadline is deadline or (deadline is not None and deadline.left() <= 0):
                raise
            # The shared request ran out of its first caller's time, not of this one's.
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.future.done():
                flight.future.cancel()  # nobody is left to want it
                if self._inflight.get(flight_key) is flight:
                    del self._inflight[flight_key]
        return await request(deadline)

    def _settle(
        self, flight_key: tuple[str, Hashable], future: asyncio.Future[Any], use_cache: bool
    ) -> None:
        flight = self._inflight.get(flight_key)
        if flight is not None and flight.future is future:
            del self._inflight[flight_key]
        if future.cancelled():
            return
        if future.exception() is not None:  # retrieved here: every waiter re-raises it
            return
        if use_cache and self._ttl is not None:
            key = flight_key[0]
            self._cache[key] = (self._clock() + self._ttl, future.result())
            self._cache.move_to_end(key)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)

    def invalidate(self) -> None:
        """Forget every cached result (the client changed a registry)."""
        self._cache.clear()
        self._generation += 1
        # Requests in flight from before the change are not joined by later callers.
        self._inflight.clear()


async def _waited(future: asyncio.Future[T], deadline: Deadline | None, operation: str) -> T:
    """``future``'s result, shielded from this caller's cancellation and deadline."""
    if deadline is None:
        return await asyncio.shield(future)
    left = deadline.left()
    if left > 0:
        try:
            return await asyncio.wait_for(asyncio.shield(future), left)
        except asyncio.TimeoutError:
            if future.done():  # it ended as the time ran out: its outcome stands
                return future.result()
    raise DeadlineExceeded(
        f"{operation}: deadline of {deadline.seconds:g} s passed while waiting for a "
        "shared request",
        operation=operation,
    )
