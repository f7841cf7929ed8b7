"""Answers built on the crawl: which registries hold a tag, and the newest tag in each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Literal

from attrs import evolve, frozen

from ._crawl import crawl_tags
from ._crawl_results import CrawlResult
from ._errors import RunaiError
from ._tags import TagFilter, latest, renamed_argument

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, Iterable

    from ._client import RegistryClient
    from ._models import Registry


@frozen
class LatestTag:
    """The newest matching tag of a repository in one registry."""

    registry_id: str
    registry_name: str | None
    repository: str | None
    tag: str
    #: Always None here; ``found.error is None`` tells this class from ``LatestFailure``.
    error: None = None


@frozen
class LatestFailure:
    """A registry where the newest tag could not be known: the error that stopped it."""

    registry_id: str
    registry_name: str | None
    repository: str | None
    error: RunaiError
    #: Always None here.
    tag: None = None


async def find_tags(
    client: RegistryClient,
    repository: str,
    matching: TagFilter | None = None,
    *,
    registries: Iterable[str | uuid.UUID | Registry]
    | AsyncIterable[str | uuid.UUID | Registry]
    | None = None,
    exact_repository: bool = True,
    concurrency: int = 64,
    per_registry: int | None = None,
    on_error: Literal["yield", "raise"] = "yield",
    deadline: float | None = None,
    tags: TagFilter | None = None,
) -> AsyncIterator[CrawlResult]:
    """The repositories named ``repository``, across registries, with their matching tags.

    Built on ``crawl_tags`` (same concurrency, rate and error behaviour). The
    server's substring searches pre-filter; the exact match runs here. A repository with
    no matching tag is left out; failures come through as results with ``error`` set.

    Args:
        client: The client to crawl with.
        repository: The repository's name, e.g. ``team/app``.
        matching: Which tags to keep (``TagFilter``; default: all but digest-style
            tags and signatures).
        registries: Where to look, as for ``crawl_tags`` (default: every registry).
        exact_repository: Only that exact name; False also keeps names containing it
            (``team/app-old``).
        concurrency: As for ``crawl_tags``.
        per_registry: As for ``crawl_tags``.
        on_error: As for ``crawl_tags``.
        deadline: Seconds for the whole search.
        tags: The former name of ``matching`` (deprecated).

    Raises:
        ValueError: An empty ``repository`` or another bad argument, before any request.
        TypeError: ``matching`` is not a ``TagFilter``.

    Example:
        ```python
        async for found in find_tags(client, "team/app", TagFilter(include=["v*"])):
            print(found.registry_name, found.tags)
        ```
    """
    if not isinstance(repository, str) or not repository:
        raise ValueError("repository must be a non-empty string")
    if isinstance(registries, (str, bytes, uuid.UUID)):
        raise TypeError("registries must be an iterable of ids or Registry objects")
    matching = renamed_argument(matching, tags, old="tags", new="matching")
    tag_filter = matching if matching is not None else TagFilter()
    if not isinstance(tag_filter, TagFilter):
        raise TypeError(f"matching must be a TagFilter, not {type(matching).__name__}")
    crawl = crawl_tags(
        client,
        registries,
        repository_search=repository,
        tag_search=tag_filter.server_hint(),
        concurrency=concurrency,
        per_registry=per_registry,
        on_error=on_error,
        deadline=deadline,
    )
    async with crawl:
        async for result in crawl:
            if result.error is not None:
                yield result
                continue
            if exact_repository and result.repository != repository:
                continue
            kept = tag_filter.select(result.tags or ())
            if kept:
                yield evolve(result, tags=kept)


async def latest_tags(
    client: RegistryClient,
    repository: str,
    matching: TagFilter | None = None,
    *,
    order: Literal["version", "lexical"] = "version",
    prereleases: bool = True,
    registries: Iterable[str | uuid.UUID | Registry]
    | AsyncIterable[str | uuid.UUID | Registry]
    | None = None,
    concurrency: int = 64,
    deadline: float | None = None,
    filter: TagFilter | None = None,
) -> AsyncIterator[LatestTag | LatestFailure]:
    """Per registry holding ``repository``, its newest tag ``matching`` a filter.

    Yields a ``LatestTag``, or a ``LatestFailure`` where a lookup failed (test
    ``found.error is None``: the type checker then knows ``found.tag`` is a ``str``). A
    registry where no tag qualifies is left out. "Newest" is by ``order``: the API has no
    dates (see ``version_key``).

    Args:
        client: The client to crawl with.
        repository: The repository's exact name.
        matching: Which tags may count (``TagFilter``).
        order: ``"version"`` (see ``version_key``) or ``"lexical"``.
        prereleases: False passes over ``2.0.0-rc.1`` and the like.
        registries: Where to look, as for ``crawl_tags``.
        concurrency: As for ``crawl_tags``.
        deadline: Seconds for the whole search.
        filter: The former name of ``matching`` (deprecated).

    Raises:
        ValueError: A bad ``order`` or another bad argument, before any request.
    """
    matching = renamed_argument(matching, filter, old="filter", new="matching")
    if order not in ("version", "lexical"):
        raise ValueError(f"order must be 'version' or 'lexical', got {order!r}")
    async for result in find_tags(
        client,
        repository,
        matching,
        registries=registries,
        concurrency=concurrency,
        deadline=deadline,
    ):
        if result.error is not None:
            yield LatestFailure(
                result.registry_id, result.registry_name, result.repository, result.error
            )
            continue
        newest = latest(
            result.tags or (),
            order=order,
            prereleases=prereleases,
            matching=TagFilter(skip_artefacts=False),  # find_tags has filtered already
        )
        if newest is not None:
            yield LatestTag(result.registry_id, result.registry_name, result.repository, newest)
