"""Politeness: the limiter's arithmetic (no I/O), then the client and crawl against the emulator."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from runai_registry_async import (
    ApiError,
    DeadlineExceeded,
    RegistryClient,
    RetryPolicy,
    crawl_tags,
)
from runai_registry_async._http._ratelimit import (
    AdaptiveRate,
    Aimd,
    Pacer,
    RateLimiter,
    advertised_pause,
    advertised_rate,
)
from runai_registry_async.testing import RunaiEmulator

from .conftest import FakeClock

# --- the arithmetic ----------------------------------------------------------------------------


def test_concurrent_reservations_are_spaced_exactly() -> None:
    clock = FakeClock(100.0)
    limiter = RateLimiter(100, burst=3, clock=clock)
    waits = [limiter.reserve() for _ in range(8)]  # all at the same instant
    assert waits == pytest.approx([0, 0, 0, 0.01, 0.02, 0.03, 0.04, 0.05])


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
    for gap in gaps:
        clock.now += gap / rate
        starts.append(clock.now + limiter.reserve())
    starts.sort()
    # In any window of length w, at most burst + rate * w starts (GCRA's guarantee).
    for i, first in enumerate(starts):
        for j in range(i, len(starts)):
            window = starts[j] - first
            assert j - i + 1 <= burst + rate * window + 1e-6


async def test_a_cancelled_waiter_hands_its_slot_back() -> None:
    limiter = RateLimiter(2, burst=1)
    await limiter.acquire()  # the burst slot
    waiter = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0)
    assert limiter.delay() > 0.4  # the waiter holds the next slot
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert limiter.delay() < 0.51  # back to one interval after the first start


async def test_a_slot_past_the_deadline_is_refused_at_once() -> None:
    limiter = RateLimiter(0.1, burst=1)  # one request every 10 s
    await limiter.acquire()
    started = asyncio.get_running_loop().time()
    with pytest.raises(DeadlineExceeded, match="rate limit"):
        await limiter.acquire(left=0.2, operation="GET /x")
    assert asyncio.get_running_loop().time() - started < 5  # waiting would take 10 s
    assert limiter.delay() > 5  # and nothing was reserved


def test_aimd_halves_once_per_wave_and_grows_one_per_round() -> None:
    aimd = Aimd(32)
    aimd.throttled()
    assert aimd.limit == 16
    for _ in range(16):  # the rest of that wave: requests already in flight
        aimd.throttled()
    assert aimd.limit == 16
    aimd.throttled()  # more completions than the limit since the decrease: a new wave
    assert aimd.limit == 8
    for _ in range(8):
        aimd.succeeded()
    assert aimd.limit == 9  # one step per round of successes
    for _ in range(10_000):
        aimd.succeeded()
    assert aimd.limit == 32  # never past the ceiling
    for _ in range(200):  # every request throttled: it keeps falling, wave by wave
        aimd.throttled()
    assert aimd.limit == 1  # and never below one


class ReferenceAimd:
    """The rules of ``Aimd`` written out plainly, with no shortcut: both must agree."""

    def __init__(self, ceiling: int) -> None:
        self.limit = self.ceiling = ceiling
        self.successes = 0
        self.since_decrease = ceiling + 1

    def throttled(self) -> None:
        self.since_decrease += 1
        if self.since_decrease > self.limit:
            self.limit = max(1, self.limit // 2)
            self.successes = self.since_decrease = 0

    def succeeded(self) -> None:
        self.since_decrease += 1
        self.successes += 1
        if self.successes >= self.limit and self.limit < self.ceiling:
            self.limit += 1
            self.successes = 0


@given(
    ceiling=st.integers(1, 70),
    # runs of (throttled?, how many): waves of throttling between runs of successes
    runs=st.lists(st.tuples(st.booleans(), st.integers(1, 40)), max_size=30),
)
@example(ceiling=2, runs=[(True, 1), (False, 2), (True, 1)])  # a decrease still remembered
@settings(max_examples=500)
def test_aimd_follows_its_rules_through_any_sequence(
    ceiling: int, runs: list[tuple[bool, int]]
) -> None:
    aimd, reference = Aimd(ceiling), ReferenceAimd(ceiling)
    for throttled, count in runs:
        for _ in range(count):
            if throttled:
                aimd.throttled()
                reference.throttled()
            else:
                aimd.succeeded()
                reference.succeeded()
            assert aimd.limit == reference.limit


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (float("inf"), 1), (1, 0)])
def test_bad_rates_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match=r"rate|burst"):
        RateLimiter(rate, burst)
    with pytest.raises(ValueError, match=r"rate|burst"):
        RegistryClient("https://h.example.com", token="t", max_per_second=rate, burst=burst)


# --- against the emulator -------------------------------------------------------------------


async def test_the_emulator_answers_429_with_retry_after_past_its_limit(
    emulator: RunaiEmulator,
) -> None:
    emulator.rate_limit(5, burst=2)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        results = await asyncio.gather(
            *(client.list_registries() for _ in range(6)), return_exceptions=True
        )
    refused = [r for r in results if isinstance(r, ApiError)]
    assert len(refused) == 4
    assert {(r.status, r.retry_after, r.message) for r in refused} == {
        (429, "1", "Too many requests")
    }
    assert emulator.rate_limited == 4


async def test_max_per_second_keeps_the_client_under_the_servers_limit(
    emulator: RunaiEmulator,
) -> None:
    emulator.rate_limit(40, burst=6)  # twice the client's burst: arrival jitter
    async with RegistryClient(
        emulator.base_url, token=emulator.token, retry=None, max_per_second=40, burst=3
    ) as client:
        await asyncio.gather(*(client.list_registries() for _ in range(50)))
    assert emulator.rate_limited == 0
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        results = await asyncio.gather(
            *(client.list_registries() for _ in range(50)), return_exceptions=True
        )
    assert emulator.rate_limited > 0  # the same load without the limit: refused
    assert any(isinstance(r, ApiError) for r in results)


@pytest.mark.parametrize(
    ("status", "retry_after", "pauses"),
    [(503, "1", True), (429, "2", True), (429, "1", False)],
    ids=["an outage", "a long wait", "a token bucket's second"],
)
async def test_a_retry_after_pauses_every_request_not_yet_started_unless_short(
    emulator: RunaiEmulator, status: int, retry_after: str, pauses: bool
) -> None:
    # A short Retry-After on a 429 slows the send rate instead: pausing every request
    # for the whole second let the burst through again, and the next was refused again.
    emulator.fail_next("list_registries", 1, status=status, retry_after=retry_after)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        with pytest.raises(ApiError):
            await client.list_registries()
        assert client.throttled == 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        await client.list_registries()  # the next call waits for a pause, if there is one
        waited = loop.time() - started
    if pauses:
        assert waited >= 0.9
    else:
        assert waited < 0.5


async def test_a_pause_that_outlasts_the_deadline_is_not_waited_for(
    emulator: RunaiEmulator,
) -> None:
    emulator.fail_next("list_registries", 1, status=503, retry_after="30")
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        with pytest.raises(ApiError):
            await client.list_registries()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(DeadlineExceeded, match="pause"):
            await client.list_registries(deadline=1.5)  # the 10 s pause outlasts it
        assert loop.time() - started < 5  # it did not wait to find out


async def test_an_adaptive_crawl_lowers_its_concurrency_and_loses_nothing(
    emulator: RunaiEmulator,
) -> None:
    registries = emulator.seed(registries=4, repositories=10, tags=3)
    emulator.rate_limit(200, burst=8)
    policy = RetryPolicy(attempts=10, base_delay=0.01, max_delay=0.05)
    lowest = 64
    # Without the client's adaptive rate, the crawl's concurrency answers throttling.
    async with RegistryClient(
        emulator.base_url, token=emulator.token, retry=policy, adaptive_rate=False
    ) as client:
        crawl = crawl_tags(client, [r.id for r in registries], concurrency=64)
        results = []
        async for result in crawl:
            results.append(result)
            lowest = min(lowest, crawl.stats.concurrency)
    assert [r for r in results if r.error is not None] == []
    assert sum(len(r.tags or []) for r in results) == 4 * 10 * 3
    assert crawl.stats.throttled == emulator.rate_limited > 0
    assert lowest < 64


async def test_per_registry_per_second_protects_each_registry(
    emulator: RunaiEmulator,
) -> None:
    registries = emulator.seed(registries=3, repositories=8, tags=2)
    emulator.rate_limit(20, burst=2, scope="registry")
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        results = [
            r
            async for r in crawl_tags(
                client, [r.id for r in registries], concurrency=32, per_registry_per_second=20
            )
        ]
    assert [r for r in results if r.error is not None] == []
    assert emulator.rate_limited == 0
    assert len(results) == 3 * 8


# --- the adaptive rate, advertised limits, the pacer: pure, on a stopped clock ---------


def test_the_rate_is_unlimited_until_the_first_throttle_then_cut_to_what_was_sent() -> None:
    clock = FakeClock(0.0)
    adaptive = AdaptiveRate(clock=clock)
    for _ in range(100):  # 100 requests over the last second
        adaptive.sent()
        clock.now += 0.01
        adaptive.succeeded()
    assert adaptive.rate == math.inf
    sent_at = adaptive.sent()
    clock.now += 0.01
    assert adaptive.throttled(sent_at)
    assert adaptive.rate == pytest.approx(0.7 * 100, rel=0.05)


def test_one_wave_of_throttles_cuts_once() -> None:
    clock = FakeClock(0.0)
    adaptive = AdaptiveRate(clock=clock)
    sent = [adaptive.sent() for _ in range(50)]
    clock.now += 0.2
    assert adaptive.throttled(sent[0])
    cut = adaptive.rate
    # Requests sent before the cut, or refused within the hold after it: the same wave.
    assert not adaptive.throttled(sent[1])
    later = adaptive.sent()
    clock.now += AdaptiveRate.HOLD / 2
    assert not adaptive.throttled(later)
    assert adaptive.rate == cut
    clock.now += AdaptiveRate.HOLD
    assert adaptive.throttled(adaptive.sent())
    assert adaptive.rate < cut


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["send", "ok", "throttle"]), st.floats(0, 0.5)),
        min_size=1,
        max_size=200,
    )
)
def test_the_rate_stays_positive_finite_once_engaged_and_successes_never_run_away(
    steps: list[tuple[str, float]],
) -> None:
    clock = FakeClock(0.0)
    adaptive = AdaptiveRate(clock=clock)
    last_sent = 0.0
    for kind, elapsed in steps:
        clock.now += elapsed
        if kind == "send":
            last_sent = adaptive.sent()
        elif kind == "ok":
            adaptive.succeeded()
        else:
            adaptive.throttled(last_sent)
        if adaptive.engaged:
            assert AdaptiveRate.FLOOR <= adaptive.rate < math.inf
            if kind == "ok":  # never more than twice what is being sent
                assert adaptive.rate <= max(AdaptiveRate.FLOOR, 2 * adaptive.sending()) + 1e-9


def test_after_a_cut_the_rate_grows_back_towards_and_past_the_rate_that_was_throttled() -> None:
    clock = FakeClock(0.0)
    adaptive = AdaptiveRate(clock=clock)
    for _ in range(300):
        adaptive.sent()
        clock.now += 1 / 300
    adaptive.throttled(adaptive.sent())
    rates = []
    for _ in range(40):  # 20 s at the allowed rate, every answer a success
        for _ in range(int(adaptive.rate // 2) + 1):
            adaptive.sent()
            clock.now += 0.5 / (int(adaptive.rate // 2) + 1)
        adaptive.succeeded()
        rates.append(adaptive.rate)
    assert rates[0] < 300 * 0.8
    assert max(rates) > 300  # it probes above the old limit in the end
    assert rates == sorted(rates)  # growing all along, never cut without a throttle


@pytest.mark.parametrize(
    ("headers", "rate"),
    [
        ({"RateLimit-Policy": '"default";q=100;w=60'}, 100 / 60),
        ({"RateLimit-Policy": "100;w=60"}, 100 / 60),  # the older form
        ({"X-RateLimit-Policy": "50;w=1"}, 50.0),
        ({"RateLimit-Policy": '"burst";w=1, "day";q=1000;w=86400'}, 1000 / 86400),
        ({}, None),
        ({"RateLimit-Policy": '"default";q=nan;w=1'}, None),
        ({"RateLimit-Policy": '"default";q=1e400;w=1'}, None),
        ({"RateLimit-Policy": '"default";q=-5;w=1'}, None),
        ({"RateLimit-Policy": '"default";q=100;w=0'}, None),
        ({"RateLimit-Policy": '"default";q=100'}, None),
        ({"RateLimit-Policy": "garbage;;;==="}, None),
        ({"RateLimit-Policy": '"d";q=' + "9" * 400 + ";w=1"}, None),
    ],
)
def test_an_advertised_rate_is_read_and_garbage_is_ignored(
    headers: dict[str, str], rate: float | None
) -> None:
    found = advertised_rate(headers)
    assert found == (None if rate is None else pytest.approx(rate))


@pytest.mark.parametrize(
    ("headers", "pause"),
    [
        ({"RateLimit": '"default";r=0;t=5'}, 5.0),
        ({"RateLimit": '"default";r=3;t=5'}, None),
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": "7"}, 7.0),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"}, 2.0),
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": "-7"}, None),
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": "99999999"}, None),
        ({"RateLimit-Remaining": "zero", "RateLimit-Reset": "7"}, None),
        ({"RateLimit": "r=0;t=inf"}, None),
    ],
)
def test_an_advertised_pause_is_read_and_garbage_is_ignored(
    headers: dict[str, str], pause: float | None
) -> None:
    assert advertised_pause(headers) == pause


def test_the_pacer_keeps_the_lowest_of_ceiling_advertised_and_adaptive() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(100, clock=clock)
    assert pacer.rate == 100
    pacer.answered(throttled=False, sent_at=0, headers={"RateLimit-Policy": "40;w=1"})
    assert pacer.rate == pytest.approx(40 * 0.97)  # the server says less than the ceiling
    free = Pacer(None, adaptive=False, clock=clock)
    assert free.rate == math.inf
    free.answered(throttled=True, sent_at=0, headers={})
    assert free.rate == math.inf  # not adaptive: a throttle changes nothing


async def test_with_the_adaptive_rate_a_crawl_keeps_its_concurrency_and_loses_nothing(
    emulator: RunaiEmulator,
) -> None:
    registries = emulator.seed(registries=4, repositories=10, tags=3)
    emulator.rate_limit(200, burst=8)
    policy = RetryPolicy(attempts=10, base_delay=0.01, max_delay=0.05)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=policy) as client:
        crawl = crawl_tags(client, [r.id for r in registries], concurrency=64)
        results = [result async for result in crawl]
        assert client._requester._pacer.rate < math.inf  # the send rate was cut instead
    assert [r for r in results if r.error is not None] == []
    assert sum(len(r.tags or []) for r in results) == 4 * 10 * 3
    assert crawl.stats.concurrency == 64
    assert crawl.stats.throttled == emulator.rate_limited > 0


async def test_an_advertised_limit_is_kept_without_a_single_429(
    emulator: RunaiEmulator,
) -> None:
    emulator.seed(registries=2, repositories=20, tags=2)
    # A bucket half a second deep: only a stall of the test's loop longer than that (the
    # server shares it) would wake more waiting requests at once than it holds.
    emulator.rate_limit(50, burst=25, advertise=True)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        await client.list_registries()  # the first answer says the limit
        results = [result async for result in crawl_tags(client, concurrency=16)]
    assert all(r.error is None for r in results)
    assert emulator.rate_limited == 0
