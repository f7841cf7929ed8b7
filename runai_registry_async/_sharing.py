"""Sharing GET results between concurrent callers: one request in flight, a short cache.

No I/O of its own: it runs whatever request the client hands it, once for every caller
that asks for the same thing at the same moment.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class SharedGets:
    """Identical requests in flight share one; results may be kept for ``ttl`` seconds.

    A caller that is cancelled leaves the request running for the others (it is
    shielded). At most ``max_entries`` results are cached, the oldest dropped first.
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
        self._inflight: dict[str, asyncio.Future[Any]] = {}
        self._cache: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._clock = clock
        # Bumped by every write: a result asked for before it is not cached after it.
        self._generation = 0
        #: How many calls were answered without a request of their own.
        self.shared = 0

    def active(self, cacheable: bool) -> bool:
        return self._coalesce or (cacheable and self._ttl is not None)

    async def get(self, key: str, request: Callable[[], Awaitable[T]], *, cacheable: bool) -> T:
        """The result of ``request()``, shared with every caller asking for ``key``."""
        use_cache = cacheable and self._ttl is not None
        if use_cache:
            cached = self._cache.get(key)
            if cached is not None:
                if cached[0] > self._clock():
                    self.shared += 1
                    return cached[1]  # type: ignore[no-any-return]
                del self._cache[key]
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(request())
            self._inflight[key] = future
            generation = self._generation
            future.add_done_callback(
                lambda done: self._settle(key, done, use_cache and generation == self._generation)
            )
        else:
            self.shared += 1
        return await asyncio.shield(future)

    def _settle(self, key: str, future: asyncio.Future[Any], use_cache: bool) -> None:
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if future.cancelled():
            return
        if future.exception() is not None:  # retrieved here: every waiter re-raises it
            return
        if use_cache and self._ttl is not None:
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
