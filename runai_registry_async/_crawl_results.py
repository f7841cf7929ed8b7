"""What a crawl hands out: its iterator, a result per repository, and live counters."""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from attrs import define, field, frozen

from ._errors import RunaiError
from ._http._adaptive import Aimd

if TYPE_CHECKING:
    from typing_extensions import Self

    from ._client import RegistryClient
    from ._crawl import _CrawlRun


@frozen
class CrawlTags:
    """A repository's tags, or (``repository=None``, ``tags=[]``) a registry with no
    repository at all, so that an inventory can tell "empty" from "skipped".

    ``registry_name`` is None when the registry was given by id.
    """

    registry_id: str
    registry_name: str | None
    repository: str | None
    tags: list[str]
    #: Always None here; ``result.error is None`` tells this class from ``CrawlFailure``.
    error: None = None

    @property
    def empty(self) -> bool:
        """True for a registry that has no repository (matching the search)."""
        return self.repository is None


@frozen
class CrawlFailure:
    """A lookup that failed: with ``repository=None`` when the registry's repositories
    could not be listed, else for that repository's tags."""

    registry_id: str
    registry_name: str | None
    repository: str | None
    error: RunaiError
    #: Always None here.
    tags: None = None

    @property
    def empty(self) -> bool:
        """Always false: a failure says nothing about what the registry holds."""
        return False


CrawlResult = CrawlTags | CrawlFailure
"""One outcome of a crawl: ``if result.error is None:`` narrows it to ``CrawlTags``
(the repository's tags), else it is a ``CrawlFailure`` (what went wrong)."""


@define
class CrawlStats:
    """Live counters of a crawl; read them while it runs (for a progress bar, say).

    ``requests`` and ``retries`` count what the client sent meanwhile, so they include
    other calls made on the same client during the crawl.
    """

    registries: int = 0
    repositories: int = 0
    tags: int = 0
    errors: int = 0
    #: Registries taken from the source so far (listed or not yet).
    registries_seen: int = 0
    #: Repositories the listed registries hold; with ``repositories_done``, a percentage.
    repositories_found: int = 0
    #: Repositories whose tags call has finished, failed ones included.
    repositories_done: int = 0
    _client: RegistryClient | None = field(default=None, repr=False, alias="_client")
    _requests_at_start: int = field(default=0, repr=False, alias="_requests_at_start")
    _retries_at_start: int = field(default=0, repr=False, alias="_retries_at_start")
    _started: float = field(factory=time.monotonic, repr=False, alias="_started")
    _ended: float | None = field(default=None, repr=False, alias="_ended")
    _throttled_at_start: int = field(default=0, repr=False, alias="_throttled_at_start")
    _aimd: Aimd | None = field(default=None, repr=False, alias="_aimd")
    _concurrency: int = field(default=0, repr=False, alias="_concurrency")

    def __repr__(self) -> str:
        return (
            f"CrawlStats(registries={self.registries}, repositories={self.repositories}, "
            f"tags={self.tags}, errors={self.errors}, requests={self.requests}, "
            f"retries={self.retries}, elapsed={self.elapsed:.2f}s)"
        )

    @property
    def throttled(self) -> int:
        """429 and 503 answers received since the crawl started, retried ones included."""
        return 0 if self._client is None else self._client.throttled - self._throttled_at_start

    @property
    def concurrency(self) -> int:
        """How many requests the crawl lets run at once now (lower while throttled)."""
        return self._aimd.limit if self._aimd is not None else self._concurrency

    @property
    def requests(self) -> int:
        """Requests sent since the crawl started, retries included."""
        return 0 if self._client is None else self._client.requests_sent - self._requests_at_start

    @property
    def retries(self) -> int:
        return 0 if self._client is None else self._client.retries - self._retries_at_start

    @property
    def elapsed(self) -> float:
        """Seconds since the crawl started (frozen once it ends)."""
        return (self._ended or time.monotonic()) - self._started

    def _start(self, client: RegistryClient) -> None:
        # In place: whoever holds this object (a progress bar) keeps seeing it update.
        self._client = client
        self._requests_at_start = client.requests_sent
        self._retries_at_start = client.retries
        self._throttled_at_start = client.throttled
        self._started = time.monotonic()


class TagCrawl:
    """The async iterator returned by ``crawl_tags``; ``stats`` has live counters.

    Iterate it once. Leaving the loop early (``break``, an exception, cancellation)
    stops the crawl, as does ``aclose`` or leaving ``async with``.

    Made by ``crawl_tags``, not by hand.
    """

    def __init__(self, _run: _CrawlRun) -> None:
        self._run = _run
        # Only a weak reference: the `async for` loop owns the generator, so that a
        # `break` frees it and its finalizer stops the workers, even while the caller
        # keeps this object around to read the stats.
        self._generator: weakref.ref[AsyncGenerator[CrawlResult, None]] | None = None
        self._held: AsyncGenerator[CrawlResult, None] | None = None

    @property
    def stats(self) -> CrawlStats:
        return self._run.stats

    def __aiter__(self) -> AsyncGenerator[CrawlResult, None]:
        generator = self._generator() if self._generator is not None else None
        if generator is None:
            if self._generator is not None:
                raise RuntimeError("a crawl can be iterated only once")
            generator = self._run.results()
            self._generator = weakref.ref(generator)
        return generator

    async def __anext__(self) -> CrawlResult:
        # Stepping by hand (no `async for`): this object must keep the generator alive.
        if self._held is None:
            self._held = self.__aiter__()
        return await self._held.__anext__()

    async def aclose(self) -> None:
        """Stop the crawl: cancel every request in flight and wait for the workers."""
        generator = self._generator() if self._generator is not None else None
        if generator is not None:
            await generator.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
