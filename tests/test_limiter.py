"""Waiting for a turn: the rate limiter's spacing, in virtual time (exact, no sleeping),
its queue under cancellation and rate cuts, and deadlines."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runai_registry_async import DeadlineExceeded, RegistryClient
from runai_registry_async._http._limiter import RateLimiter

from .conftest import FakeClock, in_virtual_time


async def started_at(limiter: RateLimiter, starts: list[float]) -> None:
    await limiter.acquire()
    starts.append(asyncio.get_running_loop().time())


def starts_of_waiters(count: int, rate: float, burst: int, *, lateness: float = 0.0) -> list[float]:
    """When each of ``count`` waiters, all arriving at once, started (virtual time)."""

    async def main() -> list[float]:
        limiter = RateLimiter(rate, burst=burst, clock=asyncio.get_running_loop().time)
        starts: list[float] = []
        await asyncio.gather(*(started_at(limiter, starts) for _ in range(count)))
        return starts

    return in_virtual_time(main, lateness=lateness)


def test_concurrent_waiters_are_spaced_exactly() -> None:
    starts = starts_of_waiters(8, 100, burst=3)
    assert starts == pytest.approx([0, 0, 0, 0.01, 0.02, 0.03, 0.04, 0.05])


def test_a_rate_cut_spaces_every_waiter_already_queued() -> None:
    # Slots booked ahead at the old rate let a throttled client go on sending too fast
    # for as long as its queue lasts: a cut must reach the waiters already in it.
    async def main() -> list[float]:
        limiter = RateLimiter(100, burst=1, clock=asyncio.get_running_loop().time)
        starts: list[float] = []
        waiters = [asyncio.create_task(started_at(limiter, starts)) for _ in range(20)]
        await asyncio.sleep(0.015)  # two have started at 100/s
        limiter.set_rate(10, burst=1)
        await asyncio.gather(*waiters)
        return starts

    starts = in_virtual_time(main)
    assert starts[:2] == pytest.approx([0, 0.01])
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts[1:])]
    assert min(gaps) == pytest.approx(0.1)  # every later one at the new rate


def test_waiters_woken_late_by_a_busy_loop_keep_the_rate() -> None:
    # Each late start must not push every later slot back: at a burst of 1, a loop that
    # wakes every timer 2 ms late would otherwise pace 100/s at 83/s.
    starts = starts_of_waiters(101, 100, burst=1, lateness=0.002)
    assert starts[-1] - starts[0] == pytest.approx(1.0, abs=0.02)


def test_a_cancelled_waiter_takes_no_slot_and_the_next_moves_up() -> None:
    async def main() -> list[float]:
        limiter = RateLimiter(2, burst=1, clock=asyncio.get_running_loop().time)
        starts: list[float] = []
        await started_at(limiter, starts)  # t=0
        first = asyncio.create_task(started_at(limiter, starts))  # would start at 0.5
        middle = asyncio.create_task(started_at(limiter, starts))  # would start at 1.0
        last = asyncio.create_task(started_at(limiter, starts))  # would start at 1.5
        await asyncio.sleep(0.1)
        first.cancel()  # at the head of the queue
        middle.cancel()  # behind it
        await asyncio.gather(first, middle, return_exceptions=True)
        await last
        return starts

    assert in_virtual_time(main) == pytest.approx([0, 0.5])


@settings(max_examples=200, deadline=None)
@given(
    rate=st.sampled_from([1.0, 7.5, 50.0, 500.0]),
    burst=st.integers(1, 10),
    gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=60),
)
def test_no_window_ever_sees_more_than_the_rate_allows(
    rate: float, burst: int, gaps: list[float]
) -> None:
    clock = FakeClock(100.0)
    limiter = RateLimiter(rate, burst=burst, clock=clock)
    starts = []
    for gap in gaps:  # arrivals, each waiting (as acquire does) until delay() is 0
        clock.now += gap / rate
        while (wait := limiter.delay()) > 0:
            clock.now += wait
        limiter.take()
        starts.append(clock.now)
    # In any window of length w, at most burst + rate * w starts (GCRA's guarantee).
    for i, first in enumerate(starts):
        for j in range(i, len(starts)):
            assert j - i + 1 <= burst + rate * (starts[j] - first) + 1e-6


async def test_a_slot_past_the_deadline_is_refused_at_once() -> None:
    limiter = RateLimiter(0.1, burst=1)  # one request every 10 s
    await limiter.acquire()
    started = asyncio.get_running_loop().time()
    with pytest.raises(DeadlineExceeded, match="rate limit"):
        await limiter.acquire(left=0.2, operation="GET /x")
    assert asyncio.get_running_loop().time() - started < 5  # waiting would take 10 s
    assert limiter.expected_wait() > 5  # and nothing was taken


def test_the_queue_counts_toward_the_deadline() -> None:
    async def main() -> None:
        limiter = RateLimiter(10, burst=1, clock=asyncio.get_running_loop().time)
        queued = [asyncio.create_task(limiter.acquire()) for _ in range(10)]
        await asyncio.sleep(0)  # the first has started, nine wait: 0.9 s of queue
        with pytest.raises(DeadlineExceeded):
            await limiter.acquire(left=0.5)
        await limiter.acquire(left=1.5)
        await asyncio.gather(*queued)

    in_virtual_time(main)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (float("inf"), 1), (1, 0)])
def test_bad_rates_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match=r"rate|burst"):
        RateLimiter(rate, burst)
    with pytest.raises(ValueError, match=r"rate|burst"):
        RegistryClient("https://h.example.com", token="t", max_per_second=rate, burst=burst)
