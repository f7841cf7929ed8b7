"""Error statuses and bodies become typed errors naming the operation, never a header."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from runai_registry_async import (
    ApiError,
    BadRequestError,
    ConflictError,
    DeadlineExceeded,
    ForbiddenError,
    NotFoundError,
    RedirectError,
    RegistryClient,
    RunaiError,
    ServiceUnavailableError,
    TransportError,
    UnauthorizedError,
)
from runai_registry_async._errors import api_error, redirect_error
from runai_registry_async._secrets import snippet

from .conftest import BASE, PASSWORD, REGISTRY_ID, TOKEN

GET_ONE = f"{BASE}/api/v1/asset/registries/{REGISTRY_ID}"

STATUSES = [
    (400, BadRequestError),
    (401, UnauthorizedError),
    (403, ForbiddenError),
    (404, NotFoundError),
    (409, ConflictError),
    (503, ServiceUnavailableError),
    (500, ApiError),
    (418, ApiError),
]


@pytest.mark.parametrize(("status", "cls"), STATUSES)
async def test_error_body_maps_to_the_status_class(
    mocked: Any, client: RegistryClient, status: int, cls: type[ApiError]
) -> None:
    mocked.get(
        GET_ONE, status=status, payload={"code": status, "message": "nope", "details": "why"}
    )
    with pytest.raises(cls) as caught:
        await client.get_registry(REGISTRY_ID)
    error = caught.value
    assert type(error) is cls
    assert isinstance(error, RunaiError)
    assert (error.status, error.code, error.message, error.details) == (
        status,
        status,
        "nope",
        "why",
    )
    assert error.operation == f"GET /api/v1/asset/registries/{REGISTRY_ID}"
    assert str(error) == f"GET /api/v1/asset/registries/{REGISTRY_ID}: HTTP {status}: nope (why)"
    assert TOKEN not in str(error)
    assert "Authorization" not in str(error)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            "unexpected body '<html><body><h1>502 Bad",
        ),
        (b"", "empty body"),
        (b'{"code": 502, "mess', 'unexpected body \'{"code": 502, "mess\''),
        (b'{"error": "different shape"}', "unexpected body"),
        (b'["a list"]', "unexpected body"),
    ],
)
async def test_non_spec_error_bodies_still_raise_the_status_class(
    mocked: Any, client: RegistryClient, body: bytes, expected: str
) -> None:
    mocked.get(GET_ONE, status=503, body=body, content_type="text/html")
    with pytest.raises(ServiceUnavailableError) as caught:
        await client.get_registry(REGISTRY_ID)
    assert caught.value.status == 503
    assert caught.value.code is None
    assert expected in caught.value.message
    assert "HTTP 503" in str(caught.value)


def test_snippet_is_short_and_blanks_secrets() -> None:
    body = b'{"spec": {"password": "' + PASSWORD.encode() + b'", "user": "u"}}' + b"x" * 5000
    text = snippet(body)
    assert PASSWORD not in text
    assert '"password": "***"' in text
    assert len(text) < 220


def test_snippet_blanks_a_secret_cut_off_by_the_limit() -> None:
    body = b'{"accessToken": "' + b"t" * 1000
    assert "tttt" not in snippet(body)


def test_error_with_wrong_typed_fields_in_body() -> None:
    error = api_error(409, b'{"code": "x", "message": "taken", "details": 5}', operation="POST /p")
    assert isinstance(error, ConflictError)
    assert (error.code, error.message, error.details) == (None, "taken", None)


def test_attempts_are_shown_only_when_retried() -> None:
    error = api_error(503, b"", operation="GET /p")
    assert "attempts" not in str(error)
    error.attempts = 3
    assert re.search(r"after 3 attempts\)$", str(error))


# --- errors that say what failed -----------------------------------------------------------------


async def test_messages_name_the_full_path_with_the_base_path(serve: Any) -> None:
    from aiohttp import web

    async def not_found(request: web.Request) -> web.Response:
        return web.json_response({"code": 404, "message": "nope"}, status=404)

    base = await serve(not_found)
    async with RegistryClient(f"{base}/runai/", token="t", retry=None) as client:
        with pytest.raises(NotFoundError) as listing:
            await client.list_registries()
        with pytest.raises(NotFoundError) as tags:
            await client.list_tags(REGISTRY_ID, "team/app", search_name="v1")
        with pytest.raises(NotFoundError) as streamed:
            async for _ in client.iter_tags(REGISTRY_ID, "team/app"):
                pass
    assert str(listing.value).startswith("GET /runai/api/v1/asset/registries: HTTP 404: nope")
    expected = (
        f"GET /runai/api/v1/asset/registries/{REGISTRY_ID}/repositories/tags"
        " (repository 'team/app'): HTTP 404"
    )
    assert str(tags.value).startswith(expected)
    assert str(streamed.value).startswith(expected)
    assert tags.value.status == 404
    assert tags.value.attempts == 1


@pytest.mark.parametrize(
    "url", ["https://host/api/v1", "https://host/api/v1/", "https://host/runai/api/v1"]
)
def test_a_base_url_that_already_ends_with_api_v1_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"ends with /api/v1: give the control plane's root"):
        RegistryClient(url, token="t")


def test_a_client_used_from_a_second_event_loop_says_so() -> None:
    import aiohttp

    from runai_registry_async.testing import RunaiEmulator

    async def first() -> RegistryClient:
        async with RunaiEmulator() as emulator, aiohttp.ClientSession() as session:
            client = RegistryClient(emulator.base_url, token=emulator.token, session=session)
            assert await client.list_registries() == []
            return client

    client = asyncio.run(first())

    async def second() -> None:
        await client.list_registries()

    # Not aiohttp's bare "Event loop is closed": the cause, named.
    with pytest.raises(RuntimeError) as caught:
        asyncio.run(second())
    assert str(caught.value) == (
        "this RegistryClient is bound to the event loop it was first used on (an earlier "
        "asyncio.run?); create the client inside the loop that uses it"
    )


# --- the constructors and api_error, as other modules rely on them -----------------------


def test_error_defaults_are_one_attempt_no_operation_and_retryable() -> None:
    error = RunaiError("m")
    assert (error.operation, error.attempts, str(error)) == ("", 1, "m")
    transport = TransportError("t", operation="GET /x", attempts=3)
    assert (transport.operation, transport.attempts) == ("GET /x", 3)
    assert (transport.connect_failed, transport.retryable) == (False, True)
    assert str(transport) == "t (after 3 attempts)"
    assert str(RunaiError("m", attempts=2)) == "m (after 2 attempts)"
    assert (TransportError("t").operation, TransportError("t").attempts) == ("", 1)
    assert (ApiError(500, None, "m").operation, ApiError(500, None, "m").attempts) == ("", 1)


def test_api_error_keeps_what_it_was_given() -> None:
    error = ApiError(
        429, 429, "slow down", "later", operation="GET /x", attempts=2, retry_after="7"
    )
    assert (error.status, error.code, error.message, error.details) == (
        429,
        429,
        "slow down",
        "later",
    )
    assert (error.operation, error.attempts, error.retry_after) == ("GET /x", 2, "7")
    assert str(error) == "GET /x: HTTP 429: slow down (later) (after 2 attempts)"
    assert str(ApiError(404, None, "gone")) == "HTTP 404: gone"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (300, RedirectError),
        (301, RedirectError),
        (399, RedirectError),
        (400, BadRequestError),
        (402, ApiError),
        (500, ApiError),
        (299, ApiError),
    ],
)
def test_api_error_class_by_status_range(status: int, cls: type[ApiError]) -> None:
    error = api_error(status, b"", operation="GET /x", retry_after="3")
    assert type(error) is cls
    assert (error.message, error.retry_after, error.operation) == ("empty body", "3", "GET /x")


def test_api_error_describes_other_bodies_by_snippet_or_by_key_names() -> None:
    body = b'{"error": "invalid_client", "hint": "x"}'
    assert api_error(400, body, operation="POST /t").message.startswith("unexpected body ")
    # The OAuth2 reading applies to token endpoints only (keys_only).
    assert api_error(400, body, operation="POST /t", keys_only=True).message == (
        "OAuth2 error invalid_client"
    )
    assert "'hint'" in api_error(400, b'{"hint": 1}', operation="POST /t", keys_only=True).message
    assert api_error(400, b"[1, 2]", operation="POST /t", keys_only=True).message  # no crash


def test_a_redirect_error_names_its_operation_and_where_it_pointed() -> None:
    error = redirect_error(302, None, operation="GET /x")
    assert (error.status, error.location, error.operation) == (302, None, "GET /x")
    assert str(error) == ("GET /x: HTTP 302: redirected to nowhere; redirects are never followed")
    assert redirect_error(301, "https://b", operation="GET /x").location == "https://b"


def test_a_deadline_exceeded_is_never_retryable_and_says_its_attempts_once() -> None:
    last = ApiError(503, None, "busy")
    error = DeadlineExceeded("GET /x: 2 attempts in 1 s", operation="GET /x", attempts=2)
    assert (error.operation, error.attempts, error.retryable) == ("GET /x", 2, False)
    assert str(error) == "GET /x: 2 attempts in 1 s"  # no "(after 2 attempts)" again
    assert DeadlineExceeded("m", last_error=last).last_error is last
    default = DeadlineExceeded("m")
    assert (default.operation, default.attempts, default.last_error) == ("", 1, None)
