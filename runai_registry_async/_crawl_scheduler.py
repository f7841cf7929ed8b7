"""Which lookup a crawl's workers do next: round robin over the active registries,
within the per-registry cap and the adaptive concurrency limit. No I/O of its own."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Iterable

from ._http._adaptive import Aimd
from ._http._limiter import RateLimiter
from ._http._urls import REGISTRIES


class RegistryWork:
    """What is left to do for one registry."""

    __slots__ = ("id", "name", "path", "listed", "pending", "in_flight", "limiter")

    def __init__(self, registry_id: str, name: str | None) -> None:
        self.id = registry_id  # checked by whoever builds the work
        self.name = name
        self.path = f"{REGISTRIES}/{registry_id}"  # its id checked already
        self.limiter: RateLimiter | None = None  # per_registry_per_second
        self.listed = False  # its repositories call has been handed out
        self.pending: deque[str] = deque()
        self.in_flight = 0

    def finished(self) -> bool:
        return self.listed and not self.pending and not self.in_flight


Job = tuple[RegistryWork, str | None]  # (registry, None) lists its repositories


class Scheduler:
    """Hands out jobs round-robin over the active registries, within the per-registry cap.

    At most ``max_active`` registries are active at once; the feeder waits for room
    before adding another, so memory does not grow with the number of registries.
    """

    def __init__(self, max_active: int, per_registry: int | None, aimd: Aimd | None) -> None:
        self._active: dict[str, RegistryWork] = {}  # added and not finished
        # Those of them that have a job to give (not listed yet, or repositories pending),
        # in round-robin order: a pick never walks past registries that only wait for
        # answers (at 64 connections it did, for about as long as the rest of a request).
        self._ready: OrderedDict[str, RegistryWork] = OrderedDict()
        self._max_active = max_active
        self._per_registry = per_registry
        self._aimd = aimd
        self._in_flight = 0
        self._source_done = False
        # Everything runs on one event loop and no method awaits mid-update, so plain
        # waiter futures suffice: no lock, and nobody is woken when nothing changed.
        self._idle_workers: deque[asyncio.Future[None]] = deque()
        self._feeder_waiting: asyncio.Future[None] | None = None

    async def add(self, work: RegistryWork) -> None:
        while len(self._active) >= self._max_active:
            self._feeder_waiting = asyncio.get_running_loop().create_future()
            await self._feeder_waiting
        self._active[work.id] = work
        self._ready[work.id] = work
        self._wake_workers()

    def source_done(self) -> None:
        self._source_done = True
        self._wake_workers()

    async def next_job(self) -> Job | None:
        """The next job, waiting for one; None once everything is done."""
        while True:
            job = self.pick()
            if job is not None:
                return job
            if self._source_done and not self._active:
                return None
            waiter = asyncio.get_running_loop().create_future()
            self._idle_workers.append(waiter)
            await waiter

    def pick(self) -> Job | None:
        """The next job if one may start now; None if none may (nothing waits here)."""
        if self._aimd is not None and self._in_flight >= self._aimd.limit:
            return None  # throttled: fewer requests at once for now
        for work in self._ready.values():
            if self._per_registry is not None and work.in_flight >= self._per_registry:
                continue
            repository: str | None
            if not work.listed:
                work.listed, repository = True, None
            else:
                repository = work.pending.popleft()
            if work.pending:
                self._ready.move_to_end(work.id)  # round robin: the others go first next time
            else:
                del self._ready[work.id]  # nothing to give until its repositories arrive
            work.in_flight += 1
            self._in_flight += 1
            return work, repository
        return None

    def done(self, work: RegistryWork, repositories: Iterable[str] = ()) -> None:
        work.in_flight -= 1
        self._in_flight -= 1
        if repositories:
            work.pending.extend(repositories)
            self._ready[work.id] = work
        elif work.finished():
            del self._active[work.id]
            if self._feeder_waiting is not None and not self._feeder_waiting.done():
                self._feeder_waiting.set_result(None)
        if self._idle_workers:
            self._wake_workers()

    def _wake_workers(self) -> None:
        while self._idle_workers:
            waiter = self._idle_workers.popleft()
            if not waiter.done():
                waiter.set_result(None)
