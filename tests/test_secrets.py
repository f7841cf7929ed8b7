"""The password, the bearer token and the client secret never show up anywhere."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from runai_registry_async import (
    AssetCreationRequest,
    ClientCredentials,
    RegistryClient,
    RegistryCreationRequest,
    RegistrySpec,
    RunaiError,
    Scope,
)
from runai_registry_async.testing import RunaiEmulator

from .conftest import BASE, PASSWORD, REGISTRY_ID, TOKEN, registry_json

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
                    RegistrySpec("https://r", "u", PASSWORD),
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
    assert "Invalid client credentials" in str(caught.value)
    assert_clean(str(caught.value) + repr(caught.value))
    assert_clean(caplog.text)
