"""Base URL safety, TLS options, redirects, session ownership and closing."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from runai_registry_async import RegistryClient
from runai_registry_async.testing import RunaiEmulator

from .conftest import Handler


@pytest.mark.parametrize(
    "url",
    ["http://runai.example.invalid", "http://10.0.0.5:8080", "http://app.run.ai/"],
)
def test_plain_http_to_a_remote_host_is_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(ValueError, match="refusing plain http://"):
        RegistryClient(url, token="t")
    assert RegistryClient(url, token="t", allow_insecure_http=True).base_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:9000", "https://x.run.ai/"]
)
def test_loopback_and_https_are_fine(url: str) -> None:
    assert RegistryClient(url).base_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x.example.com",
        "x.example.com",
        "https://",
        "https://u:p@x.example.com",
        "https://x.example.com/?a=1",
        5,
    ],
)
def test_malformed_base_urls_are_refused(url: object) -> None:
    with pytest.raises(ValueError, match="base_url"):
        RegistryClient(url)  # type: ignore[arg-type]


def test_other_options_are_checked() -> None:
    with pytest.raises(ValueError, match="ssl"):
        RegistryClient("https://x.run.ai", ssl=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_connections"):
        RegistryClient("https://x.run.ai", max_connections=0)
    with pytest.raises(ValueError, match="timeout"):
        RegistryClient("https://x.run.ai", timeout=-1)
    with pytest.raises(ValueError, match="retry"):
        RegistryClient("https://x.run.ai", retry=3)  # type: ignore[arg-type]


async def test_owned_session_verifies_tls_and_bounds_the_pool() -> None:
    context = ssl.create_default_context()
    async with RegistryClient("https://x.run.ai", ssl=context, max_connections=7) as client:
        session = client._transport.session()
        connector = session.connector
        assert connector is not None
        assert connector.limit == 7
        assert connector._ssl is context  # type: ignore[attr-defined]
    async with RegistryClient("https://x.run.ai") as client:
        connector = client._transport.session().connector
        assert connector is not None
        assert connector._ssl is True  # type: ignore[attr-defined]
        assert connector.limit == 100


async def test_redirect_to_another_origin_carries_no_authorization(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    seen: list[dict[str, str]] = []

    async def other_origin(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({"entries": []})

    other = await serve(other_origin)

    async def redirect(request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer secret-token"
        raise web.HTTPTemporaryRedirect(f"{other}/api/v1/asset/registries")

    base = await serve(redirect)
    async with RegistryClient(base, token="secret-token") as client:
        assert await client.list_registries() == []
    assert len(seen) == 1
    assert "Authorization" not in seen[0]


async def test_a_borrowed_session_stays_open(emulator: RunaiEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with RegistryClient(
            emulator.base_url, token=emulator.token, session=session
        ) as client:
            await client.list_registries()
        assert not session.closed
        async with session.get(emulator.base_url + "/api/v1/asset/registries") as response:
            assert response.status == 401


async def test_closing_closes_the_owned_session_and_later_use_fails(
    emulator: RunaiEmulator,
) -> None:
    client = RegistryClient(emulator.base_url, token=emulator.token)
    await client.list_registries()
    session = client._transport.session()
    await client.aclose()
    assert session.closed
    await client.aclose()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        await client.list_registries()


async def test_a_base_url_with_a_path_prefix_keeps_it(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.raw_path)
        return web.json_response({"name": "team/app", "tags": ["1"]})

    base = await serve(handler)
    async with RegistryClient(base + "/runai/", token="t") as client:
        await client.list_tags("5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60", "team/a b")
    assert seen == [
        "/runai/api/v1/asset/registries/5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"
        "/repositories/tags?repository=team/a%20b"
    ]
