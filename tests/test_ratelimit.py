"""Politeness: the client and crawl against the emulator's rate limit, then advertised
limits and the pacer (pure, on a stopped clock). The limiter and the adaptive rate have
their own files."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from aiohttp import web

from runai_registry_async import (
    ApiError,
    DeadlineExceeded,
    RegistryClient,
    RetryPolicy,
    crawl_tags,
)
from runai_registry_async._http._ratelimit import (
    Pacer,
    advertised_pause,
    advertised_rate,
)
from runai_registry_async.testing import RunaiEmulator

from .conftest import FakeClock

# --- against the emulator -------------------------------------------------------------------


async def test_the_emulator_answers_429_with_retry_after_past_its_limit(
    emulator: RunaiEmulator,
) -> None:
    emulator.rate_limit(1, burst=2)  # a token a second: none comes back during the test
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


# --- advertised limits and the pacer: pure, on a stopped clock -------------------------


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


@pytest.mark.parametrize(
    ("headers", "paused"),
    [
        ({"RateLimit": '"bucket";r=0;t=5'}, 5.0),
        ({"RateLimit-Remaining": "0", "RateLimit-Reset": "30"}, 10.0),  # no longer than max
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"}, 3.0),
        ({"RateLimit": '"bucket";r=0;t=1'}, 0.0),  # a bucket's next token: the rate's job
        ({"RateLimit": '"bucket";r=4;t=5'}, 0.0),  # some left
    ],
)
def test_a_spent_advertised_quota_pauses_the_client_when_the_wait_is_long(
    headers: dict[str, str], paused: float
) -> None:
    pacer = Pacer(None, max_pause=10, clock=FakeClock(0.0))
    pacer.answered(throttled=False, sent_at=0, headers=headers)
    assert pacer.pause.left() == paused


async def test_a_server_saying_its_quota_is_spent_is_not_sent_another_request_before_reset(
    serve: Any,
) -> None:
    answers = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal answers
        answers += 1
        return web.json_response(
            {"entries": []}, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "30"}
        )

    base = await serve(handler)
    async with RegistryClient(base, token="t", retry=RetryPolicy(max_delay=20)) as client:
        await client.list_registries()
        with pytest.raises(DeadlineExceeded, match="pause"):
            await client.list_registries(deadline=5)  # the quota comes back in 20 s
    assert answers == 1
