"""``runai-registry emulator``: a stand-alone emulator that clients of any kind can use."""

from __future__ import annotations

import asyncio
import shlex
import signal
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
import pytest
from aiohttp import web

from runai_registry_async import ClientCredentials, RegistryClient

from .cli import cli, json_lines, start


async def serving(*args: str) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    """Start ``runai-registry emulator --env ARGS``; its process and settings."""
    process = await start(None, "emulator", "--env", *args)
    assert process.stdout is not None
    settings: dict[str, str] = {}
    expected = 5 if "--tls" in args else 4
    while len(settings) < expected:
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert line.startswith("export "), line
        name, _, value = line[len("export ") :].strip().partition("=")
        settings[name] = shlex.split(value)[0]
    return process, settings


@pytest.fixture
async def emulator_process() -> AsyncIterator[tuple[asyncio.subprocess.Process, dict[str, str]]]:
    process, settings = await serving("--seed", "2,3,4")
    yield process, settings
    if process.returncode is None:
        process.kill()
        await process.wait()


async def test_serves_seeded_data_to_the_library_and_the_cli(
    emulator_process: tuple[asyncio.subprocess.Process, dict[str, str]],
) -> None:
    process, settings = emulator_process
    assert settings["RUNAI_BASE_URL"].startswith("http://127.0.0.1:")
    credentials = ClientCredentials(settings["RUNAI_CLIENT_ID"], settings["RUNAI_CLIENT_SECRET"])
    async with RegistryClient(settings["RUNAI_BASE_URL"], auth=credentials) as client:
        registries = await client.list_registries()
        assert len(registries) == 2
        repositories = await client.list_repositories(registries[0].meta.id)
        assert len(repositories) == 3
        tags = await client.list_tags(registries[0].meta.id, repositories[0])
        assert len(tags.tags) == 4
    code, out, err = await cli(None, "crawl", env=settings)
    assert (code, len(json_lines(out))) == (0, 6), err
    # Made up for this run: not the library emulator's fixed defaults.
    assert settings["RUNAI_TOKEN"] != "emulator-token"
    process.send_signal(signal.SIGINT)
    _, err_bytes = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0  # Ctrl-C is how a service is stopped: not a failure
    assert err_bytes.decode().strip() == "runai-registry: emulator stopped"


async def test_sigterm_stops_it_too(
    emulator_process: tuple[asyncio.subprocess.Process, dict[str, str]],
) -> None:
    process, _ = emulator_process
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0


async def test_tls_with_a_throwaway_ca() -> None:
    process, settings = await serving("--tls")
    try:
        assert settings["RUNAI_BASE_URL"].startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=settings["SSL_CERT_FILE"])
        async with RegistryClient(
            settings["RUNAI_BASE_URL"], token=settings["RUNAI_TOKEN"], ssl=trusted
        ) as client:
            assert await client.list_registries() == []
        # The CLI trusts it through SSL_CERT_FILE, as the printed lines set it.
        code, out, err = await cli(None, "registries", "list", "--json", env=settings)
        assert (code, out.strip(), err) == (0, "[]", "")
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0


async def test_without_env_it_prints_a_readable_summary() -> None:
    process = await start(None, "emulator", "--port", "0")
    assert process.stdout is not None
    lines = [(await asyncio.wait_for(process.stdout.readline(), 60)).decode() for _ in range(4)]
    process.send_signal(signal.SIGINT)
    await asyncio.wait_for(process.wait(), 30)
    assert lines[0].startswith("Run:ai emulator at http://127.0.0.1:")
    assert [line.split()[0] for line in lines[1:]] == ["token", "client", "client"]


@pytest.mark.parametrize("args", [["--seed", "1,2"], ["--seed", "a,b,c"], ["--port", "70000"]])
async def test_bad_options_are_usage_errors(args: list[str]) -> None:
    code, out, err = await cli(None, "emulator", *args)
    assert (code, out) == (2, "")
    assert "error: argument" in err


STOPPED_AT_ONCE = """
import argparse, asyncio, os, signal, sys
import orjson
from runai_registry_async.cli import _emulator as _cli_emulator

handlers = []

def announce(settings, *, env):
    handlers.extend(signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM))
    asyncio.get_running_loop().call_soon(os.kill, os.getpid(), signal.SIGTERM)

_cli_emulator._announce = announce
args = argparse.Namespace(tls=False, host="127.0.0.1", port=0, seed=None, env=True)
code = asyncio.run(asyncio.wait_for(_cli_emulator.serve(args), 30))
defaults = (signal.SIG_DFL, signal.default_int_handler)
print(orjson.dumps({
    "code": code,
    "handled": [handler not in defaults for handler in handlers],
    "restored": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
}).decode())
"""


async def test_stop_signals_are_handled_before_the_address_is_printed() -> None:
    # A supervisor may send SIGTERM the moment it has read the address: that must stop
    # the emulator (exit 0), not kill it, so the handlers must be in place by then. In a
    # child: were they not, the signal would kill the process that runs it.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STOPPED_AT_ONCE, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, f"the child ended with {process.returncode}"
    assert orjson.loads(out.splitlines()[-1]) == {
        "code": 0,
        "handled": [True, True],
        "restored": True,  # put back as they were once it stopped
    }


async def test_listening_on_every_address_exports_a_url_clients_can_reach() -> None:
    process, settings = await serving("--host", "0.0.0.0")
    try:
        assert settings["RUNAI_BASE_URL"].startswith("http://127.0.0.1:")
        code, _, err = await cli(None, "registries", "list", env=settings)
        assert (code, err) == (0, "")
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 30)


async def test_push_changes_a_running_emulator_by_registry_name(
    emulator_process: tuple[asyncio.subprocess.Process, dict[str, str]],
) -> None:
    _, settings = emulator_process
    async with RegistryClient(settings["RUNAI_BASE_URL"], token=settings["RUNAI_TOKEN"]) as client:
        registry = (await client.list_registries())[0]
        before = await client.list_repositories(registry.meta.id)
        code, out, err = await cli(
            None, "emulator", "push", registry.meta.name, "team/new", "1.0", "1.1", env=settings
        )
        assert (code, out) == (0, "team/new: 2 pushed, 2 tags in all\n"), err
        assert await client.list_repositories(registry.meta.id) == [*before, "team/new"]
        assert (await client.list_tags(registry.meta.id, "team/new")).tags == ["1.0", "1.1"]
        code, out, err = await cli(
            None, "--json", "emulator", "push", registry.meta.id, before[0], "9.9", env=settings
        )
        assert code == 0, err
        assert orjson.loads(out)["tags"][-1] == "9.9"


async def test_push_needs_the_token_and_an_existing_registry(
    emulator_process: tuple[asyncio.subprocess.Process, dict[str, str]],
) -> None:
    _, settings = emulator_process
    credentials_only = {k: v for k, v in settings.items() if k != "RUNAI_TOKEN"}
    code, _, err = await cli(None, "emulator", "push", "x", "r", "1", env=credentials_only)
    assert code == 2
    assert "needs RUNAI_TOKEN" in err
    code, _, err = await cli(None, "emulator", "push", "nope", "r", "1", env=settings)
    assert code == 1
    assert "no registry is named 'nope'" in err


ANY_ID = "2185aa10-323c-4d5e-9a4b-2b8a1c0f9e11"


async def test_push_to_a_server_that_is_not_an_emulator_says_so(
    serve: Callable[..., Awaitable[str]],
) -> None:
    async def not_found(request: web.Request) -> web.Response:
        return web.json_response({"code": 404, "message": "no such route"}, status=404)

    base_url = await serve(not_found)
    env = {"RUNAI_BASE_URL": base_url, "RUNAI_TOKEN": "t"}
    code, _, err = await cli(None, "emulator", "push", ANY_ID, "r", "1", env=env)
    assert code == 1
    assert "refused the push (404: no such route); is RUNAI_BASE_URL an emulator?" in err


async def test_push_never_follows_a_redirect_with_the_token(
    serve: Callable[..., Awaitable[str]],
) -> None:
    reached: list[str | None] = []

    async def elsewhere(request: web.Request) -> web.Response:
        reached.append(request.headers.get("Authorization"))
        return web.json_response({"repository": "r", "tags": ["1"]})

    other = await serve(elsewhere)

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(other + request.path)

    env = {"RUNAI_BASE_URL": await serve(redirect), "RUNAI_TOKEN": "SECRET-TOKEN"}
    code, out, err = await cli(None, "emulator", "push", ANY_ID, "r", "1", env=env)
    assert (code, out, reached) == (1, "", [])
    assert "refused the push (307)" in err
    assert "SECRET-TOKEN" not in err
