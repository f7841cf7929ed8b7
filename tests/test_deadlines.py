"""deadline= and retry= per call: a whole call bounded, retries chosen per call."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import orjson
import pytest
from aiohttp import web

from runai_registry_async import (
    ClientCredentials,
    DeadlineExceeded,
    RegistryClient,
    RetryPolicy,
    ServiceUnavailableError,
    TransportError,
    crawl_tags,
)
from runai_registry_async._http._deadline import Deadline
from runai_registry_async._http._retry import with_retries
from runai_registry_async.testing import RunaiEmulator

from .cli import cli
from .conftest import OPERATIONS, Handler, operation_calls

ID = "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"


def elapsed_since(started: float) -> float:
    return asyncio.get_running_loop().time() - started


async def test_a_deadline_bounds_every_attempt_and_wait(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    hung = asyncio.Event()

    async def never_answers(request: web.Request) -> web.Response:
        await hung.wait()
        return web.Response()

    base = await serve(never_answers)
    async with RegistryClient(base, token="t") as client:  # default policy: 4 attempts
        started = asyncio.get_running_loop().time()
        with pytest.raises(DeadlineExceeded) as caught:
            await client.list_tags(ID, "team/app", timeout=0.4, deadline=1.0)
        took = elapsed_since(started)
    error = caught.value
    assert isinstance(error, TransportError)
    assert not isinstance(error, asyncio.TimeoutError)
    assert error.attempts >= 2  # 0.4 s tries fit twice (or more) in 1 s
    assert f"after {error.attempts} attempts" in str(error)
    assert str(error).startswith(
        f"GET /api/v1/asset/registries/{ID}/repositories/tags (repository 'team/app'): "
        "deadline of 1 s passed after "
    )
    # Ends at the deadline or earlier (a wait that would cross it is not started); the
    # old code took 4.97 s for timeout=1.0 and no deadline.
    assert 0.4 < took < 10


async def test_a_retry_after_that_would_cross_the_deadline_is_not_waited_for(
    emulator: RunaiEmulator,
) -> None:
    emulator.fail_next("list_registries", 1, status=503, retry_after="5")
    policy = RetryPolicy(attempts=4, max_delay=30)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=policy) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(DeadlineExceeded) as caught:
            await client.list_registries(deadline=2.0)
        took = elapsed_since(started)
    assert isinstance(caught.value.last_error, ServiceUnavailableError)
    assert caught.value.attempts == 1
    assert emulator.count("list_registries") == 1
    assert took < 1.5  # the wait was never started; waiting would take 5 s


async def test_retry_per_call_replaces_the_clients_policy(emulator: RunaiEmulator) -> None:
    fast = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=fast) as client:
        emulator.fail_next("list_registries", 1, status=503)
        with pytest.raises(ServiceUnavailableError) as caught:
            await client.list_registries(retry=None)
        assert caught.value.attempts == 1
        emulator.fail_next("list_registries", 2, status=503)
        assert await client.list_registries() == []  # the client's own policy: 3 tries
        emulator.fail_next("list_registries", 4, status=503)
        more = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.02)
        assert await client.list_registries(retry=more) == []
        with pytest.raises(ValueError, match="retry must be"):
            await client.list_registries(retry=3)  # type: ignore[arg-type]
    assert emulator.count("list_registries") == 1 + 3 + 5


async def test_the_token_request_counts_against_the_deadline(emulator: RunaiEmulator) -> None:
    emulator.delay("token", 30)
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    async with RegistryClient(emulator.base_url, auth=credentials) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(DeadlineExceeded):
            await client.list_registries(deadline=0.5)
        assert elapsed_since(started) < 5


async def test_a_stream_is_bounded_as_a_whole(serve: Callable[[Handler], Awaitable[str]]) -> None:
    stalled = asyncio.Event()

    async def first_chunk_then_stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"name": "r", "tags": ["a", "b", ')
        await stalled.wait()
        return response

    base = await serve(first_chunk_then_stall)
    async with RegistryClient(base, token="t", timeout=30) as client:
        seen = []
        started = asyncio.get_running_loop().time()
        with pytest.raises(DeadlineExceeded):
            async for tag in client.iter_tags(ID, "r", deadline=0.5):
                seen.append(tag)
        assert elapsed_since(started) < 5  # each read alone could wait 30 s
    assert seen == ["a", "b"]


async def test_a_crawl_deadline_ends_the_crawl(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=2, repositories=3, tags=2)
    emulator.delay("list_tags", 30)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(DeadlineExceeded):
            async for _ in crawl_tags(client, deadline=0.5):
                pass
        assert elapsed_since(started) < 5


@pytest.mark.parametrize("value", [0, -1, float("inf"), "1"])
async def test_a_deadline_must_be_finite_and_positive(
    emulator: RunaiEmulator, value: object
) -> None:
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        with pytest.raises(ValueError, match="deadline"):
            await client.list_registries(deadline=value)  # type: ignore[arg-type]
    assert emulator.requests == []


async def test_the_cli_takes_deadline_and_retries(emulator: RunaiEmulator) -> None:
    emulator.delay("list_registries", 30)
    started = asyncio.get_running_loop().time()
    code, _, err = await cli(emulator, "--deadline", "1", "registries", "list")
    assert code == 1
    assert "deadline of 1 s passed" in err
    assert elapsed_since(started) < 15  # a subprocess start, then 1 s
    emulator.delay("list_registries", 0)
    emulator.fail_next("list_registries", 1, status=503)
    before = emulator.count("list_registries")
    code, _, err = await cli(emulator, "--retries", "0", "registries", "list")
    assert code == 1
    assert "HTTP 503" in err
    assert emulator.count("list_registries") == before + 1
    code, out, _ = await cli(emulator, "--json", "--retries", "2", "registries", "list")
    assert code == 0
    assert orjson.loads(out) == []


@pytest.mark.parametrize(
    "operation",
    OPERATIONS,
)
async def test_every_operation_takes_a_deadline(emulator: RunaiEmulator, operation: str) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1"])
    emulator.delay(operation, 30)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(DeadlineExceeded):
            await operation_calls(client, registry.id, deadline=0.3)[operation]()
        assert elapsed_since(started) < 5


async def test_a_crawl_takes_its_own_retry_policy(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1"])
    emulator.add_repository(registry.id, "team/db", tags=["2"])
    emulator.fail_next("list_tags", 1, status=503)
    fast = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.02)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=fast) as client:
        results = [r async for r in crawl_tags(client, [registry.id], retry=None)]
    failed = [r for r in results if r.error is not None]
    assert len(failed) == 1  # not retried: the crawl's policy, not the client's
    assert isinstance(failed[0].error, ServiceUnavailableError)
    assert failed[0].error.attempts == 1
    assert emulator.count("list_tags") == 2


async def test_a_deadline_found_spent_at_the_start_of_an_attempt_counts_the_loop_s_tries() -> None:
    # The third try finds no time left and raises before sending: the error must not
    # contradict `attempts` (3) and must carry the failure that used the time up.
    deadline = Deadline(30)
    failures = [TransportError("GET /x: reset", operation="GET /x") for _ in range(2)]
    tries = 0

    async def send() -> None:
        nonlocal tries
        tries += 1
        if failures:
            raise failures.pop(0)
        raise deadline.spent("GET /x")

    policy = RetryPolicy(attempts=5, base_delay=0.001, max_delay=0.002)
    with pytest.raises(DeadlineExceeded) as caught:
        await with_retries(send, policy, operation="GET /x", idempotent=True, deadline=deadline)
    error = caught.value
    assert (tries, error.attempts) == (3, 3)
    assert str(error) == ("GET /x: deadline of 30 s passed before the next attempt could start")
    assert error.last_error is not None
    assert str(error.last_error) == "GET /x: reset"
