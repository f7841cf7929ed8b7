"""``crawl_tags``: repositories, then tags, across many registries at once."""

from __future__ import annotations

import asyncio
import contextvars
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Coroutine,
    Iterable,
)
from typing import TYPE_CHECKING, Any, Literal

from attrs import define, field

from . import _operations
from ._crawl_results import CrawlFailure, CrawlResult, CrawlStats, CrawlTags, TagCrawl
from ._crawl_scheduler import RegistryWork, Scheduler
from ._errors import DeadlineExceeded, DecodeError, RunaiError
from ._http._adaptive import Aimd
from ._http._deadline import Deadline
from ._http._limiter import RateLimiter
from ._http._retry import USE_CLIENT_DEFAULT, RetryPolicy, UseClientDefault
from ._http._urls import REGISTRIES, checked_id
from ._models import Registry, Repositories, RepositoryTags

if TYPE_CHECKING:
    from ._client import RegistryClient

RegistryRef = str | uuid.UUID | Registry
RegistrySource = Iterable[RegistryRef] | AsyncIterable[RegistryRef]


_Results = asyncio.Queue[CrawlResult | BaseException | None]

#: The name of every task a crawl starts (its feeder and its workers).
TASK_NAME = "runai_registry_async crawl"


@define
class _CrawlRun:
    """One crawl's settings and state. It never refers to its results generator."""

    client: RegistryClient
    source: RegistrySource | None
    repository_search: str | None
    tag_search: str | None
    concurrency: int
    per_registry: int | None
    on_error: Literal["yield", "raise"]
    deadline: float | None = None
    adaptive: bool = True
    per_registry_per_second: float | None = None
    retry: RetryPolicy | UseClientDefault | None = USE_CLIENT_DEFAULT
    skip_empty: bool = False
    stats: CrawlStats = field(factory=CrawlStats)
    _aimd: Aimd | None = field(default=None, alias="_aimd")
    _until: Deadline | None = field(default=None, alias="_until")

    async def results(self) -> AsyncGenerator[CrawlResult, None]:
        client = self.client
        self.stats._start(client)
        if self.deadline is not None:
            self._until = Deadline(self.deadline)
        # Throttling is answered once: by the client's send rate when it adapts (the
        # default), else by the crawl's concurrency. Both would starve the crawl.
        adapts_rate = client._requester.adapts_rate
        self._aimd = Aimd(self.concurrency) if self.adaptive and not adapts_rate else None
        self.stats._aimd, self.stats._concurrency = self._aimd, self.concurrency
        scheduler = Scheduler(
            max_active=self.concurrency, per_registry=self.per_registry, aimd=self._aimd
        )
        # Bounded: when the consumer is slow, workers wait here instead of buffering.
        results: _Results = asyncio.Queue(maxsize=self.concurrency * 2)
        telemetry = client._requester.telemetry
        # The crawl's span is the parent of its requests': its tasks start with it.
        context, trace = (None, None) if telemetry is None else telemetry.crawl_context()
        # Named, so that a task dump (or a test) can tell the crawl's tasks apart.
        tasks = [_task(context, self._feed(scheduler, results))]
        tasks += [_task(context, self._work(scheduler, results)) for _ in range(self.concurrency)]
        running = len(tasks)
        failure: BaseException | None = None
        try:
            while running:
                item = await results.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    if trace is not None:
                        trace.progress(self.stats)
                    yield item
        except GeneratorExit:
            raise  # the consumer left early: not a failure
        except BaseException as exc:
            failure = exc
            raise
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.stats._ended = time.monotonic()
            if trace is not None:
                trace.end(self.stats, failure)

    async def _feed(self, scheduler: Scheduler, results: _Results) -> None:
        # Ids already crawled: a registry given twice is crawled once.
        seen: set[str] = set()
        try:
            async for work in self._registries():
                if isinstance(work, CrawlFailure):  # a listed registry with a bad id
                    self.stats.registries_seen += 1
                    self._count_failure(None)
                    await results.put(work)
                    continue
                if work.id in seen:
                    continue
                seen.add(work.id)
                self.stats.registries_seen += 1
                if self.per_registry_per_second is not None:
                    work.limiter = RateLimiter(self.per_registry_per_second)
                await scheduler.add(work)
            scheduler.source_done()
        except Exception as exc:  # the source failed: nothing more can be crawled
            await results.put(exc)
        await results.put(None)

    async def _registries(self) -> AsyncIterator[RegistryWork | CrawlFailure]:
        source = self.source
        if source is None:
            source = await self.client.list_registries()
        if isinstance(source, AsyncIterable):
            async for ref in source:
                yield _work_for(ref)
        else:
            for ref in source:
                yield _work_for(ref)

    async def _work(self, scheduler: Scheduler, results: _Results) -> None:
        aimd = self._aimd
        try:
            # The synchronous way first: a coroutine is made only when a wait is due.
            while (job := scheduler.pick() or await scheduler.next_job()) is not None:
                work, repository = job
                signal = _Throttled()
                until = self._until
                deadline = None if until is None else self._time_left(until, work, repository)
                try:
                    if work.limiter is not None:
                        await work.limiter.acquire(deadline, f"crawl ({work.id})")
                    # The client's own coroutine, awaited here: no coroutine of the crawl's
                    # around each request.
                    found = await self._lookup(work, repository, deadline, signal)
                except DeadlineExceeded:
                    raise  # the crawl's time is up: it ends, whatever on_error says
                except RunaiError as exc:
                    self._count_failure(repository)
                    if self.on_error == "raise":
                        raise
                    result: CrawlResult | None = CrawlFailure(work.id, work.name, repository, exc)
                    repositories: list[str] = []
                else:
                    result, repositories = self._found(work, repository, found)
                finally:
                    if aimd is not None:
                        # This job's own requests were throttled (any retry of it
                        # included): fewer at once.
                        if signal.seen:
                            aimd.throttled()
                        else:
                            aimd.succeeded()
                scheduler.done(work, repositories)
                if result is not None:
                    await results.put(result)
        except Exception as exc:
            await results.put(exc)
        await results.put(None)

    def _lookup(
        self,
        work: RegistryWork,
        repository: str | None,
        deadline: float | None,
        signal: _Throttled,
    ) -> Awaitable[Repositories | RepositoryTags]:
        """The request of a job: its registry's repositories, or one repository's tags."""
        client = self.client
        options = client._options(None, deadline, self.retry)
        if repository is None:
            return client._send(
                _operations.list_repositories(
                    client._settings, options, work.path, self.repository_search, signal.throttled
                )
            )
        if not repository:
            operation = f"GET {work.path}/repositories/tags"
            raise DecodeError(
                f"{operation}: the server listed a repository with an empty name, "
                "which cannot be queried",
                operation=operation,
            )
        return client._send(
            _operations.list_tags(
                client._settings,
                options,
                work.path,
                repository,
                self.tag_search,
                signal.throttled,
            )
        )

    def _found(
        self, work: RegistryWork, repository: str | None, found: Repositories | RepositoryTags
    ) -> tuple[CrawlResult | None, list[str]]:
        """What a job's answer gives: a result to hand out, and repositories to look up."""
        stats = self.stats
        if isinstance(found, Repositories):
            names = found.repositories
            stats.registries += 1
            stats.repositories_found += len(names)
            if not names:
                return CrawlTags(work.id, work.name, None, []), []
            return None, names
        stats.repositories += 1
        stats.repositories_done += 1
        stats.tags += len(found.tags)
        if self.skip_empty and not found.tags:
            return None, []
        return CrawlTags(work.id, work.name, repository, found.tags), []

    def _count_failure(self, repository: str | None) -> None:
        self.stats.errors += 1
        if repository is not None:
            self.stats.repositories_done += 1

    @staticmethod
    def _time_left(until: Deadline, work: RegistryWork, repository: str | None) -> float:
        left = until.left()
        if left <= 0:
            raise until.exceeded(f"crawl ({work.id}, {repository!r})", 0, None)
        return left


class _Throttled:
    """Whether one job's requests were answered 429 or 503."""

    __slots__ = ("seen",)

    def __init__(self) -> None:
        self.seen = False

    def throttled(self) -> None:
        self.seen = True


def _task(
    context: contextvars.Context | None, work: Coroutine[Any, Any, None]
) -> asyncio.Task[None]:
    if context is None:
        return asyncio.create_task(work, name=TASK_NAME)
    return context.run(asyncio.create_task, work, name=TASK_NAME)


def _work_for(ref: RegistryRef) -> RegistryWork | CrawlFailure:
    """The work for one registry; a failure result for a server's registry whose id is
    not a UUID (one bad entry must not abort the crawl of the others)."""
    if not isinstance(ref, Registry):
        return RegistryWork(checked_id(ref), None)  # the caller's id: a ValueError if bad
    try:
        return RegistryWork(checked_id(ref.meta.id), ref.meta.name)
    except ValueError:
        pass
    operation = f"GET {REGISTRIES}"
    error = DecodeError(
        f"{operation}: registry {ref.meta.name!r} has an id that is not a UUID: "
        f"{ref.meta.id[:80]!r}",
        operation=operation,
    )
    return CrawlFailure(ref.meta.id, ref.meta.name, None, error)


def crawl_tags(
    client: RegistryClient,
    registries: Iterable[str | uuid.UUID | Registry]
    | AsyncIterable[str | uuid.UUID | Registry]
    | None = None,
    *,
    repository_search: str | None = None,
    tag_search: str | None = None,
    concurrency: int = 64,
    per_registry: int | None = None,
    on_error: Literal["yield", "raise"] = "yield",
    deadline: float | None = None,
    adaptive: bool = True,
    per_registry_per_second: float | None = None,
    retry: RetryPolicy | UseClientDefault | None = USE_CLIENT_DEFAULT,
    skip_empty: bool = False,
) -> TagCrawl:
    """Crawl the tags of every repository of many registries, concurrently.

    Results stream out as they complete, one ``CrawlResult`` per repository;
    registries take turns, so a huge one does not starve the rest. A failure (after the
    client's retries) becomes a result with ``error`` set and the crawl goes on. Leaving
    the loop early cancels every request in flight. The client's pacing applies to
    every request (its adaptive rate, ``max_per_second``, a server's pause).

    Args:
        client: The client whose requests, pacing and retries the crawl uses.
        registries: Ids, ``Registry`` objects, or an (async) iterable of either,
            consumed lazily; None lists every registry first (one request).
        repository_search: Only repositories whose name contains this.
        tag_search: Only tags that contain this.
        concurrency: The most requests in flight at once.
        per_registry: The most requests in flight against one registry.
        on_error: ``"yield"`` a failure as a result, or ``"raise"`` it, ending the crawl.
        deadline: Seconds for the whole crawl; past it, it ends raising
            ``DeadlineExceeded``.
        adaptive: With the client's adaptive rate off, halve the requests in flight
            when throttled and add one back per round of successes (AIMD).
        per_registry_per_second: The most requests started a second against each
            registry (and so each upstream registry behind it).
        retry: The policy for the crawl's requests (default: the client's).
        skip_empty: Leave out repositories with no (matching) tag; otherwise a
            registry with no repository yields one result with ``empty`` true.

    Returns:
        A ``TagCrawl``: iterate it for the results; ``.stats`` counts as it runs.

    Raises:
        ValueError: A bad argument, before any request.
        TypeError: ``registries`` is a single id rather than an iterable of them.

    Example:
        ```python
        async for result in crawl_tags(client, concurrency=16):
            if result.error is None:
                print(result.registry_name, result.repository, result.tags)
        ```
    """
    if isinstance(registries, (str, bytes, uuid.UUID)):
        raise TypeError(
            "registries must be an iterable of ids or Registry objects, not a single "
            f"{type(registries).__name__}; pass [registry_id] for one registry"
        )
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
    if per_registry is not None and (
        isinstance(per_registry, bool) or not isinstance(per_registry, int) or per_registry < 1
    ):
        raise ValueError(f"per_registry must be a positive int or None, got {per_registry!r}")
    if on_error not in ("yield", "raise"):
        raise ValueError(f"on_error must be 'yield' or 'raise', got {on_error!r}")
    for name, value in (("repository_search", repository_search), ("tag_search", tag_search)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be a string or None")
    if deadline is not None and (
        isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not deadline > 0
    ):
        raise ValueError(f"deadline must be a positive number of seconds, got {deadline!r}")
    if per_registry_per_second is not None:
        RateLimiter(per_registry_per_second)  # checks the value before anything runs
    return TagCrawl(
        _CrawlRun(
            client,
            registries,
            repository_search,
            tag_search,
            concurrency,
            per_registry,
            on_error,
            deadline,
            adaptive=bool(adaptive),
            per_registry_per_second=per_registry_per_second,
            retry=retry,
            skip_empty=bool(skip_empty),
        )
    )
