"""crawl_tags against the emulator on a real loopback socket."""

from __future__ import annotations

import asyncio
import math
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from runai_registry_async import (
    CrawlFailure,
    CrawlResult,
    CrawlTags,
    DeadlineExceeded,
    DecodeError,
    NotFoundError,
    Registry,
    RegistryClient,
    RetryPolicy,
    ServiceUnavailableError,
    crawl_tags,
)
from runai_registry_async import _crawl as crawl_module
from runai_registry_async._crawl import TASK_NAME
from runai_registry_async.testing import RunaiEmulator, StoredRegistry

from .conftest import StoppedDeadline, eventually, round_trips, within

RETRY = RetryPolicy(attempts=8, base_delay=0.001, max_delay=0.01)
UNKNOWN = str(uuid.UUID(int=12345))


def library_tasks() -> list[asyncio.Task[object]]:
    """The crawl's tasks still running (found by name, whatever wraps their coroutines)."""
    return [t for t in asyncio.all_tasks() if t.get_name() == TASK_NAME and not t.done()]


def one_registry(emulator: RunaiEmulator, name: str, *, repositories: int) -> StoredRegistry:
    """A registry holding team/app-0... team/app-N, each with the one tag "1"."""
    registry = emulator.add_registry(name)
    for n in range(repositories):
        emulator.add_repository(registry.id, f"team/app-{n}", tags=["1"])
    return registry


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
        assert library_tasks()  # the crawl's tasks existed...
        # ...and go once the abandoned generator is finalized (the loop schedules that).
        await eventually(lambda: not library_tasks())
        tags_calls = emulator.count("list_tags")
        await round_trips(client)
        assert emulator.count("list_tags") == tags_calls
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
        assert library_tasks() == []  # gone by the time the consumer's cancellation ends


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
        await eventually(lambda: emulator.count("list_tags") >= 8 + 1 + 4)
        # ...then stop: each of the 4 workers holds one more result, blocked on the full
        # queue, and asks for nothing further, however many requests pass meanwhile.
        await round_trips(client)
        assert emulator.count("list_tags") == 8 + 1 + 4
        await crawl.aclose()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"concurrency": 0}, "concurrency must be a positive int, got 0"),
        ({"concurrency": True}, "concurrency must be a positive int, got True"),
        ({"concurrency": "8"}, "concurrency must be a positive int, got '8'"),
        ({"per_registry": 0}, "per_registry must be a positive int or None, got 0"),
        ({"per_registry": True}, "per_registry must be a positive int or None, got True"),
        ({"per_registry": "2"}, "per_registry must be a positive int or None, got '2'"),
        ({"on_error": "ignore"}, "on_error must be 'yield' or 'raise', got 'ignore'"),
        ({"repository_search": 5}, "repository_search must be a string or None"),
        ({"tag_search": b"x"}, "tag_search must be a string or None"),
        ({"deadline": 0}, "deadline must be a positive number of seconds, got 0"),
        ({"deadline": -1.0}, "deadline must be a positive number of seconds, got -1.0"),
        ({"deadline": True}, "deadline must be a positive number of seconds, got True"),
        ({"deadline": "5"}, "deadline must be a positive number of seconds, got '5'"),
        ({"deadline": math.nan}, "deadline must be a positive number of seconds, got nan"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    emulator: RunaiEmulator, kwargs: dict[str, Any], message: str
) -> None:
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            crawl_tags(client, **kwargs)
    assert emulator.requests == []


async def test_bad_ids_fail_clearly_and_a_crawl_runs_once(emulator: RunaiEmulator) -> None:
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        with pytest.raises(ValueError, match="asset_id must be a UUID"):
            await collect(crawl_tags(client, ["not-an-id"]))
        assert emulator.requests == []
        crawl = crawl_tags(client, [])
        assert await collect(crawl) == []
        with pytest.raises(RuntimeError, match=r"^a crawl can be iterated only once$"):
            await collect(crawl)


# --- hostile or careless input ------------------------------------------------------------------


async def test_a_single_id_instead_of_a_list_is_a_type_error_naming_the_fix(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("one")
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        for wrong in (registry.id, registry.id.encode(), uuid.UUID(registry.id)):
            with pytest.raises(TypeError) as raised:
                crawl_tags(client, wrong)  # type: ignore[arg-type]
            assert str(raised.value) == (
                "registries must be an iterable of ids or Registry objects, not a single "
                f"{type(wrong).__name__}; pass [registry_id] for one registry"
            )
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
    operation = f"GET /api/v1/asset/registries/{registry.id}/repositories/tags"
    assert failed.error.operation == operation
    assert str(failed.error) == (
        f"{operation}: the server listed a repository with an empty name, which cannot be queried"
    )


async def test_per_registry_holds_the_line_where_nothing_else_does(
    emulator: RunaiEmulator,
) -> None:
    # One registry, many repositories, concurrency far above the cap: only the cap can
    # keep requests against it at 2.
    registry = one_registry(emulator, "big", repositories=40)
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
    emulator.fail_next("list_tags", 2, status=404)
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
    assert (stats.repositories, stats.errors) == (10, 2)
    assert seen_fractions[-1] == (12, 12)
    elapsed = stats.elapsed
    await asyncio.sleep(0.01)
    assert stats.elapsed == elapsed  # frozen once the crawl has ended
    text = repr(stats)
    assert "errors=2" in text
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


# --- what the crawl hands to each lookup ----------------------------------------------------------


@pytest.mark.parametrize("adaptive", [True, False])
async def test_throttling_lowers_what_the_server_sees_at_once_only_when_adaptive(
    emulator: RunaiEmulator, adaptive: bool
) -> None:
    registry = one_registry(emulator, "busy", repositories=120)
    emulator.delay("list_tags", 0.005)  # requests overlap
    emulator.fail_next("list_tags", 1000, status=429)  # every answer throttles
    # The client's own adaptive rate off: it would slow every request to 1 a second.
    async with RegistryClient(
        emulator.base_url, token=emulator.token, retry=None, adaptive_rate=False
    ) as client:
        crawl = crawl_tags(client, [registry.id], concurrency=16, adaptive=adaptive)
        measuring = False
        async for result in crawl:
            assert result.error is not None
            if not measuring and crawl.stats.repositories_done >= 40:
                # By now an adaptive crawl is down to 1: measure from here on.
                measuring, emulator.max_in_flight = True, emulator.in_flight
        assert crawl.stats.concurrency == (1 if adaptive else 16)
    late_most_at_once = emulator.max_in_flight
    if adaptive:
        assert late_most_at_once == 1
    else:
        assert late_most_at_once >= 8


async def test_default_concurrency_and_repositories_without_tags(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1"])
    emulator.add_repository(registry.id, "team/none", tags=[])
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        crawl = crawl_tags(client, [registry.id])
        results = await collect(crawl)
        assert crawl.stats.concurrency == 64
    # By default a repository without tags is a result too (skip_empty=False).
    assert sorted((r.repository, r.tags) for r in results) == [
        ("team/app", ["1"]),
        ("team/none", []),
    ]


async def test_results_carry_the_registry_name_whatever_their_kind(
    emulator: RunaiEmulator,
) -> None:
    emulator.add_registry("empty-one")
    full = emulator.add_registry("full-one")
    emulator.add_repository(full.id, "team/app", tags=["1"])
    emulator.add_repository(full.id, "team/db", tags=["2"])
    emulator.fail_next("list_tags", 1, status=404)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        registries = await client.list_registries()
        results = await collect(crawl_tags(client, registries, concurrency=1))
    kinds = sorted(
        (r.registry_name, "empty" if r.empty else "failed" if r.error else "tags") for r in results
    )
    assert kinds == [("empty-one", "empty"), ("full-one", "failed"), ("full-one", "tags")]


async def test_a_stepped_crawl_can_be_finished_by_a_loop(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=2, repositories=3, tags=1)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        crawl = crawl_tags(client, concurrency=2)
        first = await crawl.__anext__()
        rest = [result async for result in crawl]  # the same generator goes on
    assert len([first, *rest]) == 6
    assert len({(r.registry_id, r.repository) for r in [first, *rest]}) == 6


async def test_the_crawl_retry_policy_applies_to_listing_repositories(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1"])
    emulator.fail_next("list_repositories", 1, status=503)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=RETRY) as client:
        # The client would retry; the crawl's own policy says not to.
        results = await collect(crawl_tags(client, [registry.id], retry=None))
    assert [(r.repository, type(r.error)) for r in results] == [(None, ServiceUnavailableError)]
    assert emulator.count("list_repositories") == 1


async def test_the_crawl_deadline_bounds_a_hung_repositories_call(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("r")
    emulator.delay("list_repositories", 120)  # hangs far past everything below
    async with RegistryClient(emulator.base_url, token=emulator.token, timeout=100) as client:
        crawl = crawl_tags(client, [registry.id], deadline=0.5)
        with pytest.raises(DeadlineExceeded):
            # Ten times the time the crawl should take and more, yet far below the
            # client's own timeout: only the crawl's deadline can end it in time.
            await within(30, collect(crawl), what="the crawl outlived its deadline")


async def test_a_per_registry_rate_wait_past_the_deadline_ends_the_crawl_at_once(
    emulator: RunaiEmulator,
) -> None:
    registry = one_registry(emulator, "r", repositories=3)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        # One request per 100 s: the second would wait far past the deadline.
        crawl = crawl_tags(client, [registry.id], per_registry_per_second=0.01, deadline=60)
        with pytest.raises(DeadlineExceeded) as raised:
            # Refused at once, not waited out.
            await within(30, collect(crawl), what="the crawl waited past its deadline")
    assert f"crawl ({registry.id})" in str(raised.value)
    assert emulator.count("list_repositories") == 1
    assert emulator.count("list_tags") == 0


async def test_closing_a_crawl_that_never_started_is_harmless(emulator: RunaiEmulator) -> None:
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        crawl = crawl_tags(client, [])
        await crawl.aclose()
        async with crawl_tags(client, []) as unused:
            assert unused.stats.requests == 0
    assert emulator.requests == []


async def test_a_job_started_past_the_crawl_deadline_names_itself(
    emulator: RunaiEmulator,
) -> None:
    registry = one_registry(emulator, "r", repositories=8)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        crawl = crawl_tags(client, [registry.id], concurrency=1, deadline=2.0)
        first = await crawl.__anext__()
        # The one worker fills the results queue and waits with one more result...
        await eventually(lambda: emulator.count("list_tags") >= 4)
        await round_trips(client)
        assert emulator.count("list_tags") == 4
        # ...until the deadline has passed; its next job then finds no time left.
        await eventually(lambda: crawl.stats.elapsed > 2.0)
        rest = []
        with pytest.raises(DeadlineExceeded) as caught:
            async for result in crawl:
                rest.append(result)
    assert [r.repository for r in [first, *rest]] == [f"team/app-{n}" for n in range(4)]
    assert caught.value.operation == f"crawl ({registry.id}, 'team/app-4')"
    assert caught.value.attempts == 0
    assert emulator.count("list_tags") == 4


@pytest.mark.parametrize("deadline", [None, 30.0])  # (with one, each job's options differ)
async def test_a_crawl_that_leaves_retry_to_the_client_retries_as_the_client_does(
    emulator: RunaiEmulator, deadline: float | None
) -> None:
    registry = one_registry(emulator, "r", repositories=2)
    emulator.fail_next("list_tags", 1, status=503)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=RETRY) as client:
        crawl = crawl_tags(client, [registry.id], deadline=deadline)  # retry= not given
        results = await collect(crawl)
    assert [r.error for r in results] == [None, None]
    assert emulator.count("list_tags") == 3


async def test_a_job_with_exactly_no_time_left_sends_nothing_and_names_itself(
    emulator: RunaiEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = one_registry(emulator, "r", repositories=2)
    # The crawl's clock stops with 0.0 s left: not a moment to spend, so not a request.
    monkeypatch.setattr(crawl_module, "Deadline", lambda seconds: StoppedDeadline(seconds, 0.0))
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        with pytest.raises(DeadlineExceeded) as caught:
            await collect(crawl_tags(client, [registry.id], deadline=5.0))
    assert caught.value.operation == f"crawl ({registry.id}, None)"
    assert caught.value.attempts == 0
    assert emulator.requests == []


@pytest.mark.parametrize("bad_id", ["not-a-uuid", f"{UNKNOWN}\n"])
async def test_a_listed_registry_with_a_bad_id_is_a_failure_and_the_rest_are_crawled(
    emulator: RunaiEmulator, bad_id: str
) -> None:
    # It raised ValueError out of the crawl, with no result at all.
    one_registry(emulator, "good", repositories=2)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        (good,) = await client.list_registries()
        bad = attrs.evolve(good, meta=attrs.evolve(good.meta, id=bad_id, name="bad"))
        crawl = crawl_tags(client, [bad, good])
        results = await collect(crawl)
    failures = [r for r in results if isinstance(r, CrawlFailure)]
    assert [(f.registry_id, f.registry_name, f.repository) for f in failures] == [
        (bad_id, "bad", None)
    ]
    assert isinstance(failures[0].error, DecodeError)
    assert "has an id that is not a UUID" in str(failures[0].error)
    assert sorted(str(r.repository) for r in results if r.error is None) == [
        "team/app-0",
        "team/app-1",
    ]
    assert crawl.stats.errors == 1
