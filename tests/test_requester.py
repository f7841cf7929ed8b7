"""The request pipeline's stages, through a real client against a loopback server."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web

from runai_registry_async import RegistryClient, RetryPolicy, ServiceUnavailableError
from runai_registry_async._http._requester import is_throttle
from runai_registry_async.testing import RunaiEmulator

FAST = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.01)


@pytest.mark.parametrize(
    ("status", "retry_after", "throttle"),
    [(429, None, True), (429, "1", True), (503, "2", True), (503, None, False), (500, "1", False)],
)
def test_only_a_429_or_a_503_with_retry_after_says_slow_down(
    status: int, retry_after: str | None, throttle: bool
) -> None:
    assert is_throttle(status, retry_after) is throttle


async def test_faults_are_retried_without_slowing_the_client(emulator: RunaiEmulator) -> None:
    # A 503 without Retry-After (a flaky upstream) is not throttling.
    emulator.fail_next("list_registries", 2, status=503)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        assert await client.list_registries() == []
        assert client.retries == 2
        assert client.throttled == 0
        assert client._requester._pacer.limited is False


async def test_a_throttle_slows_the_whole_client(emulator: RunaiEmulator) -> None:
    emulator.fail_next("list_registries", 1, status=429, retry_after="1")
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        with pytest.raises(Exception, match="HTTP 429"):
            await client.list_registries()
        assert client.throttled == 1
        assert client._requester._pacer.limited is True


async def test_a_rejected_token_is_replaced_once_and_the_request_sent_again(
    serve: Any,
) -> None:
    tokens = iter(["first", "second", "third"])
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        if request.path.endswith("/token"):
            return web.json_response({"accessToken": next(tokens), "expiresIn": 600})
        seen.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") == "Bearer first":
            return web.json_response({"code": 401, "message": "expired"}, status=401)
        return web.json_response({"entries": []})

    base = await serve(handler)

    async def factory() -> str:
        return next(tokens)

    async with RegistryClient(base, auth=factory, retry=None) as client:
        assert await client.list_registries() == []
    assert seen == ["Bearer first", "Bearer second"]  # not counted as a retry: retry=None


async def test_an_outage_pauses_every_request_of_the_client(emulator: RunaiEmulator) -> None:
    emulator.fail_next("list_registries", 1, status=503, retry_after="1")
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.list_registries(retry=None)
        assert client._requester._pacer.pause.left() > 0.5
