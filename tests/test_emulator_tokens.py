"""The emulator's token endpoints against the 2.24 control plane's shapes, over HTTP."""

from __future__ import annotations

import base64
import time
from typing import Any

import aiohttp
import orjson
import pytest

from runai_registry_async.testing import RunaiEmulator

V1_KEYS = {"accessToken", "idToken", "refreshToken", "expiresIn"}


async def post(
    emulator: RunaiEmulator, path: str, *, json: Any = None, form: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(emulator.base_url + path, json=json, data=form) as response,
    ):
        return response.status, orjson.loads(await response.read())


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(payload + "=" * 4))
    return decoded


@pytest.mark.parametrize(
    "body",
    [
        # What the official SDK (runapy 1.224) sends, keys in its own case.
        {"grantType": "app_token", "AppId": "emulator-client", "AppSecret": "emulator-secret"},
        {"grantType": "app_token", "appID": "emulator-client", "appSecret": "emulator-secret"},
        {
            "grantType": "client_credentials",
            "clientID": "emulator-client",
            "clientSecret": "emulator-secret",
        },
        {
            "GRANTTYPE": "client_credentials",
            "clientid": "emulator-client",
            "ClientSecret": "emulator-secret",
        },
    ],
)
async def test_v1_accepts_app_and_client_credentials_keys_in_any_case(
    emulator: RunaiEmulator, body: dict[str, str]
) -> None:
    status, answer = await post(emulator, "/api/v1/token", json=body)
    assert (status, set(answer)) == (200, V1_KEYS)
    assert answer["expiresIn"] == 3600
    # JWT-shaped, with the expiry a client such as the SDK reads from the token itself.
    expiry = claims(answer["accessToken"])["exp"]
    assert abs(expiry - (time.time() + 3600)) < 60
    assert claims(answer["idToken"])["sub"] == "emulator-client"
    assert emulator.tokens_issued == 1
    headers = {"Authorization": f"Bearer {answer['accessToken']}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(emulator.base_url + "/api/v1/asset/registries", headers=headers) as response,
    ):
        assert response.status == 200
    # The id token is not an access token.
    headers = {"Authorization": f"Bearer {answer['idToken']}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(emulator.base_url + "/api/v1/asset/registries", headers=headers) as response,
    ):
        assert response.status == 401


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"grantType": "app_token", "AppId": "emulator-client", "AppSecret": "no"},
            401,
            "Invalid client credentials",
        ),
        (
            {
                "grantType": "client_credentials",
                "clientID": "someone",
                "clientSecret": "emulator-secret",
            },
            401,
            "Invalid client credentials",
        ),
        ({"grantType": "refresh_token", "refreshToken": "r"}, 400, "Unsupported grant type"),
        (
            {"grantType": "password", "username": "u", "password": "p"},
            400,
            "Unsupported grant type",
        ),
        ({"grantType": "magic"}, 400, "Invalid grant type"),
        ({"AppId": "emulator-client", "AppSecret": "emulator-secret"}, 400, "Invalid grant type"),
        # app_token reads the app keys, not the client ones.
        (
            {
                "grantType": "app_token",
                "clientID": "emulator-client",
                "clientSecret": "emulator-secret",
            },
            400,
            "Invalid request body",
        ),
        (
            {"grantType": "app_token", "AppId": 7, "AppSecret": "emulator-secret"},
            400,
            "Invalid request body",
        ),
        ([1, 2], 400, "Invalid request body"),
    ],
)
async def test_v1_rejects_the_rest_with_the_spec_error_body(
    emulator: RunaiEmulator, body: Any, status: int, message: str
) -> None:
    got, answer = await post(emulator, "/api/v1/token", json=body)
    assert (got, answer["code"], answer["message"]) == (status, status, message)
    assert isinstance(answer["details"], str)
    assert "emulator-secret" not in orjson.dumps(answer).decode()
    assert emulator.tokens_issued == 0


async def test_v2_is_oauth2_client_credentials(emulator: RunaiEmulator) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": "emulator-client",
        "client_secret": "emulator-secret",
    }
    status, answer = await post(emulator, "/api/v2/token", form=form)
    assert (status, set(answer)) == (200, {"access_token", "token_type", "expires_in"})
    assert (answer["token_type"], answer["expires_in"]) == ("Bearer", 3600)
    assert "exp" in claims(answer["access_token"])


@pytest.mark.parametrize(
    ("form", "json", "status", "error"),
    [
        (
            {
                "grant_type": "client_credentials",
                "client_id": "emulator-client",
                "client_secret": "x",
            },
            None,
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "password", "username": "u", "password": "p"},
            None,
            400,
            "unsupported_grant_type",
        ),
        (
            {"client_id": "emulator-client", "client_secret": "emulator-secret"},
            None,
            400,
            "invalid_request",
        ),
        ({"grant_type": "client_credentials"}, None, 400, "invalid_request"),
        # OAuth2 token requests are forms; JSON is not one.
        (
            None,
            {
                "grant_type": "client_credentials",
                "client_id": "emulator-client",
                "client_secret": "emulator-secret",
            },
            400,
            "invalid_request",
        ),
    ],
)
async def test_v2_errors_are_oauth2_error_bodies(
    emulator: RunaiEmulator, form: Any, json: Any, status: int, error: str
) -> None:
    got, answer = await post(emulator, "/api/v2/token", form=form, json=json)
    assert (got, answer["error"]) == (status, error)
    assert set(answer) == {"error", "error_description"}
