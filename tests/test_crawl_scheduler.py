"""The crawl's scheduling on its own: which lookup comes next, no network."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from runai_registry_async._crawl_scheduler import Job, RegistryWork, Scheduler
from runai_registry_async._http._adaptive import Aimd

from .conftest import within


async def next_of(scheduler: Scheduler) -> Job | None:
    """The next job, where one is due: a scheduler that hands out none fails the test."""
    return await within(5, scheduler.next_job(), what="the scheduler handed out no job")


async def test_round_robin_over_registries_within_the_per_registry_cap() -> None:
    scheduler = Scheduler(max_active=4, per_registry=1, aimd=None)
    a, b = RegistryWork("a", None), RegistryWork("b", None)
    await scheduler.add(a)
    await scheduler.add(b)
    first, second = await next_of(scheduler), await next_of(scheduler)
    assert [first, second] == [(a, None), (b, None)]  # each registry listed first
    assert scheduler.pick() is None  # both at their cap of one
    scheduler.done(a, ["r1", "r2"])
    scheduler.done(b, ["s1"])
    jobs = [await next_of(scheduler), await next_of(scheduler)]
    picked = [job for job in jobs if job is not None]
    assert sorted((w.id, r) for w, r in picked) == [("a", "r1"), ("b", "s1")]
    for work, _ in picked:
        scheduler.done(work)
    assert await next_of(scheduler) == (a, "r2")
    scheduler.done(a)
    scheduler.source_done()
    assert await next_of(scheduler) is None  # everything finished


async def test_the_feeder_waits_for_room_and_idle_workers_wake_for_new_work() -> None:
    scheduler = Scheduler(max_active=1, per_registry=None, aimd=None)
    a, b = RegistryWork("a", None), RegistryWork("b", None)
    await scheduler.add(a)
    adding = asyncio.create_task(scheduler.add(b))
    job = await scheduler.next_job()
    assert job == (a, None)
    await asyncio.sleep(0)
    assert not adding.done()  # one registry active at most
    waiting = asyncio.create_task(scheduler.next_job())
    await asyncio.sleep(0)
    assert not waiting.done()  # nothing to hand out yet
    scheduler.done(a, [])  # a is finished: room for b, and work for the idle worker
    await adding
    assert await waiting == (b, None)


@pytest.mark.parametrize("limit", [1, 2])
async def test_the_adaptive_limit_caps_requests_in_flight(limit: int) -> None:
    aimd = Aimd(limit)
    scheduler = Scheduler(max_active=8, per_registry=None, aimd=aimd)
    for name in "abc":
        await scheduler.add(RegistryWork(name, None))
    handed = [await scheduler.next_job() for _ in range(limit)]
    assert len(handed) == limit
    assert scheduler.pick() is None


@pytest.mark.parametrize("per_registry", [1, None])
async def test_a_registry_passed_over_does_not_end_the_search(per_registry: int | None) -> None:
    # `first` comes first in the round but cannot take a job: with a cap of one it is
    # at its cap; without a cap it has nothing pending (its listing is in flight).
    scheduler = Scheduler(max_active=8, per_registry=per_registry, aimd=None)
    first, ready = RegistryWork("first", None), RegistryWork("ready", None)
    await scheduler.add(first)
    await scheduler.add(ready)
    assert [await scheduler.next_job(), await scheduler.next_job()] == [
        (first, None),
        (ready, None),
    ]
    scheduler.done(ready, ["r1"])
    assert scheduler.pick() == (ready, "r1")


async def test_finished_jobs_free_their_slot_of_the_adaptive_limit_exactly() -> None:
    scheduler = Scheduler(max_active=8, per_registry=None, aimd=Aimd(2))
    work = RegistryWork("a", None)
    await scheduler.add(work)
    assert await scheduler.next_job() == (work, None)
    scheduler.done(work, ["r1", "r2", "r3", "r4"])
    first, second = scheduler.pick(), scheduler.pick()
    assert (first, second) == ((work, "r1"), (work, "r2"))
    assert scheduler.pick() is None  # two in flight: the limit
    scheduler.done(work)
    assert scheduler.pick() == (work, "r3")  # one freed, exactly one more
    assert scheduler.pick() is None


def _may_start(work: RegistryWork, cap: int | None) -> bool:
    has_job = not work.listed or bool(work.pending)
    return has_job and (cap is None or work.in_flight < cap)


@given(
    registries=st.integers(1, 5),
    cap=st.one_of(st.none(), st.integers(1, 3)),
    steps=st.lists(
        st.tuples(st.sampled_from(["pick", "done"]), st.integers(0, 10), st.integers(0, 3)),
        max_size=60,
    ),
)
# Always tried: the registry first in turn is at its cap, the next one may start.
@example(
    registries=2,
    cap=1,
    steps=[
        *[("pick", 0, 0), ("pick", 0, 0), ("done", 1, 2), ("done", 0, 2)],
        *[("pick", 0, 0), ("pick", 0, 0), ("done", 1, 0), ("pick", 0, 0)],
    ],
)
def test_a_job_is_handed_out_whenever_one_may_start_and_each_only_once(
    registries: int, cap: int | None, steps: list[tuple[str, int, int]]
) -> None:
    async def scenario() -> None:
        scheduler = Scheduler(max_active=registries, per_registry=cap, aimd=None)
        works = [RegistryWork(str(n), None) for n in range(registries)]
        for work in works:
            await scheduler.add(work)
        in_flight: list[Job] = []
        listed: list[tuple[str, str]] = []
        handed: list[tuple[str, str]] = []

        def finish(index: int, count: int) -> None:
            work, repository = in_flight.pop(index % len(in_flight))
            found = [f"{work.id}/r{k}" for k in range(count)] if repository is None else []
            listed.extend((work.id, name) for name in found)
            scheduler.done(work, found)

        def pick() -> None:
            expected = any(_may_start(work, cap) for work in works)
            job = scheduler.pick()
            assert (job is not None) == expected, (job, expected)
            if job is not None:
                in_flight.append(job)
                if job[1] is not None:
                    handed.append((job[0].id, job[1]))

        for action, index, count in steps:
            if action == "done" and in_flight:
                finish(index, count)
            else:
                pick()
        while in_flight or any(_may_start(work, cap) for work in works):  # drain
            if any(_may_start(work, cap) for work in works):
                pick()
            else:
                finish(0, 1)
        assert sorted(handed) == sorted(listed)
        scheduler.source_done()
        assert await scheduler.next_job() is None

    asyncio.run(scenario())
