from __future__ import annotations

import asyncio
import inspect
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses
from aioresponses import core as aioresponses_core

from runai_registry_async import RegistryClient
from runai_registry_async._http._deadline import Deadline
from runai_registry_async.testing import OPERATIONS as EMULATED_OPERATIONS
from runai_registry_async.testing import RunaiEmulator

T = TypeVar("T")

BASE = "https://runai.example.com"
TOKEN = "tok-SECRET-abc123"
PASSWORD = "hunter2-PASSWORD-xyz"
REGISTRY_ID = "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"
# The seven Registry operations, by the emulator's names for them.
OPERATIONS = tuple(name for name in EMULATED_OPERATIONS if name != "token")


def registry_json(**meta: Any) -> dict[str, Any]:
    """A fully populated Registry as the server sends it."""
    base_meta: dict[str, Any] = {
        "name": "docker-hub",
        "description": "The public hub",
        "scope": "project",
        "clusterId": str(uuid.UUID(int=7)),
        "departmentId": "3",
        "projectId": 12,
        "autoDelete": False,
        "workloadSupportedTypes": {
            "inference": True,
            "workspace": False,
            "training": True,
            "distributed": True,
            "distFramework": "PyTorch",
        },
        "private": False,
        "id": REGISTRY_ID,
        "kind": "registry",
        "tenantId": 1001,
        "createdBy": "alice@example.com",
        "createdAt": "2024-05-01T10:20:30.123Z",
        "updatedBy": "bob@example.com",
        "updatedAt": "2024-06-01T10:20:30+02:00",
        "projectName": "vision",
        "updateCount": 3,
    }
    base_meta.update(meta)
    return {
        "meta": base_meta,
        "spec": {
            "url": "https://index.docker.io",
            "credentialKind": "password",
            "user": "robot",
            "password": PASSWORD,
        },
    }


class _NoUpload:
    output_size = 0


class _CompatResponse(aiohttp.ClientResponse):
    # aiohttp 3.14 made `stream_writer` a required argument and aioresponses 0.7.9 does
    # not pass it (pnuckowski/aioresponses#289); a finished upload of size 0 stands in.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NoUpload())
        super().__init__(*args, **kwargs)


def operation_calls(
    client: RegistryClient, registry_id: str, *, password: str = "p", **options: Any
) -> dict[str, Callable[[], Awaitable[object]]]:
    """The seven operations by the emulator's names for them, each a call on ``client``
    about ``registry_id`` (repository ``team/app``) taking ``options`` (``deadline=``,
    ``retry=``...); the registry sent by create and update carries ``password``."""
    from runai_registry_async import (
        AssetCreationRequest,
        AssetUpdateRequest,
        RegistryCreationRequest,
        RegistrySpecRequest,
        RegistryUpdateRequest,
        Scope,
    )

    spec = RegistrySpecRequest("https://r.example.com", user="u", password=password)
    creation = RegistryCreationRequest(AssetCreationRequest("n", Scope.TENANT), spec)
    update = RegistryUpdateRequest(AssetUpdateRequest("n"), spec)
    return {
        "list_registries": lambda: client.list_registries(**options),
        "create_registry": lambda: client.create_registry(creation, **options),
        "get_registry": lambda: client.get_registry(registry_id, **options),
        "update_registry": lambda: client.update_registry(registry_id, update, **options),
        "delete_registry": lambda: client.delete_registry(registry_id, **options),
        "list_repositories": lambda: client.list_repositories(registry_id, **options),
        "list_tags": lambda: client.list_tags(registry_id, "team/app", **options),
    }


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Any:
    """aioresponses, patched to work with aiohttp 3.14."""
    if "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
        monkeypatch.setattr(aioresponses_core, "ClientResponse", _CompatResponse)
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client() -> AsyncIterator[RegistryClient]:
    async with RegistryClient(BASE, token=TOKEN, retry=None) as c:
        yield c


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def within(seconds: float, awaitable: Awaitable[T], *, what: str) -> T:
    """The result of ``awaitable``, or the test fails saying ``what`` did not happen in
    ``seconds``: where the defect a test looks for is a hang, it fails for that reason,
    at once, rather than being stopped by pytest-timeout (or passing on a TimeoutError
    that the code under test raised for another reason)."""
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        pytest.fail(f"{what}: not within {seconds:g} s")
    return task.result()


async def eventually(condition: Callable[[], bool], timeout: float = 60) -> None:
    """Wait until ``condition()`` holds: state that another process's requests change,
    which no event announces."""

    async def poll() -> None:
        while not condition():  # noqa: ASYNC110 - no event to wait on, see above
            await asyncio.sleep(0.01)

    await within(timeout, poll(), what="the condition never held")


async def round_trips(client: RegistryClient, count: int = 5) -> None:
    """``count`` requests through ``client`` to the same server, one after another: work
    that the loop would still do (a worker not really blocked) gets its turns meanwhile,
    so a count that has not moved after them is one that stays."""
    for _ in range(count):
        await client.list_registries(retry=None)


async def start_server(
    handler: Handler, *, ssl_context: ssl.SSLContext | None = None
) -> tuple[str, web.AppRunner]:
    """A loopback server answering every request with ``handler``: its base URL, and the
    runner to ``cleanup()`` when done."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
    scheme = "http" if ssl_context is None else "https"
    return f"{scheme}://127.0.0.1:{runner.addresses[0][1]}", runner


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """``await serve(handler, ssl_context=None)``: a loopback server answering every
    request with ``handler``, stopped after the test; gives its base URL."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> str:
        base, runner = await start_server(handler, ssl_context=ssl_context)
        runners.append(runner)
        return base

    yield start
    for runner in runners:
        await runner.cleanup()


def tls_contexts(host: str = "127.0.0.1") -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for ``host`` from a new throwaway CA, and a
    client context that trusts that CA."""
    import trustme

    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(host).configure_cert(server)
    trusted = ssl.create_default_context()
    ca.configure_trust(trusted)
    return server, trusted


class FakeClock:
    """A clock that stands still until the test moves it: ``clock.now += 5``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer when nothing is ready: sleeps
    take no real time, so waits and rates are checked exactly and at once. For code that
    only sleeps (no sockets); pass ``loop.time`` as its clock."""

    def __init__(self, lateness: float = 0.0) -> None:
        super().__init__()
        self._now = 0.0
        self._lateness = lateness  # every timer fires this late, as on a busy loop

    def time(self) -> float:
        return self._now

    def _run_once(self) -> None:
        if not self._ready:  # type: ignore[attr-defined]
            timers = self._scheduled  # type: ignore[attr-defined]
            when = min((t.when() for t in timers if not t.cancelled()), default=None)
            if when is not None:
                self._now = max(self._now, when + self._lateness)
        super()._run_once()  # type: ignore[misc]


def in_virtual_time(main: Callable[[], Awaitable[T]], *, lateness: float = 0.0) -> T:
    """Run ``main()`` to the end on a :class:`VirtualTimeLoop`."""
    loop = VirtualTimeLoop(lateness)
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


@pytest.fixture
async def emulator() -> AsyncIterator[RunaiEmulator]:
    async with RunaiEmulator() as emu:
        yield emu


class StoppedDeadline(Deadline):
    """A deadline whose clock has stopped with ``left`` seconds to go."""

    def __init__(self, seconds: float, left: float) -> None:
        super().__init__(seconds)
        self.expires_at = left

    def left(self) -> float:
        return self.expires_at


def breaks_off_after(status: int, sent: bytes) -> Handler:
    """Promises a 1,000-byte body, sends ``sent`` of it, then drops the connection."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers={"Content-Length": "1000"})
        await response.prepare(request)
        await response.write(sent)
        await asyncio.sleep(0.05)  # the bytes leave before the connection drops
        assert request.transport is not None
        request.transport.abort()
        return response

    return handler
