"""Event hooks: what a client reports to ``event_hooks`` for each request, retry, throttle,
token and crawl step, and that a hook can never break a request. Also the headers every
request carries (``User-Agent``, ``headers=``)."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest

from runai_registry_async import ClientCredentials, RegistryClient, RetryPolicy, crawl_tags
from runai_registry_async.events import (
    CrawlProgress,
    Event,
    RequestFailed,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    Throttled,
    TokenFetched,
)
from runai_registry_async.testing import RunaiEmulator

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def registry_id(emulator: RunaiEmulator) -> str:
    registry = emulator.add_registry("hub")
    emulator.add_repository(registry.id, "team/app", tags=["1.0"])
    return registry.id


def client_with(emulator: RunaiEmulator, events: list[Event], **kwargs: Any) -> RegistryClient:
    kwargs.setdefault("token", emulator.token)
    return RegistryClient(emulator.base_url, event_hooks=[events.append], **kwargs)


def shape(event: Event) -> tuple[Any, ...]:
    """An event without its timings."""
    if isinstance(event, RequestSent):
        return ("sent", event.operation, event.method, event.attempt)
    if isinstance(event, ResponseReceived):
        return ("answered", event.attempt, event.status)
    if isinstance(event, RetryScheduled):
        return ("retry", event.attempt, event.reason)
    if isinstance(event, Throttled):
        return ("throttled", event.status, event.retry_after)
    if isinstance(event, RequestFailed):
        return ("failed", event.attempt, event.error)
    return (type(event).__name__,)


async def test_a_retried_call_reports_each_request_answer_and_retry_in_order(
    emulator: RunaiEmulator, registry_id: str
) -> None:
    events: list[Event] = []
    emulator.fail_next("list_tags", status=503)
    async with client_with(emulator, events, retry=FAST) as client:
        await client.list_tags(registry_id, "team/app")
    assert [shape(e) for e in events] == [
        ("sent", "list_tags", "GET", 1),
        ("answered", 1, 503),
        ("retry", 1, "HTTP 503"),
        ("sent", "list_tags", "GET", 2),
        ("answered", 2, 200),
    ]
    sent = events[0]
    assert isinstance(sent, RequestSent)
    assert sent.url == (
        f"{emulator.base_url}/api/v1/asset/registries/{registry_id}"
        "/repositories/tags?repository=team/app"
    )
    retry = events[2]
    assert isinstance(retry, RetryScheduled)
    assert 0 < retry.wait <= 0.05
    answered = events[-1]
    assert isinstance(answered, ResponseReceived)
    assert answered.elapsed > 0


async def test_throttling_and_requests_without_an_answer_are_reported(
    emulator: RunaiEmulator, registry_id: str
) -> None:
    events: list[Event] = []
    # Two resets: aiohttp sends an idempotent request once more by itself after one.
    emulator.reset_next("get_registry", count=2)
    emulator.fail_next("get_registry", status=429, retry_after="0")
    async with client_with(emulator, events, retry=FAST) as client:
        await client.get_registry(registry_id)
    kinds = [shape(e)[:2] for e in events]
    assert kinds == [
        ("sent", "get_registry"),
        ("failed", 1),
        ("retry", 1),
        ("sent", "get_registry"),
        ("answered", 2),
        ("throttled", 429),
        ("retry", 2),
        ("sent", "get_registry"),
        ("answered", 3),
    ]
    failed, throttled = events[1], events[5]
    assert isinstance(throttled, Throttled)
    assert throttled.retry_after == 0.0
    assert isinstance(failed, RequestFailed)
    assert failed.error == "TransportError"


async def test_a_token_fetch_is_reported_with_its_time(
    emulator: RunaiEmulator, registry_id: str
) -> None:
    events: list[Event] = []
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    async with client_with(emulator, events, token=None, auth=credentials) as client:
        await client.get_registry(registry_id)
    (fetched,) = [e for e in events if isinstance(e, TokenFetched)]
    assert fetched.operation == "token"
    assert fetched.error is None
    assert fetched.elapsed > 0
    assert isinstance(events[0], TokenFetched)  # before the request that needed it


async def test_a_failed_token_fetch_is_reported_with_its_error(
    emulator: RunaiEmulator, registry_id: str
) -> None:
    events: list[Event] = []
    credentials = ClientCredentials(emulator.client_id, "not-the-secret")
    async with client_with(emulator, events, token=None, auth=credentials) as client:
        with pytest.raises(Exception, match="401"):
            await client.get_registry(registry_id)
    (fetched,) = [e for e in events if isinstance(e, TokenFetched)]
    assert fetched.error == "401"
    assert "not-the-secret" not in repr(events)


async def test_a_crawl_reports_its_progress_with_each_result(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=2, repositories=2, tags=3)
    events: list[Event] = []
    async with client_with(emulator, events) as client:
        results = [r async for r in crawl_tags(client, concurrency=2)]
    progress = [e for e in events if isinstance(e, CrawlProgress)]
    assert len(progress) == len(results) == 4
    done = [p.repositories_done for p in progress]
    # Counts so far: the workers may be ahead of the consumer, never behind it.
    assert done == sorted(done)
    assert all(d >= n for n, d in enumerate(done, start=1))
    assert done[-1] == 4
    assert progress[-1].tags == 12
    assert progress[-1].registries == 2
    assert progress[-1].requests == 7  # 1 + 2 + 4


async def test_a_hook_that_raises_is_logged_once_with_its_traceback_and_the_call_goes_on(
    emulator: RunaiEmulator, registry_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("hook bug")

    seen: list[Event] = []
    hooks = [broken, seen.append]
    async with RegistryClient(emulator.base_url, token=emulator.token, event_hooks=hooks) as c:
        with caplog.at_level(logging.WARNING, logger="runai_registry_async"):
            assert (await c.get_registry(registry_id)).meta.name == "hub"
            await c.get_registry(registry_id)
    warnings = [r for r in caplog.records if "event hook" in r.getMessage()]
    assert len(warnings) == 4  # two events a call, two calls
    assert [bool(r.exc_info) for r in warnings] == [True, False, False, False]
    assert len(seen) == 4  # the next hook still hears every event


@pytest.mark.parametrize(
    ("hooks", "message"),
    [
        (print, "a list of functions, not a single one"),
        (["not callable"], "must be callable, not str"),
    ],
)
def test_hooks_that_cannot_work_are_refused_when_the_client_is_built(
    hooks: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RegistryClient("http://127.0.0.1:1", token="t", event_hooks=hooks)


def test_an_async_hook_is_refused_since_it_would_never_run() -> None:
    async def hook(event: Event) -> None:
        pass

    with pytest.raises(ValueError, match="called synchronously"):
        RegistryClient("http://127.0.0.1:1", token="t", event_hooks=[hook])


async def test_every_request_says_who_sends_it(emulator: RunaiEmulator, registry_id: str) -> None:
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    async with RegistryClient(emulator.base_url, auth=credentials) as client:
        await client.get_registry(registry_id)
    from runai_registry_async import __version__

    agents = {r.operation: r.user_agent for r in emulator.requests}
    assert set(agents) == {"token", "get_registry"}
    for agent in agents.values():
        assert agent is not None
        ours, theirs, python = agent.split(" ")
        assert ours == f"runai-registry-async/{__version__}"
        assert theirs == f"aiohttp/{aiohttp.__version__}"
        assert python.startswith("python/3.")


async def test_extra_headers_go_with_every_request_and_may_replace_the_user_agent(
    emulator: RunaiEmulator, registry_id: str, serve: Any
) -> None:
    seen: list[dict[str, str]] = []

    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"repositories": []})

    url = await serve(handler)
    headers = {"X-Team": "search", "User-Agent": "indexer/2"}
    async with RegistryClient(url, token="t", headers=headers) as client:
        await client.list_repositories("2185aa10-323c-4b1f-9c5f-7a8ef3c9a0d1")
    assert seen[0]["X-Team"] == "search"
    assert seen[0]["User-Agent"] == "indexer/2"
    assert seen[0]["Authorization"] == "Bearer t"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": "Bearer other"}, "may not set Authorization"),
        ({"authorization": "x"}, "may not set authorization"),
        ({"Host": "elsewhere"}, "may not set Host"),
        ({"X-Ok": "a\r\nInjected: 1"}, "control character"),
        ({"Bad Name": "x"}, "not a valid header name"),
        ({"X-Number": 1}, "strings to strings"),
        ([("X-A", "b")], "must be a mapping"),
    ],
)
def test_headers_that_would_override_the_client_or_break_a_request_are_refused(
    headers: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        RegistryClient("http://127.0.0.1:1", token="t", headers=headers)


async def test_a_request_that_times_out_is_reported_as_a_timeout(
    emulator: RunaiEmulator, registry_id: str
) -> None:
    events: list[Event] = []
    emulator.delay("get_registry", 2)
    async with client_with(emulator, events, retry=None, timeout=0.2) as client:
        with pytest.raises(Exception, match="timed out"):
            await client.get_registry(registry_id)
    (failed,) = [e for e in events if isinstance(e, RequestFailed)]
    assert failed.error == "timeout"
    assert 0.2 <= failed.elapsed < 2


async def test_a_secret_given_in_headers_never_shows_in_an_error(serve: Any) -> None:
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        # A hostile or careless server quoting what it was sent.
        return web.json_response(
            {"code": 403, "message": f"key {request.headers['X-Api-Key']} is not allowed"},
            status=403,
        )

    url = await serve(echo)
    headers = {"X-Api-Key": "k-SECRET-1234"}
    async with RegistryClient(url, token="t", headers=headers, retry=None) as client:
        assert "SECRET" not in repr(client._requester.transport.headers)
        with pytest.raises(Exception, match="is not allowed") as caught:
            await client.list_repositories("2185aa10-323c-4b1f-9c5f-7a8ef3c9a0d1")
    assert "SECRET" not in str(caught.value)
    assert "SECRET" not in repr(caught.value.__dict__)
