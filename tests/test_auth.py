"""Tokens: static, client credentials (v1 JSON and v2 form), callables; refresh rules."""

from __future__ import annotations

import asyncio

import pytest

from runai_registry_async import ClientCredentials, RegistryClient, UnauthorizedError
from runai_registry_async._auth import TokenCache
from runai_registry_async.testing import RunaiEmulator


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


async def test_50_concurrent_calls_past_expiry_time_make_one_token_request() -> None:
    async with RunaiEmulator(token_lifetime=1) as emulator:
        credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
        async with RegistryClient(emulator.base_url, auth=credentials) as client:
            await client.list_registries()
            await asyncio.sleep(1.0)
            await asyncio.gather(*(client.list_registries() for _ in range(50)))
        assert emulator.tokens_issued == 2
        assert all(r.status == 200 for r in emulator.requests)


async def test_callable_auth_is_awaited_without_blocking(emulator: RunaiEmulator) -> None:
    async def from_vault() -> str:
        await asyncio.sleep(0.01)
        return emulator.token

    async with RegistryClient(emulator.base_url, auth=from_vault) as client:
        await asyncio.gather(*(client.list_registries() for _ in range(10)))
    assert all(r.authorized for r in emulator.requests)


async def test_token_endpoint_errors_raise_the_status_class(emulator: RunaiEmulator) -> None:
    emulator.fail_next("token", 1, status=403)
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    async with RegistryClient(emulator.base_url, auth=credentials, retry=None) as client:
        with pytest.raises(Exception, match="POST /api/v1/token: HTTP 403") as caught:
            await client.list_registries()
    assert caught.value.status == 403  # type: ignore[attr-defined]


def test_auth_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="either token= or auth="):
        RegistryClient("https://x.example.com", token="t", auth=ClientCredentials("a", "b"))
    with pytest.raises(ValueError, match="token must be"):
        RegistryClient("https://x.example.com", token="")
    with pytest.raises(ValueError, match="auth must be"):
        RegistryClient("https://x.example.com", auth="a token")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be empty"):
        ClientCredentials("", "secret")
    with pytest.raises(ValueError, match="endpoint"):
        ClientCredentials("a", "b", endpoint="v3")  # type: ignore[arg-type]


async def test_token_cache_refreshes_before_expiry() -> None:
    fetched = 0

    async def fetch() -> tuple[str, float | None]:
        nonlocal fetched
        fetched += 1
        return f"t{fetched}", 0.5

    cache = TokenCache(fetch, None)
    assert await cache.get() == "t1"
    assert await cache.get() == "t1"
    await asyncio.sleep(0.5)
    assert await cache.get() == "t2"
    assert cache.reject("t1") is True  # an old token: the current one stays
    assert await cache.get() == "t2"
    assert cache.reject("t2") is True
    assert await cache.get() == "t3"
    assert "t3" not in repr(cache)
