"""Tokens: static, client credentials (v1 JSON and v2 form), callables; refresh rules."""

from __future__ import annotations

import asyncio
import gc
import re
from types import SimpleNamespace
from typing import Any, Literal

import aiohttp
import orjson
import pytest
from aiohttp import web

from runai_registry_async import (
    ClientCredentials,
    DecodeError,
    ForbiddenError,
    RegistryClient,
    RetryPolicy,
    ServiceUnavailableError,
    TransportError,
    UnauthorizedError,
)
from runai_registry_async._http import _auth
from runai_registry_async._http._auth import MIN_TOKEN_REUSE, TokenCache, read_token
from runai_registry_async._secrets import Secret
from runai_registry_async.testing import RunaiEmulator

from .conftest import FakeClock, breaks_off_after, eventually, within


@pytest.mark.parametrize("endpoint", ["v1", "v2"])
async def test_client_credentials_get_and_reuse_a_token(
    emulator: RunaiEmulator, endpoint: str
) -> None:
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret, endpoint=endpoint)  # type: ignore[arg-type]
    async with RegistryClient(emulator.base_url, auth=credentials) as client:
        for _ in range(3):
            await client.list_registries()
    assert emulator.tokens_issued == 1
    token_requests = [r for r in emulator.requests if r.operation == "token"]
    assert [r.path for r in token_requests] == [f"/api/{endpoint}/token"]
    assert all(r.authorized for r in emulator.requests if r.operation != "token")


async def test_token_expiry_mid_run_refreshes_once(emulator: RunaiEmulator) -> None:
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    async with RegistryClient(emulator.base_url, auth=credentials, retry=None) as client:
        await client.list_registries()
        emulator.expire_tokens()
        await client.list_registries()
    assert emulator.tokens_issued == 2
    statuses = [(r.operation, r.status) for r in emulator.requests]
    assert statuses == [
        ("token", 200),
        ("list_registries", 200),
        ("list_registries", 401),
        ("token", 200),
        ("list_registries", 200),
    ]


async def test_a_second_401_after_refresh_is_raised(emulator: RunaiEmulator) -> None:
    calls = 0

    async def stale_token() -> str:
        nonlocal calls
        calls += 1
        return "never-valid"

    async with RegistryClient(emulator.base_url, auth=stale_token) as client:
        with pytest.raises(UnauthorizedError):
            await client.list_registries()
    assert calls == 2
    assert emulator.count("list_registries") == 2


async def test_static_token_401_is_not_retried(emulator: RunaiEmulator) -> None:
    async with RegistryClient(emulator.base_url, token="wrong") as client:
        with pytest.raises(UnauthorizedError) as caught:
            await client.list_registries()
    assert caught.value.attempts == 1
    assert emulator.count("list_registries") == 1


async def test_50_concurrent_calls_with_an_expired_token_make_one_token_request(
    emulator: RunaiEmulator,
) -> None:
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    async with RegistryClient(emulator.base_url, auth=credentials) as client:
        await client.list_registries()
        emulator.expire_tokens()
        results = await asyncio.gather(*(client.list_registries() for _ in range(50)))
    assert len(results) == 50
    assert emulator.tokens_issued == 2


async def test_50_concurrent_calls_past_the_refresh_point_make_one_token_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(_auth, "time", SimpleNamespace(monotonic=clock))  # the tokens' clock
    async with RunaiEmulator(token_lifetime=3600) as emulator:
        credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
        async with RegistryClient(emulator.base_url, auth=credentials) as client:
            await client.list_registries()
            clock.now += 3600 - 30  # the refresh margin: 30 s before expiry
            await asyncio.gather(*(client.list_registries() for _ in range(50)))
        assert emulator.tokens_issued == 2
        assert all(r.status == 200 for r in emulator.requests)


async def test_callable_auth_is_single_flight_and_does_not_block_the_loop(
    emulator: RunaiEmulator,
) -> None:
    calls = 0
    release = asyncio.Event()
    ticks = 0

    async def from_vault() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return emulator.token

    async def ticker() -> None:
        nonlocal ticks
        while not release.is_set():
            ticks += 1
            await asyncio.sleep(0)

    async with RegistryClient(emulator.base_url, auth=from_vault) as client:
        requests = asyncio.gather(*(client.list_registries() for _ in range(10)))
        spinning = asyncio.create_task(ticker())
        for _ in range(20):
            await asyncio.sleep(0)
        assert ticks > 5  # the loop runs while the token is awaited
        release.set()
        await requests
        await spinning
    assert calls == 1  # ten requests, one fetch
    assert len(emulator.requests) == 10
    assert all(r.authorized for r in emulator.requests)


async def test_token_endpoint_errors_raise_the_status_class(emulator: RunaiEmulator) -> None:
    emulator.fail_next("token", 1, status=403)
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    async with RegistryClient(emulator.base_url, auth=credentials, retry=None) as client:
        with pytest.raises(Exception, match="POST /api/v1/token: HTTP 403") as caught:
            await client.list_registries()
    assert caught.value.status == 403  # type: ignore[attr-defined]
    assert isinstance(caught.value, ForbiddenError)


def test_client_credentials_are_checked() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        ClientCredentials("", "secret")
    with pytest.raises(ValueError, match="endpoint"):
        ClientCredentials("a", "b", endpoint="v3")  # type: ignore[arg-type]


def counting_fetch(lifetime: float | None) -> tuple[Any, list[int]]:
    fetched: list[int] = []

    async def fetch() -> tuple[Secret[str], float | None]:
        fetched.append(1)
        return Secret(f"t{len(fetched)}"), lifetime

    return fetch, fetched


@pytest.mark.parametrize(
    ("lifetime", "reused_for"),
    [
        (3600.0, 3600.0 - 30),  # a 30 s margin
        (100.0, 90.0),  # a tenth of a short lifetime
        (20.0, 18.0),  # a tenth: still above the floor
        (1.0, MIN_TOKEN_REUSE),  # clamped up: not a token request per call
        (0.0, MIN_TOKEN_REUSE),
    ],
)
async def test_token_refresh_point(lifetime: float, reused_for: float) -> None:
    fetch, fetched = counting_fetch(lifetime)
    clock = FakeClock()
    cache = TokenCache(fetch, None, clock=clock)
    first = await cache.get(1.0)
    assert first is not None
    assert first.value == "t1"
    clock.now += reused_for - 0.001
    assert (await cache.get(1.0)).value == "t1"  # type: ignore[union-attr]
    clock.now += 0.001
    assert (await cache.get(1.0)).value == "t2"  # type: ignore[union-attr]
    assert len(fetched) == 2


async def test_rejecting_a_token_forgets_only_that_token() -> None:
    fetch, _ = counting_fetch(None)
    cache = TokenCache(fetch, None, clock=FakeClock())
    t1 = await cache.get(1.0)
    assert cache.reject(t1) is True
    t2 = await cache.get(1.0)
    assert t2 is not None
    assert t2.value == "t2"
    assert cache.reject(t1) is True  # an old token: the current one stays
    assert await cache.get(1.0) is t2
    assert "t2" not in repr(cache)
    assert "t2" not in repr(t2)


async def test_the_cache_s_repr_says_whether_it_holds_a_token_never_which() -> None:
    fetch, _ = counting_fetch(None)
    cache = TokenCache(fetch, None, clock=FakeClock())
    assert repr(cache) == "<TokenCache refreshable=True has_token=False>"
    token = await cache.get(1.0)
    assert repr(cache) == "<TokenCache refreshable=True has_token=True>"
    cache.reject(token)
    assert repr(cache) == "<TokenCache refreshable=True has_token=False>"


# --- the token request under failure --------------------------------------------------------


async def test_the_token_wait_is_bounded_by_the_callers_timeout(emulator: RunaiEmulator) -> None:
    emulator.delay("token", 30)
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    async with RegistryClient(emulator.base_url, auth=credentials, retry=None) as client:
        started = asyncio.get_running_loop().time()
        with pytest.raises(TransportError, match="waiting for a token"):
            await client.list_registries(timeout=0.5)
        # 10x the expected 0.5 s; the old code waited for the full token request.
        assert asyncio.get_running_loop().time() - started < 5


async def test_waiters_share_one_hung_fetch_and_all_give_up_together(
    emulator: RunaiEmulator,
) -> None:
    emulator.delay("token", 30)
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    loop = asyncio.get_running_loop()

    async def gave_up(client: RegistryClient) -> float:
        with pytest.raises(TransportError, match="waiting for a token"):
            await client.list_registries(timeout=0.5)
        return loop.time()

    async with RegistryClient(emulator.base_url, auth=credentials, retry=None) as client:
        ends = await asyncio.gather(*(gave_up(client) for _ in range(8)))
    assert emulator.count("token") == 1
    # The waits overlapped: all gave up together. One after another, each would give
    # up 0.5 s after the one before it, 3.5 s from the first to the last.
    assert max(ends) - min(ends) < 1.5


async def test_a_failed_fetch_is_shared_by_every_waiter(emulator: RunaiEmulator) -> None:
    emulator.fail_next("token", 100, status=503)
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)
    async with RegistryClient(emulator.base_url, auth=credentials, retry=retry) as client:
        results = await asyncio.gather(
            *(client.list_registries() for _ in range(20)), return_exceptions=True
        )
    assert all(isinstance(r, ServiceUnavailableError) for r in results)
    assert {r.operation for r in results} == {"POST /api/v1/token"}  # type: ignore[union-attr]
    # One sequence of attempts for all 20 callers (the old code made 40 requests).
    assert emulator.count("token") == 3
    assert {r.attempts for r in results} == {3}  # type: ignore[union-attr]
    assert emulator.count("list_registries") == 0


async def test_after_a_failed_fetch_the_next_call_fetches_again(emulator: RunaiEmulator) -> None:
    emulator.fail_next("token", 1, status=503)
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    async with RegistryClient(emulator.base_url, auth=credentials, retry=None) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.list_registries()
        assert await client.list_registries() == []
    assert emulator.count("token") == 2


async def test_an_expires_in_of_zero_does_not_cost_a_token_request_per_call() -> None:
    async with RunaiEmulator(token_lifetime=0) as emulator:
        credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
        async with RegistryClient(emulator.base_url, auth=credentials) as client:
            for _ in range(10):
                await client.list_registries()
        assert emulator.tokens_issued == 1


@pytest.mark.parametrize("bad", ["tok\r\nX-Evil: 1", "tok\nen", "tok\x00en", "tok\x7f"])
async def test_a_token_with_control_characters_is_refused_before_any_request(
    emulator: RunaiEmulator, bad: str
) -> None:
    bad = bad.encode().decode("unicode_escape")
    with pytest.raises(ValueError, match="control character") as caught:
        RegistryClient(emulator.base_url, token=bad)
    assert bad not in str(caught.value)

    async def from_vault() -> str:
        return bad

    async with RegistryClient(emulator.base_url, auth=from_vault, retry=None) as client:
        with pytest.raises(ValueError, match="control character") as caught:
            await client.list_registries()
    assert bad not in str(caught.value)
    assert emulator.requests == []


async def test_v1_sends_the_spec_s_exact_key_names(serve: Any) -> None:
    received: list[Any] = []

    async def token_endpoint(request: web.Request) -> web.Response:
        assert request.headers.get("Accept") == "application/json"
        if request.method == "POST":
            received.append((request.content_type, orjson.loads(await request.read())))
        # The token's answer, and (no matter) the list's.
        return web.json_response({"accessToken": "t0k-1234567890", "expiresIn": 60, "entries": []})

    base_url = await serve(token_endpoint)
    credentials = ClientCredentials("app-id", "app-SECRET-1")
    async with RegistryClient(base_url, auth=credentials) as client:
        await client.list_registries()
    assert received == [
        (
            "application/json",
            {
                "grantType": "client_credentials",
                "clientID": "app-id",
                "clientSecret": "app-SECRET-1",
            },
        )
    ]


async def test_an_oauth2_error_names_its_code_and_nothing_the_server_wrote(serve: Any) -> None:
    async def token_endpoint(request: web.Request) -> web.Response:
        body = {"error": "invalid_client", "error_description": "bad secret v2-SECRET-9"}
        return web.json_response(body, status=401)

    base_url = await serve(token_endpoint)
    credentials = ClientCredentials("app-id", "v2-SECRET-9", endpoint="v2")
    async with RegistryClient(base_url, auth=credentials, retry=None) as client:
        with pytest.raises(UnauthorizedError) as caught:
            await client.list_registries()
    assert str(caught.value) == "POST /api/v2/token: HTTP 401: OAuth2 error invalid_client"
    assert "SECRET" not in repr(caught.value.__dict__)


@pytest.mark.parametrize("endpoint", ["v1", "v2"])
async def test_both_endpoints_read_the_lifetime_and_refresh_before_it_ends(
    endpoint: Literal["v1", "v2"], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(_auth, "time", SimpleNamespace(monotonic=clock))  # the tokens' clock
    async with RunaiEmulator(token_lifetime=600) as emulator:
        credentials = ClientCredentials(
            emulator.client_id, emulator.client_secret, endpoint=endpoint
        )
        async with RegistryClient(emulator.base_url, auth=credentials) as client:
            await client.list_registries()
            clock.now += 500  # well inside the lifetime: the same token
            await client.list_registries()
            assert emulator.tokens_issued == 1
            clock.now += 90  # within the refresh margin of the 600 s lifetime
            await client.list_registries()
        assert emulator.tokens_issued == 2


async def test_a_static_token_is_sent_on_every_request(emulator: RunaiEmulator) -> None:
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        await client.list_registries()
        await client.list_registries()
    assert [r.authorized for r in emulator.requests] == [True, True]
    assert emulator.tokens_issued == 0


def test_client_credentials_check_both_parts_and_hide_the_secret() -> None:
    for client_id, secret in (("id", 5), (5, "secret")):
        with pytest.raises(ValueError, match=r"^client_id and client_secret must be strings$"):
            ClientCredentials(client_id, secret)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^client_id and client_secret must not be empty$"):
        ClientCredentials("id", "")
    shown = repr(ClientCredentials("app", "s3cr3t"))
    assert shown == "ClientCredentials(client_id='app', client_secret='***', endpoint='v1')"


async def test_a_token_from_a_callable_is_checked_before_it_is_sent(
    emulator: RunaiEmulator,
) -> None:
    async def injects_a_header() -> str:
        return "tok\r\nX-Injected: 1"

    async with RegistryClient(emulator.base_url, auth=injects_a_header, retry=None) as client:
        with pytest.raises(ValueError, match="control character"):
            await client.list_registries()
    assert emulator.requests == []


# --- what a token answer, a cache and a fetch say ----------------------------------------------


@pytest.mark.parametrize(
    ("answer", "lifetime"),
    [
        (b'{"accessToken": "t", "expiresIn": 60}', 60.0),
        (b'{"accessToken": "t", "expiresIn": 2.5}', 2.5),
        (b'{"accessToken": "t", "expiresIn": true}', None),  # a bool is not a lifetime
        (b'{"accessToken": "t", "expiresIn": "60"}', None),
        (b'{"accessToken": "t"}', None),
    ],
)
def test_a_token_answer_gives_its_lifetime_only_as_a_number(
    answer: bytes, lifetime: float | None
) -> None:
    found = read_token(Secret(answer), "accessToken", "expiresIn")
    assert not isinstance(found, str)
    assert (found[0].value, found[1]) == ("t", lifetime)


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (b"<html>not json</html>", "a 21-byte body that is not JSON"),
        (b'["t"]', "JSON list, not an object"),
        (b'{"token": "t"}', "a JSON object with keys 'token'"),
        (b'{"accessToken": 5}', "a JSON object with keys 'accessToken'"),
    ],
)
def test_an_unusable_token_answer_says_what_is_wrong_by_key_names(
    answer: bytes, problem: str
) -> None:
    found = read_token(Secret(answer), "accessToken", "expiresIn")
    assert found == f"no usable accessToken in the answer, {problem}"


async def test_an_unusable_token_answer_is_a_decode_error_of_the_token_request(
    serve: Any,
) -> None:
    async def token_endpoint(request: web.Request) -> web.Response:
        return web.json_response({"token": "t0k-SECRET"})

    base_url = await serve(token_endpoint)
    async with RegistryClient(base_url, auth=ClientCredentials("app", "s"), retry=None) as client:
        with pytest.raises(DecodeError) as caught:
            await client.list_registries()
    assert caught.value.operation == "POST /api/v1/token"
    assert str(caught.value) == (
        "POST /api/v1/token: no usable accessToken in the answer, a JSON object with keys 'token'"
    )


async def test_a_token_request_is_bounded_by_its_own_timeout(emulator: RunaiEmulator) -> None:
    emulator.delay("token", 120)
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    async with RegistryClient(emulator.base_url, auth=credentials, retry=None) as client:
        with pytest.raises(TransportError) as caught:
            fetch = credentials._fetch(client._requester.transport, 0.5)
            await within(30, fetch, what="the token request never timed out")
    assert str(caught.value) == "POST /api/v1/token: timed out"


async def test_the_fetch_a_waiter_gave_up_on_still_ends_by_the_client_timeout(
    emulator: RunaiEmulator,
) -> None:
    emulator.delay("token", 120)
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    async with RegistryClient(
        emulator.base_url, auth=credentials, retry=None, timeout=0.5
    ) as client:
        with pytest.raises(TransportError) as caught:
            await client.list_registries()
        assert caught.value.operation == "token"
        assert str(caught.value) == "timed out after 0.5 s waiting for a token"
        # The fetch goes on for other waiters, but no longer than the client's timeout:
        # the token request's connection is closed long before the 120 s answer.
        await eventually(lambda: emulator.disconnects == 1, timeout=30)


async def test_a_fetch_that_fails_after_its_waiters_left_logs_nothing(
    emulator: RunaiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()
    failed = asyncio.Event()

    async def slow_vault() -> str:
        await release.wait()
        failed.set()
        raise RuntimeError("vault is sealed")

    async with RegistryClient(emulator.base_url, auth=slow_vault, retry=None) as client:
        with pytest.raises(TransportError, match="waiting for a token"):
            await client.list_registries(timeout=0.2)
        release.set()  # the fetch fails now, with nobody waiting for it
        await failed.wait()
        await asyncio.sleep(0)  # let the fetch's task finish
    gc.collect()  # an unretrieved exception is reported when its task is collected
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


def test_auth_argument_errors_say_exactly_what_is_wrong() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"token": "t", "auth": ClientCredentials("a", "b")},
            "pass either token= or auth=, not both",
        ),
        ({"token": ""}, "token must be a non-empty string, not str"),
        (
            {"token": "a\nb"},
            "token contains a control character (CR, LF, NUL...) and cannot be sent in a header",
        ),
        ({"auth": "a token"}, "auth must be ClientCredentials or an async callable, not str"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            RegistryClient("https://x.example.com", **kwargs)


def test_a_client_without_credentials_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="no credentials: pass token= or auth="):
        RegistryClient("http://127.0.0.1:1")


async def test_with_a_borrowed_session_no_credentials_are_needed_nor_sent(
    emulator: RunaiEmulator,
) -> None:
    emulator.require_auth = False
    async with (
        aiohttp.ClientSession() as session,
        RegistryClient(emulator.base_url, session=session) as client,
    ):
        assert await client.list_registries() == []
    assert [r.authorized for r in emulator.requests] == [False]


async def test_a_token_answer_that_breaks_off_names_the_token_request(serve: Any) -> None:
    base_url = await serve(breaks_off_after(200, b'{"accessToken": "t0k-SECRET'))
    async with RegistryClient(base_url, auth=ClientCredentials("app", "s"), retry=None) as client:
        with pytest.raises(TransportError) as caught:
            await client.list_registries()
    assert caught.value.operation == "POST /api/v1/token"
    assert str(caught.value).startswith("POST /api/v1/token: ClientPayloadError: ")
    assert "SECRET" not in str(caught.value)
