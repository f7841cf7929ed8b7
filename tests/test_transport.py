"""Base URL safety, TLS options, redirects, session ownership and closing."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable

import aiohttp
import orjson
import pytest
from aiohttp import web

from runai_registry_async import (
    AssetCreationRequest,
    DecodeError,
    RegistryClient,
    RegistryCreationRequest,
    RegistrySpecRequest,
    Scope,
    ServiceUnavailableError,
    TransportError,
)
from runai_registry_async._http._failures import without_proxy_credentials
from runai_registry_async._secrets import Secret
from runai_registry_async.testing import RunaiEmulator

from .conftest import Handler, breaks_off_after, operation_calls, registry_json, tls_contexts


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
    assert RegistryClient(url, token="t").base_url == url.rstrip("/")


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
        RegistryClient(url, token="t")  # type: ignore[arg-type]


def test_other_options_are_checked() -> None:
    with pytest.raises(ValueError, match="ssl"):
        RegistryClient("https://x.run.ai", token="t", ssl=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_connections"):
        RegistryClient("https://x.run.ai", token="t", max_connections=0)
    with pytest.raises(ValueError, match="timeout"):
        RegistryClient("https://x.run.ai", token="t", timeout=-1)
    with pytest.raises(ValueError, match="retry"):
        RegistryClient("https://x.run.ai", token="t", retry=3)  # type: ignore[arg-type]


async def test_owned_session_verifies_tls_and_bounds_the_pool() -> None:
    server_context, trusted = tls_contexts()
    async with RunaiEmulator(ssl_context=server_context) as emulator:
        async with RegistryClient(
            emulator.base_url, token=emulator.token, ssl=trusted, max_connections=7
        ) as client:
            assert await client.list_registries() == []
            connector = client._requester.transport.session().connector
            assert connector is not None
            assert connector.limit == 7
        async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
            with pytest.raises(TransportError, match="TLS certificate not accepted"):
                await client.list_registries()  # verified by default: the CA is unknown
            connector = client._requester.transport.session().connector
            assert connector is not None
            assert connector.limit == 100


async def test_a_borrowed_session_stays_open(emulator: RunaiEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with RegistryClient(
            emulator.base_url, token=emulator.token, session=session
        ) as client:
            await client.list_registries()
        assert not session.closed
        async with session.get(emulator.base_url + "/api/v1/asset/registries") as response:
            assert response.status == 401


@pytest.mark.parametrize("borrowed", [False, True])
async def test_every_request_asks_for_json_and_carries_the_token(
    serve: Callable[[Handler], Awaitable[str]], borrowed: bool
) -> None:
    seen: list[tuple[str, str | None, str | None, str | None]] = []

    async def handler(request: web.Request) -> web.Response:
        headers = request.headers
        seen.append(
            (
                request.method,
                headers.get("Accept"),
                headers.get("Authorization"),
                headers.get("Content-Type"),
            )
        )
        if request.method == "POST":
            return web.json_response(registry_json(), status=201)
        return web.json_response({"entries": []})

    base = await serve(handler)
    # A borrowed session's own defaults must not change what the client asks for.
    request = RegistryCreationRequest(
        AssetCreationRequest("hub", Scope.PROJECT, project_id=1),
        RegistrySpecRequest("https://index.docker.io", "robot", "pw"),
    )
    async with (
        aiohttp.ClientSession(headers={"Accept": "text/html"}) as session,
        RegistryClient(
            base, token="tok", retry=None, session=session if borrowed else None
        ) as client,
    ):
        await client.list_registries()
        await client.create_registry(request)
    assert seen == [
        ("GET", "application/json", "Bearer tok", None),
        ("POST", "application/json", "Bearer tok", "application/json"),
    ]


async def test_closing_closes_the_owned_session_and_later_use_fails(
    emulator: RunaiEmulator,
) -> None:
    client = RegistryClient(emulator.base_url, token=emulator.token)
    await client.list_registries()
    session = client._requester.transport.session()
    await client.aclose()
    assert session.closed
    await client.aclose()  # twice is fine
    with pytest.raises(RuntimeError, match=r"^this RegistryClient is closed$"):
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


# --- redirects: never followed --------------------------------------------------------------

SECRET_TOKEN = "bearer-SECRET-5150"
REGISTRY = "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"


def _calls(client: RegistryClient) -> dict[str, Callable[[], Awaitable[object]]]:
    """One operation per HTTP method."""
    calls = operation_calls(client, REGISTRY, password="registry-PASSWORD-77")
    return {
        "GET": calls["list_registries"],
        "POST": calls["create_registry"],
        "PUT": calls["update_registry"],
        "DELETE": calls["delete_registry"],
    }


@pytest.mark.parametrize("status", [300, 301, 302, 303, 307, 308])
@pytest.mark.parametrize("call", ["GET", "POST", "PUT", "DELETE", "token v1", "token v2"])
async def test_a_redirect_is_an_error_and_the_other_origin_receives_nothing(
    serve: Callable[[Handler], Awaitable[str]], status: int, call: str
) -> None:
    from runai_registry_async import ClientCredentials, RedirectError

    received: list[str] = []

    async def other_origin(request: web.Request) -> web.Response:
        received.append(f"{request.method} {request.path} {await request.read()!r}")
        return web.json_response({"entries": [], "accessToken": "x", "access_token": "x"})

    other = await serve(other_origin)

    async def redirecting(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": f"{other}/stolen?sig=QUERY-SECRET"})

    base = await serve(redirecting)
    if call.startswith("token"):
        auth = ClientCredentials("app", "client-SECRET-31", endpoint=call[-2:])  # type: ignore[arg-type]
        client = RegistryClient(base, auth=auth, retry=None)
        call_it: Callable[[], Awaitable[object]] = client.list_registries
    else:
        client = RegistryClient(base, token=SECRET_TOKEN, retry=None)
        call_it = _calls(client)[call]
    async with client:
        with pytest.raises(RedirectError) as caught:
            await call_it()
    assert received == []
    error = caught.value
    assert error.status == status
    assert error.location == other  # the origin only
    assert other in str(error)
    assert "QUERY-SECRET" not in str(error)
    assert "stolen" not in str(error)


async def test_a_relative_redirect_names_the_servers_own_origin(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    from runai_registry_async import RedirectError

    async def redirecting(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/elsewhere?token=x"})

    base = await serve(redirecting)
    async with RegistryClient(base, token=SECRET_TOKEN) as client:
        with pytest.raises(RedirectError, match=r"HTTP 302: redirected to http://127\.0\.0\.1"):
            await client.list_registries()


# --- the loopback rule ------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["api.localhost", "localhost.example.com", "127.0.0.1.nip.io"])
def test_names_that_merely_look_local_are_not_loopback(host: str) -> None:
    # *.localhost is resolved through DNS like any name: it could point anywhere.
    with pytest.raises(ValueError, match="refusing plain http://"):
        RegistryClient(f"http://{host}:8080", token="t")


async def test_localhost_and_loopback_literals_may_use_http(emulator: RunaiEmulator) -> None:
    port = emulator.base_url.rsplit(":", 1)[1]
    for base in (f"http://localhost:{port}", f"http://127.0.0.1:{port}"):
        async with RegistryClient(base, token=emulator.token) as client:
            assert await client.list_registries() == []


def test_base_url_errors_never_echo_credentials_or_query() -> None:
    for url in (
        "ftp://admin:hunter2@host/x?key=QSECRET",
        "https://host/x?key=QSECRET#frag",
        "http://admin:hunter2@10.0.0.1/?key=QSECRET",
    ):
        with pytest.raises(ValueError, match="base_url") as caught:
            RegistryClient(url, token="t")
        assert "hunter2" not in str(caught.value)
        assert "QSECRET" not in str(caught.value)


async def test_a_borrowed_session_gets_the_clients_ssl_context() -> None:
    server_context, trusted = tls_contexts()
    async with RunaiEmulator(ssl_context=server_context) as emulator:
        async with aiohttp.ClientSession() as session:  # its connector verifies by default
            with_context = RegistryClient(
                emulator.base_url, token=emulator.token, session=session, ssl=trusted
            )
            assert await with_context.list_registries() == []
            without = RegistryClient(
                emulator.base_url, token=emulator.token, session=session, retry=None
            )
            with pytest.raises(TransportError, match="certificate"):
                await without.list_registries()
        assert emulator.count("list_registries") == 1


# --- NO_PROXY, read as curl reads it (pure) ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("admin:hunter2@host/x?key=QSECRET", "'host/x'"),
        ("admin:hun@ter2@host/x", "'host/x'"),  # an unescaped @ in the password
        ("host/x?key=QSECRET#frag", "'host/x'"),
        ("host/x#frag?key=QSECRET", "'host/x'"),
        ("ftp://admin:hunter2@host/x?key=QSECRET#f", "'ftp://host/x'"),
    ],
)
def test_a_base_url_is_shown_without_credentials_query_or_fragment(url: str, shown: str) -> None:
    expected = f"base_url must be an http(s) URL with a host, got {shown}"
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        RegistryClient(url, token="t")


def test_proxy_credentials_quoted_in_an_error_are_blanked() -> None:
    proxy = Secret("http://proxy-user:pr0xy-pa55@127.0.0.1:3128")
    quoted = TransportError(
        "GET /x: cannot connect: http://proxy-user:pr0xy-pa55@127.0.0.1:3128 refused",
        operation="GET /x",
    )
    scrubbed = without_proxy_credentials(quoted, proxy)
    assert scrubbed is quoted
    assert scrubbed.args == ("GET /x: cannot connect: http://***:***@127.0.0.1:3128 refused",)
    named = TransportError("GET /x: http://only-user@127.0.0.1:3128 refused", operation="GET /x")
    user_only = Secret("http://only-user@127.0.0.1:3128")
    assert without_proxy_credentials(named, user_only).args == (
        "GET /x: http://***@127.0.0.1:3128 refused",
    )
    untouched = TransportError("GET /x: proxy-user", operation="GET /x")
    assert without_proxy_credentials(untouched, None).args == ("GET /x: proxy-user",)


@pytest.mark.parametrize(
    "location",
    ["http://[::1", "http://", "/relative/path?sig=S3CRET"],
    ids=["bad", "no-host", "rel"],
)
async def test_an_odd_redirect_location_is_named_without_its_path(
    serve: Callable[[Handler], Awaitable[str]], location: str
) -> None:
    from runai_registry_async import RedirectError

    async def redirecting(request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": location})

    base = await serve(redirecting)
    async with RegistryClient(base, token="t", retry=None) as client:
        with pytest.raises(RedirectError) as caught:
            await client.list_registries()
    # Without a host of its own, a location names the server's own origin.
    expected = "an unparsable location" if location == "http://[::1" else base
    assert caught.value.location == expected
    assert caught.value.operation == "GET /api/v1/asset/registries"


async def test_every_request_sent_is_counted(emulator: RunaiEmulator) -> None:
    emulator.fail_next("list_registries", 2, status=503)
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        assert client.requests_sent == 0
        await client.list_registries()  # two 503s, then the answer
        await client.list_repositories(emulator.add_registry("r").id)
        assert client.requests_sent == 4


async def test_a_compressed_body_is_read_whole_up_to_exactly_the_limit(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    # Random enough that even compressed it arrives in several chunks.
    tags = [
        f"v{n:06d}-{uuid.UUID(int=n * 7919 + 1).hex}{uuid.uuid5(uuid.NAMESPACE_DNS, str(n)).hex}"
        for n in range(3000)
    ]
    body = orjson.dumps({"name": "r", "tags": tags})

    async def gzipped(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_compression(web.ContentCoding.gzip)
        await response.prepare(request)
        for start in range(0, len(body), 32768):
            await response.write(body[start : start + 32768])
            await asyncio.sleep(0.01)  # paced, so that it is read in several chunks
        await response.write_eof()
        return response

    base = await serve(gzipped)
    identifier = "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"
    async with RegistryClient(base, token="t", max_response_bytes=len(body)) as client:
        assert (await client.list_tags(identifier, "r")).tags == tags
    async with RegistryClient(base, token="t", max_response_bytes=len(body) - 1) as client:
        with pytest.raises(DecodeError) as caught:
            await client.list_tags(identifier, "r")
    operation = f"GET /api/v1/asset/registries/{identifier}/repositories/tags (repository 'r')"
    assert caught.value.operation == operation
    assert str(caught.value) == (
        f"{operation}: response larger than max_response_bytes ({len(body) - 1} bytes)"
    )


async def test_a_plain_body_longer_than_the_limit_is_refused_as_it_arrives(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    body = orjson.dumps({"name": "r", "tags": [f"v{n:07d}" for n in range(100_000)]})

    async def plain(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")  # Content-Length set

    base = await serve(plain)
    identifier = "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"
    async with RegistryClient(base, token="t", max_response_bytes=len(body)) as client:
        assert len((await client.list_tags(identifier, "r")).tags) == 100_000
    async with RegistryClient(base, token="t", max_response_bytes=len(body) - 1) as client:
        with pytest.raises(DecodeError, match=r": response larger than max_response_bytes \("):
            await client.list_tags(identifier, "r")


async def test_each_answer_is_logged_at_debug_with_its_status_and_time(
    emulator: RunaiEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.delay("list_registries", 0.05)
    caplog.set_level(logging.DEBUG, logger="runai_registry_async")
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        started = time.perf_counter()
        await client.list_registries()
        took_ms = (time.perf_counter() - started) * 1000
    lines = [r.getMessage() for r in caplog.records if " -> " in r.getMessage()]
    assert len(lines) == 1
    found = re.fullmatch(r"GET /api/v1/asset/registries -> 200 in (\d+\.\d) ms", lines[0])
    assert found is not None, lines[0]
    # Inside the call, and at least the server's delay: the logged time is the request's.
    assert 50 <= float(found.group(1)) <= took_ms + 0.1


async def test_a_body_that_breaks_off_is_a_transport_error_naming_the_request(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    base = await serve(breaks_off_after(200, b'{"entries"'))
    async with RegistryClient(base, token="t", retry=None) as client:
        with pytest.raises(TransportError) as caught:
            await client.list_registries()
    operation = "GET /api/v1/asset/registries"
    assert caught.value.operation == operation
    assert str(caught.value).startswith(f"{operation}: ClientPayloadError: ")


async def test_an_error_status_whose_body_breaks_off_is_still_that_status(
    serve: Callable[[Handler], Awaitable[str]],
) -> None:
    base = await serve(breaks_off_after(503, b""))  # not a byte of the body arrives
    async with RegistryClient(base, token="t", retry=None) as client:
        with pytest.raises(ServiceUnavailableError) as caught:
            await client.list_registries()
    assert str(caught.value) == "GET /api/v1/asset/registries: HTTP 503: empty body"


CLOSED_TOKEN = "closed-session-SECRET-token"  # a global: no frame of the test holds it


async def test_a_borrowed_session_closed_by_its_owner_is_a_transport_error() -> None:
    # aiohttp's RuntimeError escaped, its traceback locals holding the bearer token.
    import traceback

    session = aiohttp.ClientSession()
    await session.close()
    client = RegistryClient("https://runai.example.com", token=CLOSED_TOKEN, session=session)
    with pytest.raises(TransportError) as caught:
        await client.list_registries()
    assert str(caught.value) == "GET /api/v1/asset/registries: the aiohttp session is closed"
    assert caught.value.retryable is False
    rendered = traceback.TracebackException.from_exception(caught.value, capture_locals=True)
    assert CLOSED_TOKEN not in "".join(rendered.format())
