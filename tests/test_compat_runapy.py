"""The official SDK (runapy) as a real client of the emulator: its own token flow
(``grantType: app_token`` with ``AppId``/``AppSecret``), then the seven operations.

runapy comes with the ``compat`` extra, which .ci/run installs: there (CI=true) a
missing runapy fails this module instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from runai_registry_async.testing import RunaiEmulator

if os.environ.get("CI"):
    import runai
else:
    runai = pytest.importorskip("runai", reason="the 'compat' extra is not installed")

from runai import models
from runai.api import RegistryApi
from runai.api_client import ApiClient
from runai.configuration import Configuration
from runai.exceptions import BadRequestException


def seven_operations(emulator: RunaiEmulator, base_url: str) -> dict[str, Any]:
    """Run in a thread: runapy is synchronous, and the emulator serves on this loop."""
    config = Configuration(
        client_id=emulator.client_id, client_secret=emulator.client_secret, runai_base_url=base_url
    )
    api = RegistryApi(ApiClient(config))
    seen: dict[str, Any] = {"list_before": api.list_registries()}
    request = models.RegistryCreationRequest(
        meta=models.AssetCreationRequest(name="hub", scope="tenant"),
        spec=models.RegistrySpec(
            url="https://hub.example.com", user="robot", password="pw", credential_kind="password"
        ),
    )
    created = seen["create"] = api.create_registry(request)
    asset_id = created.data["meta"]["id"]
    emulator.add_repository(asset_id, "team/app", tags=["1.0", "1.1"])
    seen["get"] = api.get_registry_by_id(asset_id)
    seen["repositories"] = api.get_repositories(asset_id, search_name="team")
    seen["tags"] = api.get_repository_tags(asset_id, repository="team/app")
    seen["list"] = api.list_registries(name="hub")
    try:
        # runapy's RegistryUpdateRequest has no `spec`, which the API requires.
        api.update_registry(asset_id, models.RegistryUpdateRequest(meta={"name": "hub2"}))
    except BadRequestException as exc:
        seen["update_error"] = exc
    seen["delete"] = api.delete_registry(asset_id)
    return seen


async def test_runapy_logs_in_and_runs_the_seven_operations(emulator: RunaiEmulator) -> None:
    emulator.token = "unused-static-token"  # runapy must get its own, through /api/v1/token
    seen = await asyncio.to_thread(seven_operations, emulator, emulator.base_url)
    assert emulator.tokens_issued == 1
    assert [r.path for r in emulator.requests if r.operation == "token"] == ["/api/v1/token"]
    assert all(r.authorized for r in emulator.requests if r.operation != "token")

    assert (seen["list_before"].status_code, seen["list_before"].data) == (200, {"entries": []})
    created = seen["create"]
    assert created.status_code == 201
    assert (created.data["meta"]["name"], created.data["spec"]["user"]) == ("hub", "robot")
    assert seen["get"].data == created.data
    assert seen["repositories"].data == {"repositories": ["team/app"]}
    assert seen["tags"].data == {"name": "team/app", "tags": ["1.0", "1.1"]}
    assert [e["meta"]["name"] for e in seen["list"].data["entries"]] == ["hub"]
    # The one failure is runapy's own: the emulator answers as the spec requires.
    error = seen["update_error"]
    assert (error.status, "spec is required" in error.body) == (400, True)
    assert seen["delete"].status_code == 204
    assert emulator.registries == {}
