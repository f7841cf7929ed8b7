"""Error statuses and bodies become typed errors naming the operation, never a header."""

from __future__ import annotations

import re
from typing import Any

import pytest

from runai_registry_async import (
    ApiError,
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RegistryClient,
    RunaiError,
    ServiceUnavailableError,
    UnauthorizedError,
)
from runai_registry_async._errors import api_error
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
