"""watch_tags against the emulator: added and removed tags, failures, resuming."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from runai_registry_async import (
    RegistryClient,
    TagEvent,
    TagSnapshot,
    WatchError,
    watch_tags,
)
from runai_registry_async.testing import RunaiEmulator

from .conftest import within


async def next_of(events: AsyncIterator[Any]) -> tuple[str, ...]:
    # Bounded: a watch that wrongly stays silent fails the test instead of hanging it.
    return described(await within(10, anext(events), what="the watch announced nothing"))


def described(event: TagEvent | WatchError) -> tuple[str, ...]:
    if isinstance(event, WatchError):
        return ("error", event.repository, type(event.error).__name__)
    return (event.kind, event.repository, event.tag)


async def test_additions_and_removals_between_polls(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1.0", "1.1"])
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        events: AsyncIterator[Any] = watch_tags(
            client, [(registry.id, "team/app")], announce_baseline=True, interval=0.01, jitter=0.0
        )
        assert [await next_of(events) for _ in range(2)] == [
            ("added", "team/app", "1.0"),
            ("added", "team/app", "1.1"),
        ]
        # The watch polls again only when asked for more: change the repository now.
        emulator.add_repository(registry.id, "team/app", tags=["1.1", "1.10", "1.9"])
        assert [await next_of(events) for _ in range(3)] == [
            ("added", "team/app", "1.9"),
            ("added", "team/app", "1.10"),
            ("removed", "team/app", "1.0"),
        ]
        await events.aclose()  # type: ignore[attr-defined]
    polls = emulator.count("list_tags")
    assert polls == 2


async def test_a_failure_never_removes_tags_and_a_failing_target_sits_out(
    emulator: RunaiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "a", tags=["1"])
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        events: AsyncIterator[Any] = watch_tags(
            client, [(registry.id, "a")], announce_baseline=True, interval=0.01, jitter=0.0
        )
        assert await next_of(events) == ("added", "a", "1")
        emulator.fail_next("list_tags", 3, status=503)
        outcomes = [await next_of(events) for _ in range(3)]
        assert outcomes == [("error", "a", "ServiceUnavailableError")] * 3
        requests_after_failures = emulator.count("list_tags")
        emulator.add_repository(registry.id, "a", tags=["1", "2"])
        assert await next_of(events) == ("added", "a", "2")  # state was kept
        await events.aclose()  # type: ignore[attr-defined]
    # 1 baseline + 3 failures + 1 success, with polls skipped between later failures.
    assert requests_after_failures == 4
    assert emulator.count("list_tags") == 5
    # Each failure is reported once: as a WatchError, not also as a warning.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_events_carry_the_name_of_a_registry_given_as_a_registry(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("hub")
    emulator.add_repository(registry.id, "a", tags=["1"])
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        listed = await client.list_registries()
        events = watch_tags(
            client, [(listed[0], "a")], announce_baseline=True, interval=0.01, jitter=0.0
        )
        added = await asyncio.wait_for(anext(events), 10)
        emulator.fail_next("list_tags", 1, status=503)
        failed = await asyncio.wait_for(anext(events), 10)
        await events.aclose()  # type: ignore[attr-defined]
    assert isinstance(added, TagEvent)
    assert (added.registry_id, added.registry_name, added.tag) == (registry.id, "hub", "1")
    assert isinstance(failed, WatchError)
    assert (failed.registry_id, failed.registry_name) == (registry.id, "hub")


async def test_targets_found_before_each_poll_and_a_later_one_is_announced(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "a", tags=["1"])
    found: list[int] = []

    async def targets() -> list[tuple[str, str]]:
        found.append(1)
        names = await client.list_repositories(registry.id)
        return [(registry.id, name) for name in names]

    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        polled = asyncio.Event()
        events: AsyncIterator[Any] = watch_tags(
            client, targets, interval=0.01, jitter=0.0, on_poll=lambda _: polled.set()
        )
        first = asyncio.ensure_future(next_of(events))
        await asyncio.wait_for(polled.wait(), 10)  # the first poll: a silent baseline
        emulator.push_tags(registry.id, "b", "0.1")  # after the first poll: not a baseline
        emulator.push_tags(registry.id, "a", "2")
        assert sorted([await first, await next_of(events)]) == [
            ("added", "a", "2"),
            ("added", "b", "0.1"),
        ]
        await events.aclose()  # type: ignore[attr-defined]
    assert len(found) >= 2


async def test_resuming_from_a_snapshot_announces_only_what_changed(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1.0", "1.1"])
    target = [(registry.id, "team/app")]
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        snapshot = TagSnapshot()
        events: AsyncIterator[Any] = watch_tags(
            client, target, snapshot=snapshot, announce_baseline=True, interval=0.01, jitter=0.0
        )
        assert [await next_of(events) for _ in range(2)] == [
            ("added", "team/app", "1.0"),
            ("added", "team/app", "1.1"),
        ]
        emulator.add_repository(registry.id, "team/app", tags=["1.0", "1.1", "1.2"])
        assert await next_of(events) == ("added", "team/app", "1.2")
        await events.aclose()  # type: ignore[attr-defined]
        saved = orjson.dumps(snapshot.to_json())  # what a service writes to disk

        emulator.add_repository(registry.id, "team/app", tags=["1.1", "1.2", "2.0"])
        restored = TagSnapshot.from_json(orjson.loads(saved))
        assert restored.tags(registry.id, "team/app") == frozenset({"1.0", "1.1", "1.2"})
        resumed: AsyncIterator[Any] = watch_tags(
            client, target, snapshot=restored, announce_baseline=True, interval=0.01, jitter=0.0
        )
        after = [await next_of(resumed) for _ in range(2)]  # no baseline: it was restored
        await resumed.aclose()  # type: ignore[attr-defined]
    assert after == [("added", "team/app", "2.0"), ("removed", "team/app", "1.0")]


def test_snapshots_refuse_what_they_did_not_write() -> None:
    for bad in ({}, {"version": 2, "targets": []}, {"version": 1, "targets": [{"x": 1}]}):
        with pytest.raises(ValueError, match="snapshot"):
            TagSnapshot.from_json(bad)
    with pytest.raises(ValueError, match="tags must be"):
        TagSnapshot.from_json(
            {
                "version": 1,
                "targets": [
                    {
                        "registryId": "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60",
                        "repository": "a",
                        "tags": [1],
                    }
                ],
            }
        )


async def test_bad_arguments_fail_before_any_request(emulator: RunaiEmulator) -> None:
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        with pytest.raises(ValueError, match="at least one"):
            await anext(watch_tags(client, []))
        with pytest.raises(ValueError, match="UUID"):
            await anext(watch_tags(client, [("nope", "a")]))
        with pytest.raises(ValueError, match="interval"):
            await anext(watch_tags(client, [(emulator.add_registry("r").id, "a")], interval=0))
    assert emulator.requests == []


async def test_a_slow_target_holds_back_no_other_and_its_poll_has_a_deadline(serve: Any) -> None:
    # A round waited for every target with no deadline: one repository dripping its
    # body held back every event of the healthy one.
    from aiohttp import web

    release = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.query["repository"] == "fast":
            return web.json_response({"name": "fast", "tags": ["1.0"]})
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"name": "slow", "tags": [')
        await release.wait()  # never, unless the test ends
        return response

    base = await serve(handler)
    registry = "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"
    try:
        async with RegistryClient(base, token="t", retry=None) as client:
            events: AsyncIterator[Any] = watch_tags(
                client,
                [(registry, "slow"), (registry, "fast")],
                announce_baseline=True,
                poll_deadline=0.5,
            )
            assert await next_of(events) == ("added", "fast", "1.0")
            assert await next_of(events) == ("error", "slow", "DeadlineExceeded")
            await events.aclose()  # type: ignore[attr-defined]
    finally:
        release.set()
