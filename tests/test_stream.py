"""Streaming lists: items while the body arrives, bounded memory, early exit, failures."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from runai_registry_async import (
    DeadlineExceeded,
    DecodeError,
    NotFoundError,
    Registry,
    RegistryClient,
    RetryPolicy,
    ServiceUnavailableError,
    TransportError,
    UnauthorizedError,
)
from runai_registry_async._http import _deadline
from runai_registry_async._http._deadline import Deadline
from runai_registry_async._http._stream import DEFAULT_MAX_ITEM_BYTES, ItemStream
from runai_registry_async._http._transport import DEFAULT_MAX_RESPONSE_BYTES
from runai_registry_async._models import RepositoryTags
from runai_registry_async.testing import RunaiEmulator

from .conftest import FakeClock, Handler, StoppedDeadline, breaks_off_after, within

ID = "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


def chunked(body: bytes, size: int) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        view = memoryview(body)
        for start in range(0, len(body), size):
            await response.write(view[start : start + size])
        await response.write_eof()
        return response

    return handler


def endless_tags(outcome: asyncio.Future[str]) -> Handler:
    """Sends tags slowly for minutes; ``outcome`` says whether the client hung up."""

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"name": "r", "tags": [')
        try:
            for i in range(100_000):
                await response.write(b'"t%d",' % i)
                await asyncio.sleep(0.001)
            outcome.set_result("sent everything")
        except (ConnectionError, asyncio.CancelledError) as exc:
            outcome.set_result(f"disconnected: {type(exc).__name__}")
            raise
        return response

    return endless


async def test_small_lists_arrive_in_order(emulator: RunaiEmulator) -> None:
    registries = emulator.seed(registries=3, repositories=4, tags=7)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        streamed = [r async for r in client.iter_registries()]
        assert streamed == await client.list_registries()
        assert all(isinstance(r, Registry) for r in streamed)
        rid = registries[1].id
        repositories = [name async for name in client.iter_repositories(rid)]
        assert repositories == await client.list_repositories(rid)
        tags = [t async for t in client.iter_tags(rid, repositories[2], search_name="cuda12.1")]
        assert tags == (await client.list_tags(rid, repositories[2], search_name="cuda12.1")).tags
        assert tags
        assert [r async for r in client.iter_registries(name="nope")] == []


async def test_items_split_across_tiny_chunks(serve: Callable[[Handler], Awaitable[str]]) -> None:
    tags = [f'tag-{i}-\u00fc\\"x' for i in range(500)]
    base = await serve(chunked(orjson.dumps({"name": "r", "tags": tags}), 7))
    async with RegistryClient(base, token="t") as client:
        assert [t async for t in client.iter_tags(ID, "r")] == tags


@pytest.mark.slow
async def test_a_million_tags_in_bounded_memory(serve: Callable[[Handler], Awaitable[str]]) -> None:
    count = 1_000_000
    body = orjson.dumps(
        {"name": "big", "tags": [f"v{i:07d}-build.{i % 97:02d}-cuda12" for i in range(count)]}
    )
    assert len(body) > 20_000_000
    base = await serve(chunked(body, 256 * 1024))
    async with RegistryClient(base, token="t") as client:
        gc.collect()
        tracemalloc.start()
        try:
            seen = 0
            last = ""
            async for tag in client.iter_tags(ID, "big"):
                if seen % 250_000 == 0:
                    assert tag == f"v{seen:07d}-build.{seen % 97:02d}-cuda12"
                seen += 1
                last = tag
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert seen == count
    assert last == f"v{count - 1:07d}-build.{(count - 1) % 97:02d}-cuda12"
    # The server shares this process: its 256 KiB writes and aiohttp's read buffer count
    # here too. benchmarks/bench_stream.py measures the client alone (under 1 MB).
    assert peak < 3 * 1024 * 1024, f"peak {peak / 1e6:.3f} MB"


async def test_breaking_early_closes_the_connection(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    base = await serve(endless_tags(outcome))
    async with RegistryClient(base, token="t") as client:
        got = []
        async for tag in client.iter_tags(ID, "r"):
            got.append(tag)
            if len(got) == 5:
                break
        assert got == ["t0", "t1", "t2", "t3", "t4"]
        result = await within(5, outcome, what="the server never saw the connection end")
    assert result.startswith("disconnected")


async def test_aclose_closes_the_response(serve: Callable[[Handler], Awaitable[str]]) -> None:
    # What the server saw: the connection closed before the body ended.
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    base = await serve(endless_tags(outcome))
    async with RegistryClient(base, token="t") as client:
        stream = client.iter_tags(ID, "r")
        assert await anext(stream) == "t0"
        await stream.aclose()
        result = await asyncio.wait_for(outcome, 10)
    assert result.startswith("disconnected")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"name": "r", "tags": ["a", "b", }', "invalid JSON"),
        (b'{"name": "r", "tags": ["a", 5]}', "expected a string, got int @ $.tags[1]"),
        (b'{"name": "r"}', "required field missing @ $.tags"),
        (b'["a", "b"]', "does not match the schema: expected a JSON object"),
        (b'{"name": "r", "tags": ["a", "b"', "invalid JSON"),
        (b"", "invalid JSON: body ended"),
    ],
)
async def test_invalid_bodies_raise_decode_error(
    serve: Callable[[Handler], Awaitable[str]], body: bytes, message: str
) -> None:
    base = await serve(chunked(body, 4096) if body else chunked(b" ", 1))
    async with RegistryClient(base, token="t") as client:
        with pytest.raises(DecodeError, match=message.replace("[", r"\[").replace("$", r"\$")):
            [t async for t in client.iter_tags(ID, "r")]


async def test_a_stream_s_decode_error_quotes_no_body_text(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    # A body may hold what the server was sent (a password echoed back); the error gives
    # a fixed reason and a byte offset only.
    body = b'{"name": "r", "tags": ["pw-hunter2-echoed", oops-hunter2]}'
    base = await serve(chunked(body, 4096))
    async with RegistryClient(base, token="t") as client:
        with pytest.raises(DecodeError) as caught:
            [t async for t in client.iter_tags(ID, "r")]
    assert f"(byte {body.index(b'oops')})" in str(caught.value)
    shown = [str(caught.value), repr(caught.value), repr(caught.value.__cause__)]
    assert not any("hunter2" in text for text in shown)


@pytest.mark.parametrize("by_batch", [False, True])
async def test_a_body_breaking_off_says_how_many_items_were_yielded(
    serve: Callable[[Handler], Awaitable[str]], by_batch: bool
) -> None:
    calls = 0

    async def breaks_off(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"name": "r", "tags": ["a", "b", "c",')
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()
        return response

    base = await serve(breaks_off)
    got: list[str] = []
    async with RegistryClient(base, token="t", retry=FAST) as client:
        with pytest.raises(DecodeError, match=r"3 items were yielded before"):
            if by_batch:
                async for batch in client.iter_tags(ID, "r").batches():
                    got += batch
                    batch.clear()  # the consumer's to change: the count does not depend on it
            else:
                async for tag in client.iter_tags(ID, "r"):
                    got.append(tag)
    assert got == ["a", "b", "c"]
    assert calls == 1  # never restarted once items were handed out


async def test_registry_items_that_do_not_match_name_their_index(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    good = orjson.loads(
        orjson.dumps(
            {
                "meta": {
                    "name": "n",
                    "scope": "tenant",
                    "id": ID,
                    "kind": "registry",
                    "createdBy": "a",
                    "createdAt": "2024-01-01T00:00:00Z",
                    "updatedBy": "b",
                    "updatedAt": "2024-01-01T00:00:00Z",
                },
                "spec": {"url": "u", "user": "u", "password": "pw"},
            }
        )
    )
    bad: Any = orjson.loads(orjson.dumps(good))
    bad["meta"]["createdAt"] = 3
    base = await serve(chunked(orjson.dumps({"entries": [good, good, bad]}), 64))
    async with RegistryClient(base, token="t") as client:
        got = []
        with pytest.raises(DecodeError, match=r"\$\.entries\[2\]\.meta\.createdAt"):
            async for registry in client.iter_registries():
                got.append(registry)
    assert len(got) == 2


@pytest.mark.parametrize(("status", "error"), [(404, NotFoundError), (401, UnauthorizedError)])
async def test_error_statuses_raise_before_the_first_item(
    emulator: RunaiEmulator, status: int, error: type[Exception]
) -> None:
    emulator.fail_next("list_tags", 1, status=status)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        with pytest.raises(error):
            [t async for t in client.iter_tags(ID, "r")]


async def test_retries_apply_before_the_first_item(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1", "2"])
    emulator.fail_next("list_tags", 2, status=503)
    emulator.reset_next("list_repositories", 1)
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=FAST) as client:
        assert [t async for t in client.iter_tags(registry.id, "team/app")] == ["1", "2"]
        assert [r async for r in client.iter_repositories(registry.id)] == ["team/app"]
        emulator.fail_next("list_tags", 5, status=503)
        with pytest.raises(ServiceUnavailableError) as caught:
            [t async for t in client.iter_tags(registry.id, "team/app")]
    assert caught.value.attempts == 3
    assert [r.status for r in emulator.requests if r.operation == "list_tags"][:3] == [
        503,
        503,
        200,
    ]


# --- hostile bodies over a real connection -----------------------------------------------------

MiB = 1024 * 1024


def gzip_bomb(inflated: int) -> bytes:
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    body = packer.compress(b'{"name": "r", "tags": ["')
    zeros = b"0" * MiB
    for _ in range(inflated // MiB):
        body += packer.compress(zeros)
    return body + packer.compress(b'"]}') + packer.flush()


def served_gzip(body: bytes) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            body=body, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}
        )

    return handler


def peak_of(run: Callable[[], Awaitable[None]]) -> Awaitable[int]:
    async def measured() -> int:
        gc.collect()
        tracemalloc.start()
        try:
            await run()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    return measured()


@pytest.mark.parametrize("how", ["list_tags", "iter_tags"])
async def test_a_gzip_bomb_stops_at_max_response_bytes(
    serve: Callable[[Handler], Awaitable[str]], how: str
) -> None:
    bomb = gzip_bomb(200 * MiB)
    assert len(bomb) < MiB  # 200 MiB once inflated
    base = await serve(served_gzip(bomb))
    async with RegistryClient(
        base, token="t", max_response_bytes=8 * MiB, max_item_bytes=16 * MiB
    ) as client:

        async def read() -> None:
            with pytest.raises(DecodeError, match=r"larger than|over a limit"):
                if how == "list_tags":
                    await client.list_tags(ID, "r")
                else:
                    async for _ in client.iter_tags(ID, "r"):
                        pass

        peak = await peak_of(read)
    assert peak < 48 * MiB, f"peak {peak / MiB:.1f} MiB"  # the old code held all 200 MiB


async def test_one_huge_tag_stops_at_max_item_bytes(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    async def huge_tag(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"name": "r", "tags": ["ok", "')
        block = b"x" * (256 * 1024)
        try:
            for _ in range(800):  # 200 MiB if it were all read
                await response.write(block)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up, as it should
        return response

    base = await serve(huge_tag)
    async with RegistryClient(base, token="t") as client:
        seen: list[str] = []

        async def read() -> None:
            with pytest.raises(DecodeError, match="larger than 1048576 bytes") as caught:
                async for tag in client.iter_tags(ID, "r"):
                    seen.append(tag)
            assert "1 items were yielded before" in str(caught.value)

        peak = await peak_of(read)
    assert seen == ["ok"]
    assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"


async def test_deep_nesting_over_the_wire_is_refused_cheaply(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    base = await serve(chunked(b'{"name": "r", "tags": ' + b"[" * 400_000, 65536))
    async with RegistryClient(base, token="t") as client:

        async def read() -> None:
            with pytest.raises(DecodeError, match="nested deeper than"):
                async for _ in client.iter_tags(ID, "r"):
                    pass

        peak = await peak_of(read)
    assert peak < 4 * MiB, f"peak {peak / MiB:.1f} MiB"  # ijson: ~500 MiB per 10 KiB


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("tags", b'{"name": "r", "tags": 5}'),
        ("tags", b'{"name": "r", "tags": null}'),
        ("tags", b'{"name": "r", "tags": {"a": 1}}'),
        ("tags", b'{"tags": ["a"]}'),
        ("tags", b'{"name": 5, "tags": ["a"]}'),
        ("tags", b'{"name": "r", "tags": ["a", null]}'),
        ("repositories", b'{"repositories": "x"}'),
        ("repositories", b'{"repositories": [1]}'),
        ("repositories", b"{}"),
        ("registries", b'{"entries": null}'),
        ("registries", b'{"entries": 3}'),
        ("registries", b'{"entries": [{"meta": 1}]}'),
    ],
)
async def test_a_stream_rejects_what_its_list_twin_rejects(
    serve: Callable[[Handler], Awaitable[str]], method: str, body: bytes
) -> None:
    base = await serve(chunked(body, 4))
    async with RegistryClient(base, token="t", retry=None) as client:
        whole: Callable[[], Awaitable[Any]]
        stream: Any
        if method == "tags":
            whole, stream = (lambda: client.list_tags(ID, "r")), client.iter_tags(ID, "r")
        elif method == "repositories":
            whole, stream = (lambda: client.list_repositories(ID)), client.iter_repositories(ID)
        else:
            whole, stream = client.list_registries, client.iter_registries()
        with pytest.raises(DecodeError) as from_list:
            await whole()
        with pytest.raises(DecodeError) as from_stream:
            async for _ in stream:
                pass
    expected = str(from_list.value).split(": ", 1)[1]
    assert expected in str(from_stream.value)


@pytest.mark.slow
async def test_a_stream_bounds_each_read_not_the_total(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b'{"name": "r", "tags": [')
        for n in range(8):  # 1.6 s in all, never more than 0.2 s between chunks
            await asyncio.sleep(0.2)
            await response.write(f'"t{n}",'.encode())
        await response.write(b'"end"]}')
        return response

    base = await serve(trickle)
    async with RegistryClient(base, token="t", timeout=1.0, retry=None) as client:
        tags = [t async for t in client.iter_tags(ID, "r")]
        assert tags == [*(f"t{n}" for n in range(8)), "end"]
        # The same timeout on a whole read bounds the total: it fails.
        with pytest.raises(TransportError, match="timed out"):
            await client.list_tags(ID, "r")


# --- the stream's own errors: what they say and when a deadline is the reason -------------------

TAGS_OP = f"GET /api/v1/asset/registries/{ID}/repositories/tags (repository 'r')"


def stalls_after(first: bytes, then: bytes = b"", after: float = 120) -> Handler:
    """Sends ``first``, waits ``after`` seconds, then sends ``then`` and ends."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(first)
        await asyncio.sleep(after)
        await response.write(then)
        await response.write_eof()
        return response

    return handler


async def test_a_deadline_passing_mid_body_ends_the_stream(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    base = await serve(stalls_after(b'{"name": "r", "tags": ["a", '))
    got = []

    async def read_all(client: RegistryClient) -> None:
        async for tag in client.iter_tags(ID, "r", deadline=0.5):
            got.append(tag)

    async with RegistryClient(base, token="t", timeout=100) as client:
        with pytest.raises(DeadlineExceeded) as caught:
            # Ten times the deadline and more, far below the per-read timeout: only the
            # deadline can end this in time.
            await asyncio.wait_for(read_all(client), 30)
    assert got == ["a"]
    assert caught.value.operation == TAGS_OP
    assert caught.value.attempts == 1
    assert str(caught.value).startswith(f"{TAGS_OP}: deadline of 0.5 s passed after 1 attempt")


async def open_stream(session: aiohttp.ClientSession, base: str, deadline: Deadline) -> ItemStream:
    response = await session.get(base)
    return ItemStream(
        response,
        "tags",
        envelope=RepositoryTags,
        keep=frozenset({"name"}),
        convert=None,
        operation="op",
        max_item_bytes=DEFAULT_MAX_ITEM_BYTES,
        max_total_bytes=DEFAULT_MAX_RESPONSE_BYTES,
        deadline=deadline,
    )


@pytest.mark.parametrize("left", [0.0, -1.0])
async def test_no_time_left_is_a_deadline_error_even_with_data_on_its_way(
    serve: Callable[[Handler], Awaitable[str]], left: float
) -> None:
    # The rest of the body comes soon, but the deadline has already passed: the read is
    # not even started.
    base = await serve(stalls_after(b'{"name": "r", "tags": [', b'"a"]}', after=0.2))
    async with aiohttp.ClientSession() as session:
        stream = await open_stream(session, base, StoppedDeadline(3, left))
        try:
            with pytest.raises(DeadlineExceeded) as caught:
                await stream.next_batch()
        finally:
            stream.close()
    assert caught.value.operation == "op"


async def test_a_body_breaking_off_with_time_left_is_a_transport_error(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    base = await serve(breaks_off_after(200, b'{"name": "r", "tags": ["a",'))
    async with aiohttp.ClientSession() as session:
        stream = await open_stream(session, base, StoppedDeadline(3, 0.5))
        try:
            with pytest.raises(TransportError) as caught:
                while await stream.next_batch() is not None:
                    pass
        finally:
            stream.close()
    assert not isinstance(caught.value, DeadlineExceeded)
    assert caught.value.operation == "op"
    assert str(caught.value) == "op: body broke off: ClientPayloadError"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"name": "r", "tags": ["a", 5]}', "expected a string, got int @ $.tags[1]"),
        (b'{"name": 5, "tags": ["a"]}', "expected str, got int @ $.name"),
    ],
)
async def test_stream_decode_errors_name_the_request(
    serve: Callable[[Handler], Awaitable[str]], body: bytes, message: str
) -> None:
    base = await serve(chunked(body, 8))
    async with RegistryClient(base, token="t") as client:
        with pytest.raises(DecodeError) as caught:
            [t async for t in client.iter_tags(ID, "r")]
    assert caught.value.operation == TAGS_OP
    assert str(caught.value) == f"{TAGS_OP}: response does not match the schema: {message}"


# --- Stream: batches, one way of iterating, arguments checked at the call -------------------


def counting(handler: Handler) -> tuple[Handler, list[str]]:
    """``handler``, recording the path of every request it answers."""
    seen: list[str] = []

    async def recording(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        return await handler(request)

    return recording, seen


async def test_batches_hand_out_every_item_a_read_at_a_time(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    tags = [f"v{i:07d}" for i in range(200_000)]
    base = await serve(chunked(orjson.dumps({"name": "r", "tags": tags}), 64 * 1024))
    async with RegistryClient(base, token="t") as client:
        batches = [batch async for batch in client.iter_tags(ID, "r").batches()]
    assert [tag for batch in batches for tag in batch] == tags
    # One list per read that completed items: many lists, none empty, none the whole body.
    assert len(batches) > 10
    assert all(0 < len(batch) < len(tags) for batch in batches)


async def test_batches_of_registries_are_converted(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=3, repositories=1, tags=1)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        batches = [batch async for batch in client.iter_registries().batches()]
        assert [r for batch in batches for r in batch] == await client.list_registries()
    assert all(isinstance(r, Registry) for batch in batches for r in batch)


async def test_a_stream_is_iterated_one_way_only(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1", "2", "3"])
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        by_item = client.iter_tags(registry.id, "team/app")
        assert await anext(by_item) == "1"
        with pytest.raises(RuntimeError, match="already being iterated an item at a time"):
            by_item.batches()
        assert [t async for t in by_item] == ["2", "3"]  # the same generator goes on

        by_batch = client.iter_tags(registry.id, "team/app")
        assert await anext(by_batch.batches()) == ["1", "2", "3"]
        with pytest.raises(RuntimeError, match="already being iterated a batch at a time"):
            await anext(by_batch)
        with pytest.raises(RuntimeError, match="a batch at a time"):
            by_batch.__aiter__()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"timeout": -1}, "timeout must be a finite positive number"),
        ({"deadline": 0}, "deadline must be a finite positive number"),
        ({"retry": 3}, "retry must be a RetryPolicy or None"),
    ],
)
async def test_bad_arguments_raise_at_the_call_before_any_request(
    serve: Callable[[Handler], Awaitable[str]], arguments: dict[str, Any], message: str
) -> None:
    handler, seen = counting(chunked(b'{"name": "r", "tags": []}', 64))
    base = await serve(handler)
    async with RegistryClient(base, token="t") as client:
        for call in (
            lambda: client.iter_tags(ID, "r", **arguments),
            lambda: client.iter_repositories(ID, **arguments),
            lambda: client.iter_registries(**arguments),
        ):
            with pytest.raises(ValueError, match=message):
                call()
        assert [t async for t in client.iter_tags(ID, "r")] == []
    assert seen == [f"/api/v1/asset/registries/{ID}/repositories/tags"]


async def test_nothing_is_sent_until_the_iteration_starts(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    handler, seen = counting(chunked(b'{"name": "r", "tags": ["a"]}', 64))
    base = await serve(handler)
    async with RegistryClient(base, token="t") as client:
        stream = client.iter_tags(ID, "r")
        # A whole request through the same client and server: had the stream sent its
        # own, the server would have seen it first.
        assert (await client.list_tags(ID, "other")).tags == ["a"]
        assert seen == [f"/api/v1/asset/registries/{ID}/repositories/tags"]
        closed_first = client.iter_tags(ID, "r")
        await closed_first.aclose()
        assert [t async for t in closed_first] == []
        assert [b async for b in closed_first.batches()] == []
        assert [t async for t in stream] == ["a"]
    assert len(seen) == 2


async def test_the_deadline_counts_from_the_start_of_the_iteration(
    serve: Callable[[Handler], Awaitable[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The deadlines' clock, stopped but for the jump below.
    clock = FakeClock()
    monkeypatch.setattr(_deadline, "time", SimpleNamespace(monotonic=clock))
    base = await serve(chunked(b'{"name": "r", "tags": ["a", "b"]}', 64))
    async with RegistryClient(base, token="t") as client:
        stream = client.iter_tags(ID, "r", deadline=5)
        clock.now += 60  # far longer than the deadline, before the iteration
        assert [b async for b in stream.batches()] == [["a", "b"]]


async def test_leaving_a_batch_loop_early_closes_the_connection(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    base = await serve(endless_tags(outcome))
    async with RegistryClient(base, token="t") as client:
        async for batch in client.iter_tags(ID, "r").batches():
            assert batch[0] == "t0"
            break
        result = await within(5, outcome, what="the server never saw the connection end")
    assert result.startswith("disconnected")
