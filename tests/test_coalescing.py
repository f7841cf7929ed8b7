"""coalesce= and cache_ttl=: concurrent callers share one request; writes forget results."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from runai_registry_async import (
    AssetCreationRequest,
    AssetUpdateRequest,
    DeadlineExceeded,
    RegistryClient,
    RegistryCreationRequest,
    RegistrySpecRequest,
    RegistryUpdateRequest,
    ServiceUnavailableError,
)
from runai_registry_async._http._coalescing import SharedGets
from runai_registry_async.testing import RunaiEmulator

from .conftest import OPERATIONS, FakeClock, eventually, operation_calls


async def test_100_concurrent_identical_calls_make_one_request(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1", "2"])
    emulator.delay("list_tags", 0.2)  # all 100 arrive while the first is in flight
    async with RegistryClient(emulator.base_url, token=emulator.token, coalesce=True) as client:
        results = await asyncio.gather(
            *(client.list_tags(registry.id, "team/app") for _ in range(100))
        )
        other = await client.list_tags(registry.id, "team/app", search_name="1")
    assert {tuple(r.tags) for r in results} == {("1", "2")}
    assert other.tags == ["1"]  # another query: its own request
    assert emulator.count("list_tags") == 2


async def test_a_cancelled_first_caller_leaves_the_others_served(serve: Any) -> None:
    release, seen = asyncio.Event(), list[str]()
    base = await serve(held_tags(release, seen))
    async with RegistryClient(base, token="t", coalesce=True) as client:
        first = asyncio.create_task(client.list_tags(REGISTRY, "team/app"))
        await eventually(lambda: len(seen) == 1)  # the first caller's request is under way
        others = [asyncio.create_task(client.list_tags(REGISTRY, "team/app")) for _ in range(99)]
        sharing = client._requester._sharing
        await eventually(lambda: sharing is not None and sharing.shared == 99)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        release.set()
        results = await asyncio.gather(*others)
    assert all(r.tags == ["1"] for r in results)
    assert len(seen) == 1  # the shared request itself went on


async def test_a_shared_failure_reaches_every_caller_and_is_not_cached(
    emulator: RunaiEmulator,
) -> None:
    emulator.add_registry("r")
    emulator.fail_next("list_registries", 1, status=503)
    emulator.delay("list_registries", 0.1)
    async with RegistryClient(
        emulator.base_url, token=emulator.token, coalesce=True, retry=None
    ) as client:
        results = await asyncio.gather(
            *(client.list_registries() for _ in range(10)), return_exceptions=True
        )
        assert all(isinstance(r, ServiceUnavailableError) for r in results)
        assert len(await client.list_registries()) == 1
    assert emulator.count("list_registries") == 2


async def test_cached_results_until_the_ttl_or_a_write(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1"])
    spec = RegistrySpecRequest("https://r.example.com", user="u", password="p")
    async with RegistryClient(emulator.base_url, token=emulator.token, cache_ttl=60) as client:
        for _ in range(3):
            assert (await client.list_tags(registry.id, "team/app")).tags == ["1"]
            await client.get_registry(registry.id)
            await client.list_repositories(registry.id)
        assert (emulator.count("list_tags"), emulator.count("get_registry")) == (1, 1)
        assert emulator.count("list_repositories") == 1
        await client.list_registries()
        await client.list_registries()
        assert emulator.count("list_registries") == 2  # not cached: only the three above
        writes: list[Callable[[], Awaitable[object]]] = [
            lambda: client.update_registry(
                registry.id, RegistryUpdateRequest(AssetUpdateRequest("r2"), spec)
            ),
            lambda: client.create_registry(
                RegistryCreationRequest(AssetCreationRequest("new", "tenant"), spec)
            ),
        ]
        for number, write in enumerate(writes, start=2):
            await write()
            renamed = await client.get_registry(registry.id)
            assert renamed.meta.name == "r2"
            assert emulator.count("get_registry") == number
        await client.delete_registry(registry.id)
        with pytest.raises(Exception, match="404"):
            await client.get_registry(registry.id)


async def test_the_cache_expires_and_stays_bounded() -> None:
    clock = FakeClock(0.0)
    calls: list[str] = []

    async def request_for(key: str) -> str:
        calls.append(key)
        return key.upper()

    shared = SharedGets(coalesce=False, ttl=10, max_entries=2, clock=clock)
    assert await shared.get("a", lambda _: request_for("a"), cacheable=True) == "A"
    assert await shared.get("a", lambda _: request_for("a"), cacheable=True) == "A"
    clock.now = 10.0  # expired
    await shared.get("a", lambda _: request_for("a"), cacheable=True)
    await shared.get("b", lambda _: request_for("b"), cacheable=True)
    await shared.get("c", lambda _: request_for("c"), cacheable=True)  # drops "a"
    await shared.get("a", lambda _: request_for("a"), cacheable=True)
    assert calls == ["a", "a", "b", "c", "a"]
    assert shared.shared == 1


@pytest.mark.parametrize(
    "operation",
    OPERATIONS,
)
async def test_every_operation_takes_retry_per_call(
    emulator: RunaiEmulator, operation: str
) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1"])
    emulator.fail_next(operation, 1, status=503)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        with pytest.raises(ServiceUnavailableError) as caught:
            await operation_calls(client, registry.id, retry=None)[operation]()
    assert caught.value.attempts == 1
    assert emulator.count(operation) == 1


def held_tags(release: asyncio.Event, seen: list[str]) -> Any:
    """A handler answering a tags call once ``release`` is set."""
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.path_qs)
        await release.wait()
        return web.json_response({"name": "team/app", "tags": ["1"]})

    return handler


REGISTRY = "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"


@pytest.mark.parametrize("first_has_the_deadline", [True, False])
async def test_each_caller_keeps_its_own_deadline(serve: Any, first_has_the_deadline: bool) -> None:
    # The joiner waited for the first caller's request whatever its own deadline, and a
    # joiner with none received the first caller's DeadlineExceeded.
    release, seen = asyncio.Event(), list[str]()
    base = await serve(held_tags(release, seen))
    async with RegistryClient(base, token="t", coalesce=True) as client:
        deadlines = (0.2, None) if first_has_the_deadline else (None, 0.2)
        first, second = (
            asyncio.create_task(client.list_tags(REGISTRY, "team/app", deadline=d))
            for d in deadlines
        )
        hurried, patient = (first, second) if first_has_the_deadline else (second, first)
        with pytest.raises(DeadlineExceeded):
            await hurried
        release.set()
        assert (await patient).tags == ["1"]
    # The shared request ran under the first caller's deadline: past it, the patient
    # joiner asked again for itself.
    assert len(seen) == (2 if first_has_the_deadline else 1)


async def test_calls_with_other_timeouts_do_not_share(serve: Any) -> None:
    release, seen = asyncio.Event(), list[str]()
    base = await serve(held_tags(release, seen))
    async with RegistryClient(base, token="t", coalesce=True) as client:
        calls = [
            asyncio.create_task(client.list_tags(REGISTRY, "team/app", timeout=t))
            for t in (5, 5, 7)
        ]
        await eventually(lambda: len(seen) == 2)
        release.set()
        await asyncio.gather(*calls)
    assert len(seen) == 2


async def test_the_last_caller_to_leave_cancels_the_shared_request(serve: Any) -> None:
    release, seen = asyncio.Event(), list[str]()
    base = await serve(held_tags(release, seen))
    async with RegistryClient(base, token="t", coalesce=True) as client:
        with pytest.raises(DeadlineExceeded):
            await client.list_tags(REGISTRY, "team/app", deadline=0.2)
        release.set()
        # Nobody wanted it any more: a new call makes a new request.
        assert (await client.list_tags(REGISTRY, "team/app")).tags == ["1"]
    assert len(seen) == 2
