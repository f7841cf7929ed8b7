"""crawl_tags against the emulator on a real loopback socket."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from runai_registry_async import (
    CrawlFailure,
    CrawlResult,
    CrawlTags,
    DecodeError,
    NotFoundError,
    Registry,
    RegistryClient,
    RetryPolicy,
    ServiceUnavailableError,
    crawl_tags,
)
from runai_registry_async.testing import RunaiEmulator

from .conftest import eventually, settled

RETRY = RetryPolicy(attempts=8, base_delay=0.001, max_delay=0.01)
UNKNOWN = str(uuid.UUID(int=12345))


def library_tasks() -> list[asyncio.Task[object]]:
    return [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and "runai_registry_async"
        in getattr(getattr(t.get_coro(), "cr_code", None), "co_filename", "")
        and not t.done()
    ]


async def collect(crawl: AsyncIterator[CrawlResult]) -> list[CrawlResult]:
    return [result async for result in crawl]


async def test_everything_exactly_once_despite_transient_503s(emulator: RunaiEmulator) -> None:
    registries = emulator.seed(registries=30, repositories=10, tags=5)
    emulator.flaky("list_repositories", 0.1, seed=1)
    emulator.flaky("list_tags", 0.1, seed=2, resets=True)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=RETRY) as client:
        crawl = crawl_tags(client, concurrency=16)
        stats = crawl.stats  # held from before the start, like a progress bar would
        results = []
        async for result in crawl:
            results.append(result)
            assert stats.repositories + stats.errors >= len(results)  # live, not a snapshot
        assert stats is crawl.stats
    assert all(r.error is None for r in results)
    seen = Counter((r.registry_id, r.repository, tag) for r in results for tag in (r.tags or []))
    expected = {
        (reg.id, repo, tag)
        for reg in registries
        for repo, tags in reg.repositories.items()
        for tag in tags
    }
    assert set(seen) == expected
    assert set(seen.values()) == {1}
    assert len(results) == 300
    assert crawl.stats.registries == 30
    assert crawl.stats.repositories == 300
    assert crawl.stats.tags == 1500
    assert crawl.stats.retries > 0
    # aiohttp itself resends a request once when a reused connection turns out dropped,
    # so the server may count more than the client sent.
    assert 1 + 30 + 300 + crawl.stats.retries == crawl.stats.requests <= len(emulator.requests)
    assert {r.registry_name for r in results} == {r.meta["name"] for r in registries}


async def test_one_failing_registry_gives_one_error_and_the_rest_complete(
    emulator: RunaiEmulator,
) -> None:
    registries = emulator.seed(registries=3, repositories=4, tags=2)
    ids = [registries[0].id, UNKNOWN, registries[1].id, registries[2].id]
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=RETRY) as client:
        results = await collect(crawl_tags(client, ids, concurrency=4))
    errors = [r for r in results if r.error is not None]
    assert len(errors) == 1
    assert errors[0].registry_id == UNKNOWN
    assert errors[0].repository is None
    assert errors[0].tags is None
    assert isinstance(errors[0].error, NotFoundError)
    assert len([r for r in results if r.error is None]) == 12


async def test_a_failing_tags_call_gives_an_error_for_that_repository(
    emulator: RunaiEmulator,
) -> None:
    emulator.seed(registries=1, repositories=3, tags=2)
    emulator.fail_next("list_tags", 1, status=403)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=RETRY) as client:
        results = await collect(crawl_tags(client, concurrency=1))
    assert [r.error is not None for r in results].count(True) == 1
    failed = next(r for r in results if r.error is not None)
    assert failed.repository is not None
    assert failed.tags is None


@pytest.mark.parametrize(("concurrency", "per_registry"), [(8, None), (8, 2), (3, 1)])
async def test_in_flight_never_exceeds_the_bounds(
    emulator: RunaiEmulator, concurrency: int, per_registry: int | None
) -> None:
    emulator.seed(registries=6, repositories=8, tags=2)
    emulator.delay("list_tags", 0.01)
    emulator.delay("list_repositories", 0.01)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        results = await collect(
            crawl_tags(client, concurrency=concurrency, per_registry=per_registry)
        )
    assert len(results) == 48
    assert 1 < emulator.max_in_flight <= concurrency
    busiest = max(emulator.max_in_flight_per_registry.values())
    assert busiest <= (per_registry or concurrency)
    if per_registry is not None:
        assert busiest == per_registry  # the cap was reached, not just respected by luck


async def test_a_huge_registry_does_not_starve_the_others(emulator: RunaiEmulator) -> None:
    huge = emulator.add_registry("huge")
    for i in range(200):
        emulator.add_repository(huge.id, f"big/{i}", tags=["1"])
    small = [emulator.add_registry(f"small-{i}") for i in range(4)]
    for registry in small:
        emulator.add_repository(registry.id, "app", tags=["1"])
    ids = [huge.id] + [r.id for r in small]
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        results = await collect(crawl_tags(client, ids, concurrency=2))
    order = [r.registry_id for r in results]
    assert len(order) == 204
    last_small = max(i for i, rid in enumerate(order) if rid != huge.id)
    assert last_small < 30, f"small registries finished only at result {last_small}"


async def test_break_after_five_results_leaves_no_pending_task(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=10, repositories=20, tags=3)
    emulator.delay("list_tags", 0.05)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        crawl = crawl_tags(client, concurrency=8)
        got = 0
        async for _ in crawl:
            got += 1
            if got == 5:
                break
        assert library_tasks()  # the workers existed...
        for _ in range(100):
            if not library_tasks():
                break
            await asyncio.sleep(0.01)
        assert library_tasks() == []  # ...and were gone within 1 s: nothing can ask more
        sent = client.requests_sent
        await asyncio.sleep(0)
        assert client.requests_sent == sent
        assert crawl.stats.repositories >= 5


async def test_aclose_and_cancelling_the_consumer_stop_the_workers(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=5, repositories=20, tags=3)
    emulator.delay("list_tags", 0.05)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        crawl = crawl_tags(client, concurrency=4)
        assert isinstance(await crawl.__anext__(), CrawlResult)
        await crawl.aclose()
        assert library_tasks() == []

        first = asyncio.Event()

        async def consume() -> None:
            async for _ in crawl_tags(client, concurrency=4):
                first.set()

        consumer = asyncio.create_task(consume())
        await first.wait()  # the crawl is under way
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer
        await asyncio.sleep(0)
        assert library_tasks() == []


async def test_on_error_raise_stops_the_crawl(emulator: RunaiEmulator) -> None:
    registries = emulator.seed(registries=4, repositories=5, tags=1)
    emulator.fail_next("list_tags", 100, status=503)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        with pytest.raises(ServiceUnavailableError):
            await collect(crawl_tags(client, [r.id for r in registries], on_error="raise"))
        assert library_tasks() == []


async def test_registries_as_objects_ids_and_async_generators(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=3, repositories=2, tags=1)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        objects: list[Registry] = await client.list_registries()
        by_objects = await collect(crawl_tags(client, objects))
        by_ids = await collect(crawl_tags(client, (uuid.UUID(r.meta.id) for r in objects)))

        async def generate() -> AsyncIterator[str]:
            for registry in objects:
                await asyncio.sleep(0)
                yield registry.meta.id

        by_async = await collect(crawl_tags(client, generate()))
    key = lambda r: (r.registry_id, r.repository)  # noqa: E731
    assert sorted(map(key, by_objects)) == sorted(map(key, by_ids)) == sorted(map(key, by_async))
    assert len(by_objects) == 6
    assert {r.registry_name for r in by_objects} == {r.meta.name for r in objects}
    assert {r.registry_name for r in by_ids} == {None}


async def test_searches_are_passed_on(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=2, repositories=10, tags=20)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        results = await collect(crawl_tags(client, repository_search="ml/", tag_search="cuda12.1"))
    assert results
    assert all(r.repository is not None and "ml/" in r.repository for r in results)
    assert all(t.endswith("cuda12.1") for r in results for t in r.tags or [])


async def test_a_slow_consumer_holds_the_workers_back(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=4, repositories=50, tags=1)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        crawl = crawl_tags(client, concurrency=4)
        await crawl.__anext__()
        # The workers fill the queue (2 x 4 results, one handed out)...
        await eventually(lambda: emulator.count("list_tags") >= 8 + 1)
        # ...then stop: at most 4 more in flight, blocked on the full queue.
        assert await settled(lambda: emulator.count("list_tags")) <= 8 + 1 + 4 + 4
        await crawl.aclose()


async def test_bad_arguments_and_ids_fail_clearly(emulator: RunaiEmulator) -> None:
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        for kwargs in ({"concurrency": 0}, {"per_registry": 0}, {"on_error": "ignore"}):
            with pytest.raises(ValueError, match=next(iter(kwargs))):
                crawl_tags(client, **kwargs)
        with pytest.raises(ValueError, match="asset_id must be a UUID"):
            await collect(crawl_tags(client, ["not-an-id"]))
        assert emulator.requests == []
        crawl = crawl_tags(client, [])
        assert await collect(crawl) == []
        with pytest.raises(RuntimeError, match="once"):
            await collect(crawl)


# --- hostile or careless input ------------------------------------------------------------------


async def test_a_single_id_instead_of_a_list_is_a_type_error_naming_the_fix(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("one")
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        for wrong in (registry.id, registry.id.encode(), uuid.UUID(registry.id)):
            with pytest.raises(TypeError, match=r"pass \[registry_id\]"):
                crawl_tags(client, wrong)  # type: ignore[arg-type]
    assert emulator.requests == []


async def test_duplicate_registries_from_an_async_source_are_crawled_once(
    emulator: RunaiEmulator,
) -> None:
    full = emulator.add_registry("full")
    emulator.add_repository(full.id, "team/app", tags=["1"])
    empty = emulator.add_registry("empty")

    async def arrived(count: int) -> None:
        # Waits on the server's request log, not on time.
        while emulator.count("list_repositories") < count:  # noqa: ASYNC110 - no event to await
            await asyncio.sleep(0.005)

    async def source() -> AsyncIterator[str]:
        # Each duplicate comes once its first is being crawled: an empty registry, then
        # its duplicate; a full one three times.
        yield empty.id
        await arrived(1)
        yield empty.id
        yield full.id
        await arrived(2)
        yield full.id
        yield full.id.upper()

    # Held by the server, so each first is still in flight when its duplicate comes.
    emulator.delay("list_repositories", 0.2)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        results = [r async for r in crawl_tags(client, source(), concurrency=4)]
    assert sorted((r.registry_id, r.repository or "", r.tags) for r in results) == sorted(
        [(full.id, "team/app", ["1"]), (empty.id, "", [])]  # each once; the empty one too
    )
    assert emulator.count("list_repositories") == 2


async def test_a_repository_with_an_empty_name_is_an_error_result(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("odd")
    emulator.add_repository(registry.id, "", tags=["x"])
    emulator.add_repository(registry.id, "team/app", tags=["1"])
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        results = [r async for r in crawl_tags(client, [registry.id])]
    by_repository = {r.repository: r for r in results}
    assert by_repository["team/app"].tags == ["1"]
    failed = by_repository[""]
    assert isinstance(failed.error, DecodeError)
    assert "empty name" in str(failed.error)


async def test_per_registry_holds_the_line_where_nothing_else_does(
    emulator: RunaiEmulator,
) -> None:
    # One registry, many repositories, concurrency far above the cap: only the cap can
    # keep requests against it at 2.
    registry = emulator.add_registry("big")
    for n in range(40):
        emulator.add_repository(registry.id, f"team/app-{n}", tags=["1"])
    emulator.delay("list_tags", 0.05)  # requests overlap
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        results = [
            r async for r in crawl_tags(client, [registry.id], concurrency=32, per_registry=2)
        ]
    assert len(results) == 40
    assert emulator.max_in_flight_per_registry[registry.id] == 2


async def test_an_inventory_can_tell_empty_from_skipped(emulator: RunaiEmulator) -> None:
    empty = emulator.add_registry("empty")
    full = emulator.add_registry("full")
    emulator.add_repository(full.id, "team/app", tags=["1.0-cuda12", "1.0-cpu"])
    emulator.add_repository(full.id, "team/db", tags=["1.0-cpu"])
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        everything = [r async for r in crawl_tags(client, [empty.id, full.id])]
        matching = [
            r async for r in crawl_tags(client, [full.id], tag_search="cuda12", skip_empty=True)
        ]
    assert [(r.registry_id, r.repository, r.tags, r.empty) for r in everything if r.empty] == [
        (empty.id, None, [], True)
    ]
    assert not any(r.empty for r in everything if r.registry_id == full.id)
    assert [(r.repository, r.tags) for r in matching] == [("team/app", ["1.0-cuda12"])]


async def test_stats_show_progress_as_a_fraction(emulator: RunaiEmulator) -> None:
    registries = emulator.seed(registries=3, repositories=4, tags=2)
    emulator.fail_next("list_tags", 1, status=404)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        crawl = crawl_tags(client, [r.id for r in registries], concurrency=2)
        seen_fractions = []
        async for _ in crawl:
            stats = crawl.stats
            assert stats.repositories_done <= stats.repositories_found
            seen_fractions.append((stats.repositories_done, stats.repositories_found))
    stats = crawl.stats
    assert (stats.registries_seen, stats.registries) == (3, 3)
    assert (stats.repositories_found, stats.repositories_done) == (12, 12)
    assert (stats.repositories, stats.errors) == (11, 1)
    assert seen_fractions[-1] == (12, 12)
    text = repr(stats)
    assert "errors=1" in text
    assert "requests=15" in text
    assert "retries=0" in text
    assert "elapsed=" in text


async def test_results_narrow_on_error_is_none(emulator: RunaiEmulator) -> None:
    # The code users write, with no assert: mypy --strict (run on tests/ in CI) checks
    # that `result.tags` is a list once `result.error is None`, and the error otherwise.
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1", "2"])
    emulator.add_repository(registry.id, "team/db", tags=["3"])
    emulator.fail_next("list_tags", 1, status=404)
    tags, errors = 0, []
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        async for result in crawl_tags(client, concurrency=1):
            if result.error is None:
                tags += len(result.tags)
                assert isinstance(result, CrawlTags)
            else:
                errors.append(result.error.attempts)
                assert isinstance(result, CrawlFailure)
                assert (result.tags, result.empty) == (None, False)
    assert (tags in (1, 2), errors) == (True, [1])
