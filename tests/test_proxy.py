"""Proxies: from the environment by default, explicit with proxy=, through a real proxy."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import web

from runai_registry_async import ApiError, ClientCredentials, RegistryClient, RunaiError
from runai_registry_async.testing import RunaiEmulator

from .conftest import tls_contexts

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


class ForwardProxy:
    """proxy.py, a forward proxy from PyPI, running in its own process on loopback."""

    def __init__(self, log: Path, *extra: str) -> None:
        # The proxy picks its own port and writes it down: no port freed and taken
        # again in between, which another process could take first.
        port_file = log.with_suffix(".port")
        self.log = log
        command = [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0"]
        command += ["--port-file", str(port_file), "--num-workers", "1", "--num-acceptors", "1"]
        self.process = subprocess.Popen(
            [*command, "--log-level", "INFO", *extra],
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        ready_by = time.monotonic() + 60
        while time.monotonic() < ready_by:  # its start, not a timing assumption
            try:
                self.port = int(port_file.read_text())
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except (OSError, ValueError):
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("proxy.py did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)

    async def access_lines(self, *, waiting_for: str = "") -> list[str]:
        """The access log; waits (for the line of a tunnel that is closing) if asked."""
        for _ in range(200):
            lines = [line for line in self.log.read_text().splitlines() if "access_log" in line]
            if not waiting_for or any(waiting_for in line for line in lines):
                return lines
            await asyncio.sleep(0.05)
        return lines


@pytest.fixture(scope="module")
def forward_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForwardProxy]:
    proxy = ForwardProxy(tmp_path_factory.mktemp("proxy") / "proxy.log")
    yield proxy
    proxy.stop()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


async def test_plain_http_goes_through_an_explicit_loopback_proxy(
    forward_proxy: ForwardProxy, clean_env: pytest.MonkeyPatch, emulator: RunaiEmulator
) -> None:
    target = emulator.base_url.removeprefix("http://")
    before = len(await forward_proxy.access_lines())
    async with RegistryClient(
        emulator.base_url, token=emulator.token, proxy=forward_proxy.url
    ) as client:
        assert await client.list_registries() == []
    lines = (await forward_proxy.access_lines(waiting_for=f"GET {target}"))[before:]
    assert any(f"GET {target}/api/v1/asset/registries" in line for line in lines), lines
    assert emulator.count("list_registries") == 1


async def test_https_is_tunnelled_and_the_proxy_never_sees_the_token(
    forward_proxy: ForwardProxy, clean_env: pytest.MonkeyPatch
) -> None:
    server, trusted = tls_contexts()
    token = "proxy-test-SECRET-token-81"
    async with RunaiEmulator(ssl_context=server, token=token) as emulator:
        target = emulator.base_url.removeprefix("https://")
        async with RegistryClient(
            emulator.base_url, token=token, ssl=trusted, proxy=forward_proxy.url
        ) as client:
            assert await client.list_registries() == []
        assert [r.authorized for r in emulator.requests] == [True]
    lines = await forward_proxy.access_lines(waiting_for=f"CONNECT {target}")
    assert any(f"CONNECT {target}" in line for line in lines), lines
    assert token not in forward_proxy.log.read_text()


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
async def test_a_loopback_url_never_takes_the_proxy_from_the_environment(
    forward_proxy: ForwardProxy,
    clean_env: pytest.MonkeyPatch,
    emulator: RunaiEmulator,
    variable: str,
) -> None:
    # The proxy read the bearer token of a plain-http request to 127.0.0.1.
    clean_env.setenv(variable, forward_proxy.url)
    target = emulator.base_url.removeprefix("http://")
    before = len(await forward_proxy.access_lines())
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        assert await client.list_registries() == []
    # A marker request through the proxy: once its line is there, a line for the
    # request above would be there too (one proxy worker, lines in order).
    async with RegistryClient(
        emulator.base_url, token=emulator.token, proxy=forward_proxy.url
    ) as client:
        await client.list_registries(name="marker")
    lines = (await forward_proxy.access_lines(waiting_for="name=marker"))[before:]
    assert [line for line in lines if target in line and "marker" not in line] == []
    assert emulator.count("list_registries") == 2


def test_a_plain_http_proxy_that_would_read_the_token_is_refused() -> None:
    base, corporate = "http://127.0.0.1:8080", "http://proxy.corp.example:3128"
    with pytest.raises(ValueError, match=r"refusing the plain http:// proxy proxy\.corp\.example"):
        RegistryClient(base, token="t", proxy=corporate)
    # Allowed where the proxy is loopback too, or the user allowed clear text.
    RegistryClient(base, token="t", proxy="http://127.0.0.1:3128")
    RegistryClient(base, token="t", proxy=corporate, allow_insecure_http=True)
    # Through a plain-http proxy, an https:// URL is a tunnel the proxy cannot read.
    RegistryClient("https://runai.example.com", token="t", proxy=corporate)


async def test_proxy_credentials_work_and_never_show(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, emulator: RunaiEmulator
) -> None:
    password = "proxy-PASS-SECRET-44"
    proxy = ForwardProxy(tmp_path / "auth.log", "--basic-auth", f"robot:{password}")
    try:
        good = f"http://robot:{password}@127.0.0.1:{proxy.port}"
        async with RegistryClient(emulator.base_url, token=emulator.token, proxy=good) as client:
            assert await client.list_registries() == []
            assert password not in repr(client)
            assert client._requester.transport.proxy_origin == proxy.url
        bad = f"http://robot:wrong-{password}@127.0.0.1:{proxy.port}"
        async with RegistryClient(
            emulator.base_url, token=emulator.token, proxy=bad, retry=None
        ) as client:
            # Through a plain-http proxy its 407 arrives as an answer, like the server's.
            with pytest.raises(ApiError, match="HTTP 407") as caught:
                await client.list_registries()
        assert password not in str(caught.value)
        assert password not in repr(caught.value)
    finally:
        proxy.stop()
    assert emulator.count("list_registries") == 1
    with pytest.raises(ValueError, match="proxy must be") as refused:
        RegistryClient(emulator.base_url, token="t", proxy=f"socks5://u:{password}@h:1")
    assert password not in str(refused.value)


async def test_netrc_is_never_read(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, serve: Any
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password NETRC-SECRET\n")
    netrc.chmod(0o600)
    clean_env.setenv("HOME", str(tmp_path))
    clean_env.setenv("NETRC", str(netrc))
    seen: list[str | None] = []

    async def token_endpoint(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"accessToken": "t", "expiresIn": 60, "entries": []})

    base = await serve(token_endpoint)
    async with RegistryClient(base, auth=ClientCredentials("app", "secret")) as client:
        await client.list_registries()
    assert seen == [None, "Bearer t"]


async def test_a_proxy_password_needing_encoding_never_shows_in_a_refused_tunnel(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Only the decoded password was blanked; aiohttp quotes the URL as written.
    caplog.set_level(logging.DEBUG)
    password = "p@ss/w:rd SECRET%"
    written = quote(password, safe="")
    proxy = ForwardProxy(tmp_path / "auth.log", "--basic-auth", "robot:right")
    server, trusted = tls_contexts()
    try:
        async with RunaiEmulator(ssl_context=server) as emulator:
            url = f"http://robot:{written}@127.0.0.1:{proxy.port}"
            async with RegistryClient(
                emulator.base_url, token=emulator.token, ssl=trusted, proxy=url
            ) as client:
                with pytest.raises(RunaiError) as caught:
                    await client.list_registries()
    finally:
        proxy.stop()
    shown = str(caught.value) + repr(caught.value) + caplog.text
    assert "407" in str(caught.value)
    for form in (password, written, "SECRET"):
        assert form not in shown
