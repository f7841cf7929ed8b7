"""The retry loop, unit and against a real loopback server (the emulator)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import aiohttp
import aiohttp.abc
import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from runai_registry_async import (
    USE_CLIENT_DEFAULT,
    AssetCreationRequest,
    DeadlineExceeded,
    DecodeError,
    RegistryClient,
    RegistryCreationRequest,
    RegistrySpecRequest,
    RetryPolicy,
    Scope,
    ServiceUnavailableError,
    TransportError,
    UseClientDefault,
)
from runai_registry_async._errors import ApiError, RunaiError, api_error
from runai_registry_async._http._deadline import Deadline
from runai_registry_async._http._retry import (
    Retries,
    RetryBudget,
    parse_retry_after,
    with_retries,
)
from runai_registry_async.testing import RunaiEmulator

from .conftest import StoppedDeadline, start_server, tls_contexts

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_elapsed=10)


def test_retry_after_in_seconds_and_as_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(30)
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, now=now.timestamp()) == 0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


# --- the decisions alone (Retries: no I/O, no clock but the policy's deadline) -----------


def _failure(kind: str) -> RunaiError:
    if kind == "503":
        return api_error(503, b"{}", operation="GET /x")
    if kind == "400":
        return api_error(400, b"{}", operation="GET /x")
    if kind == "reset":
        return TransportError("GET /x: reset", operation="GET /x")
    return TransportError("GET /x: refused", operation="GET /x", connect_failed=True)


@given(
    attempts=st.integers(1, 6),
    base=st.floats(0, 2),
    cap=st.floats(0, 3),
    idempotent=st.booleans(),
    kinds=st.lists(st.sampled_from(["503", "400", "reset", "refused"]), min_size=6, max_size=6),
)
def test_retries_wait_within_the_policy_then_give_up_with_the_count(
    attempts: int, base: float, cap: float, idempotent: bool, kinds: list[str]
) -> None:
    policy = RetryPolicy(attempts=attempts, base_delay=base, max_delay=cap, max_elapsed=1e9)
    retries = Retries(policy, started=time.monotonic(), operation="GET /x", idempotent=idempotent)
    for tried, kind in enumerate(kinds, start=1):
        error = _failure(kind)
        retryable = (kind in ("503", "reset") and idempotent) or kind == "refused"
        if tried == attempts or not retryable:
            with pytest.raises(type(error)) as raised:
                retries.wait_after(error)
            assert raised.value is error
            assert raised.value.attempts == tried
            assert raised.value.__context__ is None
            return
        wait = retries.wait_after(error)
        assert 0 <= wait <= min(cap, base * 2 ** (tried - 1))
    raise AssertionError("more failures than the policy allows")


def test_another_requests_error_ends_the_call_as_it_is() -> None:
    # The token request's error, which its own loop counted and retried already.
    retries = Retries(FAST, started=time.monotonic(), operation="GET /x", idempotent=True)
    token_failure = api_error(503, b"{}", operation="POST /api/v1/token")
    token_failure.attempts = 3
    with pytest.raises(ServiceUnavailableError) as raised:
        retries.wait_after(token_failure)
    assert raised.value is token_failure
    assert raised.value.attempts == 3


def test_no_wait_starts_that_would_end_past_the_policys_deadline() -> None:
    policy = RetryPolicy(attempts=5, base_delay=10, max_delay=10, max_elapsed=0.5)
    retries = Retries(policy, started=time.monotonic(), operation="GET /x", idempotent=True)
    error = api_error(503, b"{}", operation="GET /x", retry_after="3")
    with pytest.raises(ServiceUnavailableError) as raised:
        retries.wait_after(error)
    assert raised.value.attempts == 1


def test_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(attempts=10, base_delay=1.0, max_delay=4.0)
    waits = [policy.backoff(n) for n in range(1, 9) for _ in range(50)]
    assert all(0 <= w <= 4.0 for w in waits)
    assert len(set(waits)) > 100  # jittered, not fixed steps
    assert max(policy.backoff(1) for _ in range(200)) <= 1.0


@pytest.mark.parametrize(
    "kwargs", [{"attempts": 0}, {"base_delay": -1}, {"max_delay": -1}, {"max_elapsed": 0}]
)
def test_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


async def test_503_twice_then_200(
    emulator: RunaiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="runai_registry_async")
    emulator.add_registry("r")
    emulator.fail_next("list_registries", 2, status=503)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        registries = await client.list_registries()
        assert client.retries == 2
    assert [r.meta.name for r in registries] == ["r"]
    assert [r.status for r in emulator.requests] == [503, 503, 200]
    retry_lines = [r.getMessage() for r in caplog.records if "before the next" in r.getMessage()]
    assert len(retry_lines) == 2
    # The operation, the attempt, the wait and the reason.
    assert re.fullmatch(
        r"GET /api/v1/asset/registries: attempt 1 of 3 failed, "
        r"waiting 0\.0\d\d s before the next: HTTP 503",
        retry_lines[0],
    ), retry_lines[0]
    assert "attempt 2 of 3 failed" in retry_lines[1]


async def test_429_retry_after_is_honoured(emulator: RunaiEmulator) -> None:
    emulator.fail_next("list_registries", 1, status=429, retry_after="1")
    policy = RetryPolicy(attempts=2, base_delay=0.01, max_delay=5)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=policy) as client:
        started = time.monotonic()
        assert await client.list_registries() == []
        waited = time.monotonic() - started
    assert 0.9 <= waited < 10  # honoured: the jittered wait alone would be under 0.01 s
    assert [r.status for r in emulator.requests] == [429, 200]


async def test_retry_after_is_capped_by_max_delay(emulator: RunaiEmulator) -> None:
    emulator.fail_next("list_registries", 1, status=503, retry_after="120")
    policy = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.1)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=policy) as client:
        started = time.monotonic()
        await client.list_registries()
        assert time.monotonic() - started < 2


async def test_deadline_stops_a_wait_that_would_end_too_late(emulator: RunaiEmulator) -> None:
    emulator.fail_next("list_registries", 5, status=503, retry_after="30")
    policy = RetryPolicy(attempts=5, base_delay=0.01, max_delay=60, max_elapsed=1)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(ServiceUnavailableError) as caught:
            await client.list_registries()
        assert time.monotonic() - started < 10  # the refused wait would take 30 s
    assert caught.value.attempts == 1


async def test_connection_reset_on_get_then_success(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.reset_next("get_registry", 1)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        assert (await client.get_registry(registry.id)).meta.name == "r"
    assert emulator.count("get_registry") == 2


@pytest.mark.parametrize("status", [502, 503, 504, 429])
async def test_post_is_not_retried_on_an_error_status(emulator: RunaiEmulator, status: int) -> None:
    emulator.fail_next("create_registry", 1, status=status)
    request = RegistryCreationRequest(
        AssetCreationRequest("new", Scope.TENANT), RegistrySpecRequest("https://r", "u", "p")
    )
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        with pytest.raises(ApiError) as caught:
            await client.create_registry(request)
    assert caught.value.status == status
    assert caught.value.attempts == 1
    assert emulator.count("create_registry") == 1


async def test_post_is_not_retried_after_a_reset(emulator: RunaiEmulator) -> None:
    emulator.reset_next("create_registry", 1)
    request = RegistryCreationRequest(
        AssetCreationRequest("new", Scope.TENANT), RegistrySpecRequest("https://r", "u", "p")
    )
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        with pytest.raises(TransportError):
            await client.create_registry(request)
    assert emulator.count("create_registry") == 1


async def test_attempts_exhausted_raise_the_last_error_with_the_count(
    emulator: RunaiEmulator,
) -> None:
    emulator.fail_next("list_registries", 10, status=503)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        with pytest.raises(ServiceUnavailableError) as caught:
            await client.list_registries()
    assert caught.value.attempts == 3
    assert "(after 3 attempts)" in str(caught.value)
    assert emulator.count("list_registries") == 3


async def test_put_and_delete_are_retried(emulator: RunaiEmulator) -> None:
    from runai_registry_async import AssetUpdateRequest, RegistryUpdateRequest

    registry = emulator.add_registry("r")
    emulator.fail_next("update_registry", 1, status=503)
    emulator.fail_next("delete_registry", 1, status=502)
    update = RegistryUpdateRequest(
        AssetUpdateRequest("r2"), RegistrySpecRequest("https://r", "u", "p")
    )
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        assert (await client.update_registry(registry.id, update)).meta.name == "r2"
        await client.delete_registry(registry.id)
    assert [(r.method, r.status) for r in emulator.requests] == [
        ("PUT", 503),
        ("PUT", 200),
        ("DELETE", 502),
        ("DELETE", 204),
    ]


async def test_not_found_is_not_retried(emulator: RunaiEmulator) -> None:
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        with pytest.raises(ApiError):
            await client.get_registry("5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60")
    assert emulator.count("get_registry") == 1


async def test_retry_none_sends_once(emulator: RunaiEmulator) -> None:
    emulator.fail_next("list_registries", 1, status=503)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.list_registries()
    assert emulator.count("list_registries") == 1


async def list_with(client: RegistryClient, retry: RetryPolicy | UseClientDefault | None) -> int:
    """How many requests one ``list_registries(retry=retry)`` took (it fails once first)."""
    sent = client.requests_sent
    await client.list_registries(retry=retry)
    return client.requests_sent - sent


async def test_a_call_s_retry_left_to_the_client_uses_the_client_s_policy(
    emulator: RunaiEmulator,
) -> None:
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        emulator.fail_next("list_registries", 1, status=503)
        assert await list_with(client, USE_CLIENT_DEFAULT) == 2
        emulator.fail_next("list_registries", 1, status=503)
        assert await list_with(client, ...) == 2  # type: ignore[arg-type] # 0.2's spelling
        emulator.fail_next("list_registries", 1, status=503)
        with pytest.raises(ServiceUnavailableError):
            await list_with(client, None)
    assert repr(USE_CLIENT_DEFAULT) == "USE_CLIENT_DEFAULT"


async def test_slow_handler_beyond_the_timeout_is_a_transport_error(
    emulator: RunaiEmulator,
) -> None:
    emulator.delay("list_registries", 2)
    async with RegistryClient(
        emulator.base_url, token=emulator.token, timeout=5, retry=None
    ) as client:
        started = time.monotonic()
        with pytest.raises(TransportError, match="timed out"):
            await client.list_registries(timeout=0.3)
        assert time.monotonic() - started < 3  # 10x the 0.3 s it takes; the default is 5 s
    await asyncio.sleep(0)


async def test_connection_refused_is_a_transport_error_and_retried() -> None:
    # Bind a port, close it: nothing listens there.
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with RegistryClient(f"http://127.0.0.1:{port}", token="t", retry=FAST) as client:
        with pytest.raises(TransportError, match="cannot connect") as caught:
            await client.list_registries()
    assert caught.value.connect_failed
    assert caught.value.attempts == 3
    assert caught.value.operation == "GET /api/v1/asset/registries"
    # The OS's own words, not aiohttp's wrapper.
    assert str(caught.value).startswith("GET /api/v1/asset/registries: cannot connect: [Errno")


# --- failures that trying again cannot fix ------------------------------------------------------


async def test_a_certificate_that_does_not_verify_is_not_retried() -> None:

    server_context, trusted = tls_contexts()  # a CA the client does not trust (yet)
    handshakes = 0

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"entries": []})

    base, runner = await start_server(handler, ssl_context=server_context)
    original = server_context.wrap_bio

    def counting_wrap_bio(*args: Any, **kwargs: Any) -> Any:
        nonlocal handshakes
        handshakes += 1
        return original(*args, **kwargs)

    server_context.wrap_bio = counting_wrap_bio  # type: ignore[method-assign]
    try:
        async with RegistryClient(base, token="t", retry=FAST) as client:
            with pytest.raises(TransportError, match="certificate") as caught:
                await client.list_registries()
        assert caught.value.retryable is False
        assert caught.value.attempts == 1
        assert caught.value.connect_failed is True  # nothing was sent
        assert caught.value.operation == "GET /api/v1/asset/registries"
        assert str(caught.value).startswith(
            "GET /api/v1/asset/registries: TLS certificate not accepted: "
        )
        assert handshakes == 1
        # With the CA trusted, the same server answers.
        async with RegistryClient(base, token="t", ssl=trusted) as client:
            assert await client.list_registries() == []
    finally:
        await runner.cleanup()


class ScriptedResolver(aiohttp.abc.AbstractResolver):
    """A resolver that fails with the given resolver errors, then resolves to loopback."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> Any:
        self.calls += 1
        if self.errors:
            code = self.errors.pop(0)
            raise OSError(code, "scripted") if code > 0 else socket.gaierror(code, "scripted")
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        pass


@contextlib.asynccontextmanager
async def resolved_by(
    resolver: ScriptedResolver, emulator: RunaiEmulator
) -> AsyncIterator[RegistryClient]:
    """A client of the emulator under the name registry.test, which ``resolver`` resolves."""
    port = emulator.base_url.rsplit(":", 1)[1]
    connector = aiohttp.TCPConnector(resolver=resolver, use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield RegistryClient(
            f"http://registry.test:{port}",
            token=emulator.token,
            session=session,
            retry=FAST,
            allow_insecure_http=True,
        )


@pytest.mark.parametrize(
    ("error", "retried"),
    [(socket.EAI_NONAME, False), (socket.EAI_AGAIN, True)],
)
async def test_a_name_that_does_not_exist_is_not_retried_but_a_temporary_failure_is(
    emulator: RunaiEmulator, error: int, retried: bool
) -> None:
    resolver = ScriptedResolver(error)
    async with resolved_by(resolver, emulator) as client:
        if retried:
            assert await client.list_registries() == []
            assert resolver.calls == 2
        else:
            with pytest.raises(TransportError, match=r"cannot resolve registry\.test") as caught:
                await client.list_registries()
            assert caught.value.retryable is False
            assert caught.value.connect_failed is True
            assert caught.value.operation == "GET /api/v1/asset/registries"
            assert str(caught.value).startswith(
                "GET /api/v1/asset/registries: cannot resolve registry.test: "
            )
            assert caught.value.attempts == 1
            assert resolver.calls == 1


@pytest.mark.parametrize("value", ["\u00b2", "1\u0662", "-3", "9" * 400, "Fri, 99 Foo 9999"])
async def test_an_unparsable_retry_after_is_ignored(emulator: RunaiEmulator, value: str) -> None:
    emulator.fail_next("list_registries", 1, status=503, retry_after=value)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        assert await client.list_registries() == []
    assert emulator.count("list_registries") == 2


# --- promises a regression could quietly break --------------------------------------------------


def test_the_backoff_ceiling_doubles_per_attempt_up_to_max_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import random

    # The top of the jitter range is the ceiling itself; no timing involved.
    monkeypatch.setattr(random, "uniform", lambda low, high: high)
    policy = RetryPolicy(attempts=10, base_delay=0.25, max_delay=3.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [0.25, 0.5, 1.0, 2.0, 3.0, 3.0]
    monkeypatch.setattr(random, "uniform", lambda low, high: low)
    assert policy.backoff(5) == 0  # full jitter: anywhere from zero


async def test_a_504_is_retried(emulator: RunaiEmulator) -> None:
    emulator.fail_next("list_registries", 1, status=504)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        assert await client.list_registries() == []
    assert [r.status for r in emulator.requests] == [504, 200]


async def test_a_timed_out_attempt_is_retried(serve: Any) -> None:
    from aiohttp import web

    arrived = 0
    hang = asyncio.Event()

    async def first_hangs(request: web.Request) -> web.Response:
        nonlocal arrived
        arrived += 1
        if arrived == 1:
            await hang.wait()
        return web.json_response({"entries": []})

    base = await serve(first_hangs)
    async with RegistryClient(base, token="t", retry=FAST, timeout=0.3) as client:
        assert await client.list_registries() == []
    assert arrived == 2


async def test_create_is_retried_when_the_connection_was_never_opened(
    emulator: RunaiEmulator,
) -> None:
    resolver = ScriptedResolver(socket.EAI_AGAIN)  # no connection: the server saw nothing
    request = RegistryCreationRequest(
        AssetCreationRequest("new", Scope.TENANT), RegistrySpecRequest("https://r", "u", "p")
    )
    async with resolved_by(resolver, emulator) as client:
        created = await client.create_registry(request)
    assert created.meta.name == "new"
    assert resolver.calls == 2
    assert emulator.count("create_registry") == 1


# --- what the loop says, and its boundaries (mutation testing found these loose) ---------------


def test_deadline_errors_count_attempts_and_name_the_last_failure() -> None:
    deadline = Deadline(2)
    last = TransportError("GET /x: reset", operation="GET /x")
    one = deadline.exceeded("GET /x", 1, None)
    three = deadline.exceeded("GET /x", 3, last)
    assert str(one) == "GET /x: deadline of 2 s passed after 1 attempt"
    assert str(three) == (
        "GET /x: deadline of 2 s passed after 3 attempts; the last failed with: GET /x: reset"
    )
    assert (one.operation, one.attempts, one.last_error) == ("GET /x", 1, None)
    assert (three.operation, three.attempts, three.last_error) == ("GET /x", 3, last)
    spent = deadline.spent("GET /y")
    assert spent.operation == "GET /y"
    assert str(spent) == "GET /y: deadline of 2 s passed before the next attempt could start"


def test_an_http_date_without_a_zone_is_read_as_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    # A POSIX rule, which needs no time-zone database: a zone name that the machine
    # lacks would silently fall back to UTC, and the test would check nothing.
    monkeypatch.setenv("TZ", "EST+5EDT,M3.2.0/2,M11.1.0/2")
    time.tzset()
    try:
        assert time.localtime(0).tm_gmtoff == -5 * 3600, "the local zone did not take"
        at = datetime(2030, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
        naive = "Tue, 01 Jan 2030 12:01:00"  # no zone: an HTTP-date is UTC
        assert parse_retry_after(naive, now=at.timestamp()) == 60.0
    finally:
        monkeypatch.undo()
        time.tzset()


def test_an_http_date_is_measured_from_now_by_default() -> None:
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=120), usegmt=True)
    wait = parse_retry_after(soon)
    assert wait is not None
    assert 60 < wait <= 120  # whole seconds in the header; generous for a slow machine


async def test_a_body_that_does_not_decode_is_not_retried(serve: Any) -> None:
    calls = 0

    async def broken(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        return web.Response(body=b"not json", content_type="application/json")

    base = await serve(broken)
    async with RegistryClient(base, token="t", retry=FAST) as client:
        with pytest.raises(DecodeError):
            await client.list_registries()
    assert calls == 1


async def test_a_token_refresh_is_not_counted_as_an_attempt(
    serve: Any, caplog: pytest.LogCaptureFixture
) -> None:
    statuses = [401, 503, 503, 503, 200]
    seen = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        status = statuses.pop(0)
        if status != 200:
            return web.json_response({"code": status, "message": "no"}, status=status)
        return web.json_response({"entries": []})

    fetched = 0

    async def vault() -> str:
        nonlocal fetched
        fetched += 1
        return f"token-{fetched}"

    base = await serve(handler)
    caplog.set_level(logging.DEBUG, logger="runai_registry_async")
    async with RegistryClient(base, auth=vault, retry=FAST) as client:
        with pytest.raises(ServiceUnavailableError) as caught:
            await client.list_registries()
    # The refreshed try is free: three attempts after it, four requests in all.
    assert caught.value.attempts == 3
    assert seen == ["Bearer token-1", "Bearer token-2", "Bearer token-2", "Bearer token-2"]
    messages = [r.getMessage() for r in caplog.records]
    assert (
        "GET /api/v1/asset/registries: token rejected, retrying once with a fresh one" in messages
    )


async def test_the_retry_log_line_gives_the_reason_without_the_operation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failures: list[Exception] = [
        TransportError("GET /x: cannot connect: refused", operation="GET /x"),
        ApiError(503, 503, "busy", operation="GET /x", retry_after="0"),
    ]

    async def send() -> str:
        if failures:
            raise failures.pop(0)
        return "ok"

    caplog.set_level(logging.DEBUG, logger="runai_registry_async")
    assert await with_retries(send, FAST, operation="GET /x", idempotent=True) == "ok"
    lines = [r.getMessage() for r in caplog.records]
    assert re.fullmatch(
        r"GET /x: attempt 1 of 3 failed, waiting \d\.\d{3} s before the next: "
        r"cannot connect: refused",
        lines[0],
    )
    assert re.fullmatch(
        r"GET /x: attempt 2 of 3 failed, waiting 0\.000 s before the next: "
        r"HTTP 503, Retry-After 0",
        lines[1],
    )


async def test_exactly_no_time_left_ends_the_call_even_on_a_final_error() -> None:
    not_found = ApiError(404, 404, "no such registry", operation="GET /x")

    async def send() -> None:
        raise not_found

    with pytest.raises(DeadlineExceeded) as caught:
        await with_retries(
            send, FAST, operation="GET /x", idempotent=True, deadline=StoppedDeadline(3, 0.0)
        )
    assert caught.value.operation == "GET /x"
    assert caught.value.last_error is not_found
    assert str(caught.value).startswith("GET /x: deadline of 3 s passed after 1 attempt;")


async def test_a_wait_exactly_as_long_as_the_time_left_is_not_started() -> None:
    sends = 0

    async def send() -> None:
        nonlocal sends
        sends += 1
        raise ApiError(503, 503, "busy", operation="GET /x", retry_after="1")

    patient = RetryPolicy(attempts=3, base_delay=0.01, max_delay=10)  # the hint is used whole
    with pytest.raises(DeadlineExceeded) as caught:
        await with_retries(
            send, patient, operation="GET /x", idempotent=True, deadline=StoppedDeadline(3, 1.0)
        )
    assert sends == 1
    assert caught.value.operation == "GET /x"
    assert str(caught.value).startswith("GET /x: deadline of 3 s passed after 1 attempt;")


async def test_a_deadline_spent_before_the_first_try_has_no_last_error() -> None:
    deadline = StoppedDeadline(3, 0.0)

    async def send() -> None:
        raise deadline.spent("GET /x")

    with pytest.raises(DeadlineExceeded) as caught:
        await with_retries(send, FAST, operation="GET /x", idempotent=True, deadline=deadline)
    assert caught.value.last_error is None
    assert caught.value.attempts == 1


async def test_an_inner_loop_s_deadline_error_keeps_its_own_count_and_cause() -> None:
    # A token fetch runs its own retry loop; its DeadlineExceeded arrives finished.
    inner = DeadlineExceeded("token request: deadline", operation="token request", attempts=2)
    errors: list[Exception] = [TransportError("GET /x: reset", operation="GET /x"), inner]

    async def send() -> None:
        raise errors.pop(0)

    with pytest.raises(DeadlineExceeded) as caught:
        await with_retries(send, FAST, operation="GET /x", idempotent=True, deadline=Deadline(30))
    assert caught.value is inner
    assert (inner.attempts, inner.last_error) == (2, None)


async def test_a_timeout_and_a_dropped_connection_say_so(serve: Any) -> None:
    from aiohttp import web

    async def hangs_then_drops(request: web.Request) -> web.Response:
        if request.query.get("name") == "hang":
            await asyncio.Event().wait()
        assert request.transport is not None
        request.transport.abort()
        return web.Response()

    base = await serve(hangs_then_drops)
    async with RegistryClient(base, token="t", retry=None, timeout=0.3) as client:
        with pytest.raises(TransportError) as timed_out:
            await client.list_registries(name="hang")
        with pytest.raises(TransportError) as dropped:
            await client.list_registries()
    operation = "GET /api/v1/asset/registries"
    assert (timed_out.value.operation, str(timed_out.value)) == (
        operation,
        f"{operation}: timed out",
    )
    assert dropped.value.operation == operation
    assert str(dropped.value) == f"{operation}: ServerDisconnectedError: Server disconnected"


# --- the retry budget --------------------------------------------------------------------


def test_the_budget_pays_for_retries_until_spent_and_successes_refill_it() -> None:
    budget = RetryBudget(20, retry_cost=5, timeout_cost=10, refund=1)
    throttled = api_error(429, b"", operation="op")
    dropped = TransportError("op: reset", operation="op")
    assert [budget.spend(throttled) for _ in range(5)] == [5, 5, 5, 5, 0]
    budget.succeeded(0)
    assert budget.available == 1
    budget.succeeded(10)  # a call that retried gives back what it spent
    assert budget.available == 11
    assert budget.spend(dropped) == 10  # a timeout or a reset costs more
    for _ in range(100):
        budget.succeeded(0)
    assert budget.available == 20  # never above the capacity


async def test_a_server_refusing_for_ever_stops_being_retried(serve: Any) -> None:
    # 503 for ever, no Retry-After: each call retried 4 times, for as long as it took.
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response({"code": 503, "message": "down"}, status=503)

    base = await serve(handler)
    policy = RetryPolicy(attempts=4, base_delay=0.0001, max_delay=0.0001)
    async with RegistryClient(base, token="t", retry=policy) as client:
        errors = []
        for _ in range(60):
            with pytest.raises(ServiceUnavailableError) as caught:
                await client.list_registries()
            errors.append(caught.value)
    # 500 / 5 = 100 retries paid for; then every call fails at its first answer.
    assert len(seen) == 60 + 100
    assert errors[-1].attempts == 1
    assert "not retried: the client's retry budget is spent" in str(errors[-1])
    assert "retry budget" not in str(errors[0])


def test_the_old_name_of_max_elapsed_still_works_and_warns() -> None:
    with pytest.warns(DeprecationWarning, match="max_elapsed"):
        policy = RetryPolicy(deadline=5)
    assert policy.max_elapsed == 5
    with pytest.warns(DeprecationWarning, match="max_elapsed"):
        assert policy.deadline == 5
