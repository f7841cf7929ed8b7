"""The password, the bearer token and the client secret never show up anywhere."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import string
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runai_registry_async import (
    AssetCreationRequest,
    ClientCredentials,
    DecodeError,
    RegistryClient,
    RegistryCreationRequest,
    RegistrySpecRequest,
    RunaiError,
    Scope,
)
from runai_registry_async.testing import RunaiEmulator

from .conftest import (
    BASE,
    PASSWORD,
    REGISTRY_ID,
    TOKEN,
    operation_calls,
    registry_json,
    start_server,
)
from .conftest import OPERATIONS as SEVEN_OPERATIONS

SECRET = "client-SECRET-0987"


def assert_clean(text: str) -> None:
    for secret in (PASSWORD, TOKEN, SECRET):
        assert secret not in text


async def test_client_and_credentials_reprs() -> None:
    client = RegistryClient(BASE, token=TOKEN)
    credentials = ClientCredentials("app", SECRET)
    assert_clean(repr(client) + repr(credentials) + str(credentials))
    assert_clean(repr(RegistryClient(BASE, auth=credentials)))
    await client.aclose()


async def test_nothing_leaks_into_debug_logs_or_errors(
    mocked: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"{BASE}/api/v1/asset/registries"
    mocked.get(url, payload={"entries": [registry_json()]})
    mocked.post(url, status=409, payload={"code": 409, "message": "exists"})
    mocked.get(
        f"{url}/{REGISTRY_ID}",
        status=200,
        body=b'{"meta": {}, "spec": {"password": "' + PASSWORD.encode() + b'"',
    )
    errors: list[RunaiError] = []
    async with RegistryClient(BASE, token=TOKEN, retry=None) as client:
        registries = await client.list_registries()
        try:
            await client.create_registry(
                RegistryCreationRequest(
                    AssetCreationRequest("n", Scope.TENANT),
                    RegistrySpecRequest("https://r", "u", PASSWORD),
                )
            )
        except RunaiError as exc:
            errors.append(exc)
        try:
            await client.get_registry(REGISTRY_ID)
        except RunaiError as exc:
            errors.append(exc)
    assert len(errors) == 2
    assert_clean(repr(registries) + str(registries))
    for error in errors:
        assert_clean(str(error) + repr(error) + repr(error.args))
    records = caplog.records
    assert any(
        re.search(r"GET /api/v1/asset/registries -> 200 in [\d.]+ ms", r.getMessage())
        for r in records
    )
    assert_clean("\n".join(r.getMessage() + repr(r.args) for r in records))


async def test_token_request_failures_hide_the_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with RunaiEmulator(client_secret="right") as emulator:
        emulator.add_registry("r", password=PASSWORD)
        credentials = ClientCredentials(emulator.client_id, SECRET)
        async with RegistryClient(emulator.base_url, auth=credentials) as client:
            with pytest.raises(RunaiError) as caught:
                await client.list_registries()
    assert caught.value.status == 401  # type: ignore[attr-defined]
    # A token endpoint's answer is described by its status and code alone.
    assert str(caught.value) == (
        "POST /api/v1/token: HTTP 401: the token request was refused (code 401)"
    )
    assert_clean(str(caught.value) + repr(caught.value))
    assert_clean(caplog.text)


# --- every error path, rendered as error trackers render it ----------------------------------

REFRESH = "refresh-SECRET-4242"
ALL_SECRETS = (PASSWORD, TOKEN, SECRET, REFRESH)
OPERATIONS = (
    *SEVEN_OPERATIONS,
    "iter_registries",
    "iter_repositories",
    "iter_tags",
    "token v1",
    "token v2",
)
MODES = ("status", "garbage", "reset", "timeout")


def _hostile(mode: str, secrets: tuple[str, ...]) -> Any:
    from aiohttp import web

    password, token, _, refresh = secrets

    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        if mode == "reset":
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        if mode == "timeout":
            await asyncio.sleep(5)
        if mode == "status":  # not the spec's Error body: a snippet of it is shown
            body = (
                f'{{"detail": "bad", "password": "{password}", "Authorization": "Bearer {token}",'
                f' "refresh_token": "{refresh}", "idToken": {{"jwt": "{refresh}"}}}}'
            )
            return web.Response(status=500, text=body)
        broken = f'{{"entries": [{{"spec": {{"password": "{password}'.encode() + b'\xff"'
        if "token" in request.path:
            broken = f'{{"access_token": 5, "refresh_token": "{refresh}"}}'.encode()
        elif "tags" in request.path:
            broken = f'{{"name": "r", "tags": ["{password}\xff"]}}'.encode("latin-1")
        elif "repositories" in request.path:
            broken = f'{{"repositories": ["{password}", 5]}}'.encode()
        return web.Response(status=200, body=broken, content_type="application/json")

    return handler


async def _provoke(base: str, operation: str, secrets: tuple[str, ...]) -> BaseException:
    password, token, secret, _ = secrets
    if operation.startswith("token"):
        auth = ClientCredentials("app", secret, endpoint=operation[-2:])  # type: ignore[arg-type]
        client = RegistryClient(base, auth=auth, retry=None, timeout=0.3)
        operation = "list_registries"
    else:
        client = RegistryClient(base, token=token, retry=None, timeout=0.3)
    calls: dict[str, Callable[[], Awaitable[Any]]] = {
        **operation_calls(client, REGISTRY_ID, password=password),
        "iter_registries": lambda: _drain(client.iter_registries()),
        "iter_repositories": lambda: _drain(client.iter_repositories(REGISTRY_ID)),
        "iter_tags": lambda: _drain(client.iter_tags(REGISTRY_ID, "team/app")),
    }
    async with client:
        return await _caught(calls[operation])


async def _caught(call: Callable[[], Awaitable[Any]]) -> RunaiError:
    # The error's traceback starts here: a frame whose locals hold no secret of the test's.
    try:
        await call()
    except RunaiError as exc:
        return exc
    raise AssertionError("the call did not fail")


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


def _everything_shown(error: BaseException) -> str:
    """What an error tracker could show: the traceback with every frame's locals, and
    every exception and attribute reachable from the error."""
    shown = [
        "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    ]
    seen: set[int] = set()

    def walk(value: Any, depth: int) -> None:
        if id(value) in seen or depth > 4:
            return
        seen.add(id(value))
        shown.append(repr(value))
        if isinstance(value, BaseException):
            shown.append(str(value))
            walk(value.__cause__, depth + 1)
            walk(value.__context__, depth + 1)
            for frame, _ in traceback.walk_tb(value.__traceback__):
                for local in frame.f_locals.values():
                    walk(local, depth + 1)
        for attribute in getattr(value, "__dict__", {}).values():
            walk(attribute, depth + 1)

    walk(error, 0)
    return "\n".join(shown)


@pytest.mark.parametrize(
    ("operation", "mode"),
    # DELETE reads no body, so a broken one cannot fail it.
    [(o, m) for o in OPERATIONS for m in MODES if (o, m) != ("delete_registry", "garbage")],
)
async def test_no_error_path_shows_a_secret(
    serve: Any, operation: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    base = await serve(_hostile(mode, ALL_SECRETS))
    error = await _provoke(base, operation, ALL_SECRETS)
    text = _everything_shown(error) + caplog.text
    for secret in ALL_SECRETS:
        assert secret not in text, f"{secret} shown"
    assert error.__context__ is None or isinstance(error.__context__, RunaiError)


@settings(max_examples=12, deadline=None)
@given(
    # A marker that no output holds by chance (a bare random word may spell a class name).
    secrets=st.tuples(
        *[
            st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=32).map(
                "Zq9-SECRET-".__add__
            )
        ]
        * 4
    ),
    mode=st.sampled_from(MODES[:2]),
    operation=st.sampled_from([o for o in OPERATIONS if o != "delete_registry"]),
)
def test_random_secrets_never_show_on_any_error_path(
    secrets: tuple[str, ...], mode: str, operation: str
) -> None:
    async def scenario() -> str:
        base, runner = await start_server(_hostile(mode, secrets))
        try:
            return _everything_shown(await _provoke(base, operation, secrets))
        finally:
            await runner.cleanup()

    text = asyncio.run(scenario())
    for secret in secrets:
        assert secret not in text


# --- what a body snippet shows -----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"password":"abc\\"SECRET-TAIL", "x": 1',  # an escaped quote inside the value
        b'{"refreshToken": "SECRET-TAIL"} trailing',
        b'{"idToken": "SECRET-TAIL"',
        b'{"refresh_token": "SECRET-TAIL", "id_token": "SECRET-TAIL"',
        b'{"accessToken": {"jwt": "SECRET-TAIL", "more": ["SECRET-TAIL"]}, "ok": 1',
        b'{"clientSecret": ["SECRET-TAIL", {"a": "SECRET-TAIL"}]',
        b'{"db_password": 12345678, "n": 0',  # a number value
        b"password=SECRET-TAIL&client_secret=SECRET-TAIL&user=bob",
        b"<html><body>Authorization: Bearer SECRET-TAIL <b>x</b></body></html>",
        b"<pre>api_key: SECRET-TAIL\ncredentials = SECRET-TAIL</pre>",
        b'{"password": "SECRET-TAIL',  # cut off inside the value
    ],
)
def test_snippets_blank_every_secret_looking_value(body: bytes) -> None:
    from runai_registry_async._secrets import snippet

    shown = snippet(body)
    assert "SECRET-TAIL" not in shown
    assert "12345678" not in shown
    assert "***" in shown


def test_snippets_keep_what_is_not_secret() -> None:
    from runai_registry_async._secrets import snippet

    shown = snippet(b'{"message": "quota exceeded", "password": "x", "retry": 3}')
    assert "quota exceeded" in shown
    assert "retry" in shown
    assert '"x"' not in shown


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        # An RFC 6749 error code is a fixed word: shown; nothing else of the body is.
        ("invalid_client", "OAuth2 error invalid_client"),
        # Anything else under "error" could be anything: key names only.
        ("SECRET-TAIL", "'opaque'"),
    ],
)
async def test_token_endpoint_errors_show_key_names_only(
    serve: Any, error: str, shown: str
) -> None:
    from aiohttp import web

    async def token_endpoint(request: web.Request) -> web.Response:
        return web.json_response(
            {"error": error, "opaque": "SECRET-TAIL", "error_description": "SECRET-TAIL"},
            status=400,
        )

    base = await serve(token_endpoint)
    auth = ClientCredentials("app", SECRET, endpoint="v2")
    async with RegistryClient(base, auth=auth, retry=None) as client:
        with pytest.raises(RunaiError) as caught:
            await client.list_registries()
    assert "SECRET-TAIL" not in str(caught.value)
    assert shown in str(caught.value)


@pytest.mark.parametrize(
    ("where", "value"),
    [("meta", {"createdAt": 17}), ("meta", {"projectId": True}), ("spec", {"user": None})],
)
async def test_a_registry_that_fails_the_schema_shows_no_password(
    mocked: Any, where: str, value: dict[str, Any]
) -> None:
    # Valid JSON with the password in it, wrong in one field: it fails inside the fast
    # converter's generated function, whose frame holds every field read so far.
    document = registry_json()
    document["spec"]["password"] = PASSWORD
    document[where].update(value)
    mocked.get(f"{BASE}/api/v1/asset/registries/{REGISTRY_ID}", payload=document)
    async with RegistryClient(BASE, token=TOKEN, retry=None) as client:
        error = await _caught(lambda: client.get_registry(REGISTRY_ID))
    assert isinstance(error, DecodeError)
    assert "response does not match the schema" in str(error)
    assert_clean(_everything_shown(error))


# --- servers that echo what they were sent -------------------------------------------------


def echoing(shape: Callable[[str], Any], status: int = 400) -> Any:
    """A handler answering ``shape(secret)`` as JSON, the secret being the one the
    request carried: the password or client secret of its body, else its bearer token."""
    from urllib.parse import parse_qsl

    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        body = (await request.read()).decode()
        if body.startswith("{"):
            data = json.loads(body)
            sent = data.get("clientSecret") or data["spec"]["password"]
        elif body:
            sent = dict(parse_qsl(body))["client_secret"]
        else:
            sent = request.headers["Authorization"].removeprefix("Bearer ")
        return web.json_response(shape(sent), status=status)

    return handler


ECHOES: dict[str, Callable[[str], Any]] = {
    "in a spec Error's message": lambda sent: {"code": 1, "message": f"invalid: {sent}"},
    "in its details": lambda sent: {"code": 1, "message": "no", "details": sent},
    "under a key named pwd": lambda sent: {"pwd": sent, "x": 1},
    "bare, under any key": lambda sent: {"x": sent},
    "as Bearer in a message": lambda sent: {"code": 1, "message": f"Bearer {sent}"},
}


@pytest.mark.parametrize("shape", sorted(ECHOES))
@pytest.mark.parametrize("endpoint", ["v1", "v2"])
async def test_a_token_endpoint_echoing_the_request_shows_no_secret(
    serve: Any, shape: str, endpoint: str
) -> None:
    base = await serve(echoing(ECHOES[shape], status=401))
    auth = ClientCredentials("app", SECRET, endpoint=endpoint)  # type: ignore[arg-type]
    async with RegistryClient(base, auth=auth, retry=None) as client:
        error = await _caught(client.list_registries)
    assert error.status == 401  # type: ignore[attr-defined]
    assert_clean(_everything_shown(error))


@pytest.mark.parametrize("shape", sorted(ECHOES))
async def test_an_api_echoing_the_password_or_token_shows_neither(serve: Any, shape: str) -> None:
    base = await serve(echoing(ECHOES[shape]))
    async with RegistryClient(base, token=TOKEN, retry=None) as client:
        created = await _caught(lambda: client.create_registry(_creation()))
        listed = await _caught(client.list_registries)
    for error in (created, listed):
        assert error.status == 400  # type: ignore[attr-defined]
        assert_clean(_everything_shown(error))


def _creation() -> RegistryCreationRequest:
    return RegistryCreationRequest(
        AssetCreationRequest("r", Scope.TENANT),
        RegistrySpecRequest("https://r.example.com", "robot", PASSWORD),
    )


async def test_an_error_body_nested_a_thousand_deep_is_an_api_error(serve: Any) -> None:
    # Redacting recursed once per level: RecursionError, not a RunaiError.
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=b"[" * 500 + b"]" * 500, status=400)

    base = await serve(handler)
    async with RegistryClient(base, token=TOKEN, retry=None) as client:
        error = await _caught(client.list_registries)
    assert error.status == 400  # type: ignore[attr-defined]
    assert str(error).startswith("GET /api/v1/asset/registries: HTTP 400: unexpected body '[[[")
