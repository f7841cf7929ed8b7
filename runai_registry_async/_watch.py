"""Watching repositories for new and removed tags, by polling and diffing.

The API has no watch, so ``watch_tags`` polls each target with ``iter_tags`` (a huge
repository never loads at once) and reports what changed since the poll before. Memory
per target is its tag names; a ``TagSnapshot`` saves them as JSON, so a restarted
service resumes without announcing every tag again.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

from attrs import frozen

from ._errors import RunaiError
from ._http._urls import checked_id
from ._models import Registry
from ._tags import sort_tags

if TYPE_CHECKING:
    from ._client import RegistryClient

#: The most polls a target that keeps failing sits out before it is tried again.
_MAX_SKIPPED_POLLS = 7


@frozen
class TagEvent:
    """A tag that appeared (``added``) or disappeared (``removed``) between two polls."""

    kind: Literal["added", "removed"]
    registry_id: str
    repository: str
    tag: str
    observed_at: datetime
    #: The registry's name, when the target named it (a ``Registry``, not an id).
    registry_name: str | None = None


@frozen
class WatchError:
    """A poll of one target failed; its last good state is kept, and nothing is removed."""

    registry_id: str
    repository: str
    error: RunaiError
    observed_at: datetime
    #: The registry's name, when the target named it (a ``Registry``, not an id).
    registry_name: str | None = None


class TagSnapshot:
    """The tags last seen per target; JSON-serialisable, to resume a watch.

    ``watch_tags`` updates it in place after every successful poll of a target.
    """

    __slots__ = ("_tags",)

    def __init__(self) -> None:
        self._tags: dict[tuple[str, str], frozenset[str]] = {}

    def __repr__(self) -> str:
        return f"<TagSnapshot targets={len(self._tags)}>"

    def copy(self) -> TagSnapshot:
        """A snapshot of the same tags that later polls leave alone (to save elsewhere)."""
        snapshot = TagSnapshot()
        snapshot._tags = dict(self._tags)
        return snapshot

    def tags(self, registry_id: str, repository: str) -> frozenset[str] | None:
        """The tags last seen in a repository; None if never polled.

        Args:
            registry_id: The registry's id.
            repository: The repository's name.
        """
        return self._tags.get((checked_id(registry_id), repository))

    def to_json(self) -> dict[str, Any]:
        """The snapshot as JSON data, for ``from_json``."""
        return {
            "version": 1,
            "targets": [
                {"registryId": registry_id, "repository": repository, "tags": sorted(tags)}
                for (registry_id, repository), tags in sorted(self._tags.items())
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> TagSnapshot:
        """The snapshot that ``to_json`` gave.

        Args:
            data: What ``to_json`` returned, read back from JSON.

        Raises:
            ValueError: ``data`` is not a snapshot.
        """
        snapshot = cls()
        if not isinstance(data, dict) or not isinstance(data.get("targets"), list):
            raise ValueError("not a tag snapshot: expected an object with a list of targets")
        version = data.get("version")
        if type(version) is not int or version != 1:  # True == 1, but is no version
            raise ValueError(f"unknown snapshot version {str(version)[:20]!r}")
        try:
            for target in data["targets"]:
                tags = target["tags"]
                if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                    raise ValueError("tags must be a list of strings")
                key = (checked_id(target["registryId"]), _repository(target["repository"]))
                snapshot._tags[key] = frozenset(tags)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a tag snapshot: {type(exc).__name__} {exc}") from None
        return snapshot

    def _set(self, key: tuple[str, str], tags: frozenset[str]) -> None:
        self._tags[key] = tags


def _repository(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("repository must be a non-empty string")
    return value


#: ``(registry, repository)``: the registry as an id, or a ``Registry`` (its name then
#: shows in the events).
Target = tuple["str | uuid.UUID | Registry", str]


async def watch_tags(
    client: RegistryClient,
    targets: Iterable[tuple[str | uuid.UUID | Registry, str]]
    | Callable[[], Awaitable[Iterable[tuple[str | uuid.UUID | Registry, str]]]],
    *,
    interval: float = 60.0,
    jitter: float = 0.1,
    announce_baseline: bool = False,
    snapshot: TagSnapshot | None = None,
    concurrency: int = 8,
    on_poll: Callable[[TagSnapshot], None] | None = None,
    poll_deadline: float | None = None,
) -> AsyncIterator[TagEvent | WatchError]:
    """Events for tags added to or removed from ``targets``, by polling (the API has no
    watch).

    The first poll of a target is its baseline: silent unless ``announce_baseline``;
    a target that first appears after the first poll is announced. A failed poll yields
    a ``WatchError``, keeps the last good state (never a ``removed`` event), and a
    target that keeps failing is polled less (after its second failure in a row it sits
    out 1 poll, then 3, then 7 at most). Polls run when the loop asks for more events,
    so leaving the loop stops the watch cleanly. Each target is reported as soon as its
    own poll ends, so a slow target holds back no other.

    Args:
        client: The client to poll with.
        targets: ``(registry, repository)`` pairs, the registry an id or a
            ``Registry`` (whose name the events then carry); or a coroutine
            function returning them, called before every poll, so that repositories
            which appear later are watched too (an error it raises ends the watch).
        interval: Seconds between polls.
        jitter: A fraction of the interval, at random, so that many watchers do not
            poll in step.
        announce_baseline: Report the first poll's tags as ``added``.
        snapshot: A ``TagSnapshot`` to resume from (its targets have no
            baseline), kept up to date as the watch runs.
        concurrency: The most repositories polled at once.
        on_poll: Called with the snapshot after each poll's events (to save it).
        poll_deadline: Seconds one target's poll may take (default: the interval or
            the client's timeout, whichever is longer).

    Raises:
        ValueError: A bad argument, before the first poll.

    Example:
        ```python
        async for event in watch_tags(client, [(registry_id, "team/app")]):
            if isinstance(event, TagEvent):
                print(event.kind, event.tag)
        ```
    """
    names: dict[str, str] = {}
    discover = targets if callable(targets) else None
    keys = [] if discover is not None else _keys(targets, names)  # type: ignore[arg-type]
    if discover is None and not keys:
        raise ValueError("targets must name at least one (registry_id, repository)")
    if not interval > 0 or not 0 <= jitter < 1:
        raise ValueError("interval must be positive and jitter in [0, 1)")
    if poll_deadline is None:
        poll_deadline = max(interval, client._settings.timeout)
    elif not poll_deadline > 0:
        raise ValueError("poll_deadline must be a positive number of seconds")
    state = snapshot if snapshot is not None else TagSnapshot()
    failures: dict[tuple[str, str], int] = {}
    skip: dict[tuple[str, str], int] = {}
    limit = asyncio.Semaphore(concurrency)
    first_seen: set[tuple[str, str]] | None = None  # the targets of the first poll
    while True:
        if first_seen is not None:
            await asyncio.sleep(interval * (1 + random.uniform(-jitter, jitter)))
        if discover is not None:
            keys = _keys(await discover(), names)
        if first_seen is None:
            first_seen = set(keys)
        due = [key for key in keys if skip.get(key, 0) == 0]
        for key in keys:
            if key not in due:
                skip[key] -= 1
        async for key, outcome in _polled(client, due, limit, poll_deadline):
            now = datetime.now(timezone.utc)
            name = names.get(key[0])
            if isinstance(outcome, RunaiError):
                failures[key] = failures.get(key, 0) + 1
                skip[key] = min(2 ** (failures[key] - 1) - 1, _MAX_SKIPPED_POLLS)
                yield WatchError(key[0], key[1], outcome, now, name)
                continue
            failures.pop(key, None)
            before = state.tags(*key)
            state._set(key, outcome)
            if before is None and key in first_seen and not announce_baseline:
                continue
            previous = before or frozenset()
            for tag in sort_tags(outcome - previous):
                yield TagEvent("added", key[0], key[1], tag, now, name)
            for tag in sort_tags(previous - outcome):
                yield TagEvent("removed", key[0], key[1], tag, now, name)
        if on_poll is not None:
            on_poll(state)


def _keys(targets: Iterable[Target], names: dict[str, str]) -> list[tuple[str, str]]:
    """Each target as ``(registry id, repository)``, checked, in order, once each;
    ``names`` learns the name of each registry given as a ``Registry``."""
    keys: dict[tuple[str, str], None] = {}
    for registry, repository in targets:
        if isinstance(registry, Registry):
            registry_id = checked_id(registry.meta.id)
            names[registry_id] = registry.meta.name
        else:
            registry_id = checked_id(registry)
        keys[registry_id, _repository(repository)] = None
    return list(keys)


Outcome = tuple[tuple[str, str], "frozenset[str] | RunaiError"]


async def _polled(
    client: RegistryClient,
    keys: list[tuple[str, str]],
    limit: asyncio.Semaphore,
    deadline: float,
) -> AsyncIterator[Outcome]:
    """Each target's poll outcome as soon as it is known, in the order they end."""
    pending = {asyncio.ensure_future(_poll(client, key, limit, deadline)) for key in keys}
    try:
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for outcome in sorted((task.result() for task in done), key=lambda o: o[0]):
                yield outcome
    finally:  # the consumer left: the polls still running are not needed
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _poll(
    client: RegistryClient, key: tuple[str, str], limit: asyncio.Semaphore, deadline: float
) -> Outcome:
    async with limit:
        try:
            tags: set[str] = set()
            # A list per network read: a huge repository costs no async step per tag.
            async for batch in client.iter_tags(*key, deadline=deadline).batches():
                tags.update(batch)
            return key, frozenset(tags)
        except RunaiError as exc:
            return key, exc
