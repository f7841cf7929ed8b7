"""The emulator against the spec, through plain HTTP and through the client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from runai_registry_async import (
    AssetCreationRequest,
    AssetUpdateRequest,
    ConflictError,
    NotFoundError,
    RegistryClient,
    RegistryCreationRequest,
    RegistrySpecRequest,
    RegistryUpdateRequest,
    Scope,
)
from runai_registry_async.testing import RunaiEmulator

SPEC = json.loads((Path(__file__).parent / "data" / "registry-openapi.json").read_text())
REGISTRIES = "/api/v1/asset/registries"
VALID = {
    "meta": {"name": "hub", "scope": "tenant"},
    "spec": {"url": "https://hub.example.com", "user": "u", "password": "PASSWORD-42"},
}


async def call(
    emulator: RunaiEmulator, method: str, path: str, body: Any = None, *, auth: bool = True
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {emulator.token}"} if auth else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, emulator.base_url + path, json=body, headers=headers) as response,
    ):
        text = await response.text()
        return response.status, json.loads(text) if text else None


def assert_error_body(body: Any, status: int) -> None:
    required = SPEC["components"]["schemas"]["Error"]["required"]
    assert set(required) <= set(body)
    assert body["code"] == status
    assert isinstance(body["message"], str)


async def test_create_get_update_delete_over_plain_http(emulator: RunaiEmulator) -> None:
    status, created = await call(emulator, "POST", REGISTRIES, VALID)
    assert status == 201
    meta = created["meta"]
    assert {"id", "kind", "createdAt", "updatedAt", "createdBy", "updatedBy"} <= set(meta)
    assert (meta["kind"], meta["updateCount"], created["spec"]["credentialKind"]) == (
        "registry",
        0,
        "password",
    )
    path = f"{REGISTRIES}/{meta['id']}"
    assert await call(emulator, "GET", path) == (200, created)
    update = {"meta": {"name": "hub2"}, "spec": VALID["spec"]}
    status, updated = await call(emulator, "PUT", path, update)
    assert (status, updated["meta"]["name"], updated["meta"]["updateCount"]) == (200, "hub2", 1)
    status, updated = await call(emulator, "PUT", path, update)
    assert updated["meta"]["updateCount"] == 2
    assert updated["meta"]["createdAt"] == meta["createdAt"]
    assert await call(emulator, "DELETE", path) == (204, None)
    status, body = await call(emulator, "GET", path)
    assert status == 404
    assert_error_body(body, 404)


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (lambda b: b["meta"].pop("name"), "meta.name"),
        (lambda b: b["meta"].update(name=""), "meta.name"),
        (lambda b: b["meta"].update(scope="galaxy"), "meta.scope"),
        (lambda b: b["meta"].update(description="x" * 251), "meta.description"),
        (lambda b: b["spec"].pop("password"), "spec.password"),
        (lambda b: b["spec"].update(url=""), "spec.url"),
        (lambda b: b.pop("spec"), "spec is required"),
    ],
)
async def test_invalid_bodies_are_400_with_an_error_body(
    emulator: RunaiEmulator, change: Any, detail: str
) -> None:
    body = json.loads(json.dumps(VALID))
    change(body)
    status, answer = await call(emulator, "POST", REGISTRIES, body)
    assert status == 400
    assert_error_body(answer, 400)
    assert detail in answer["details"]
    assert "PASSWORD-42" not in json.dumps(answer)
    assert emulator.registries == {}


async def test_401_without_a_valid_token(emulator: RunaiEmulator) -> None:
    status, body = await call(emulator, "GET", REGISTRIES, auth=False)
    assert status == 401
    assert_error_body(body, 401)
    emulator.expire_tokens()
    status, _ = await call(emulator, "GET", REGISTRIES)
    assert status == 401


async def test_conflicts_filters_and_lookups_through_the_client(emulator: RunaiEmulator) -> None:
    other = emulator.add_registry("other")
    emulator.add_repository(other.id, "team/app", tags=["1.0", "2.0-rc", "latest"])
    emulator.add_repository(other.id, "infra/db", tags=[])
    request = RegistryCreationRequest(
        AssetCreationRequest("hub", Scope.TENANT), RegistrySpecRequest("https://h", "u", "p")
    )
    async with RegistryClient(emulator.base_url, token=emulator.token, retry=None) as client:
        created = await client.create_registry(request)
        with pytest.raises(ConflictError):
            await client.create_registry(request)
        with pytest.raises(ConflictError):
            await client.update_registry(
                other.id,
                RegistryUpdateRequest(
                    AssetUpdateRequest("hub"), RegistrySpecRequest("h", "u", "p")
                ),
            )
        assert [r.meta.id for r in await client.list_registries("hub")] == [created.meta.id]
        assert len(await client.list_registries()) == 2
        assert await client.list_repositories(other.id, search_name="team/") == ["team/app"]
        tags = await client.list_tags(other.id, "team/app", search_name="-rc")
        assert tags.tags == ["2.0-rc"]
        with pytest.raises(NotFoundError):
            await client.list_tags(other.id, "no/such")
        with pytest.raises(NotFoundError):
            await client.list_repositories(str(__import__("uuid").uuid4()))
    status, body = await call(emulator, "GET", f"{REGISTRIES}/{other.id}/repositories/tags")
    assert status == 400
    assert_error_body(body, 400)
    status, _ = await call(emulator, "GET", f"{REGISTRIES}/not-a-uuid")
    assert status == 400


async def test_query_values_arrive_exactly_as_passed(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    names = ["team/app", "a&b=c", "x#y", "sp ace", "100%", "a+b", "ünï", "q?x"]
    for name in names:
        emulator.add_repository(registry.id, name, tags=[name])
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        for name in names:
            assert (await client.list_tags(registry.id, name, search_name=name)).tags == [name]
            assert await client.list_repositories(registry.id, search_name=name) == [name]
    tag_requests = [r for r in emulator.requests if r.operation == "list_tags"]
    assert [r.query for r in tag_requests] == [{"repository": n, "searchName": n} for n in names]


async def test_faults_and_request_log(emulator: RunaiEmulator) -> None:
    emulator.fail_next("list_registries", 1, status=502, retry_after="2", body=b"<html>bad</html>")
    async with aiohttp.ClientSession() as session:
        url = emulator.base_url + REGISTRIES
        headers = {"Authorization": f"Bearer {emulator.token}"}
        async with session.get(url, headers=headers) as response:
            assert response.status == 502
            assert response.headers["Retry-After"] == "2"
            assert await response.text() == "<html>bad</html>"
        async with session.get(url, headers=headers) as response:
            assert response.status == 200
    assert [(r.operation, r.status, r.authorized) for r in emulator.requests] == [
        ("list_registries", 502, True),
        ("list_registries", 200, True),
    ]
    with pytest.raises(ValueError, match="unknown operation"):
        emulator.fail_next("list_everything")


async def test_bad_requests_through_the_client_never_reach_the_emulator(
    emulator: RunaiEmulator,
) -> None:
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        with pytest.raises(ValueError, match="asset_id"):
            await client.get_registry("../../etc")
    assert emulator.requests == []


@pytest.mark.parametrize("scope", [["tenant"], {"a": 1}, 5, None])
async def test_a_scope_that_is_not_a_string_is_a_400_not_a_500(
    emulator: RunaiEmulator, scope: Any
) -> None:
    body = {
        "meta": {"name": "x", "scope": scope},
        "spec": {"url": "https://r", "user": "u", "password": "p"},
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            emulator.base_url + "/api/v1/asset/registries",
            json=body,
            headers={"Authorization": f"Bearer {emulator.token}"},
        ) as response,
    ):
        assert response.status == 400
        error = await response.json()
    assert error["message"] == "Invalid request body"
    assert "scope" in error["details"]


async def test_an_update_cannot_change_read_only_fields(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r", description="kept?")
    before = dict(registry.meta)
    body = {
        "meta": {
            "name": "renamed",
            "id": "00000000-0000-0000-0000-000000000000",
            "kind": "compute",
            "createdAt": "1999-01-01T00:00:00Z",
            "createdBy": "mallory",
            "tenantId": 9,
        },
        "spec": {"url": "https://r", "user": "u", "password": "p", "extra": "x"},
    }
    async with (
        aiohttp.ClientSession() as session,
        session.put(
            f"{emulator.base_url}/api/v1/asset/registries/{registry.id}",
            json=body,
            headers={"Authorization": f"Bearer {emulator.token}"},
        ) as response,
    ):
        assert response.status == 200
        meta = (await response.json())["meta"]
    for key in ("id", "kind", "createdAt", "createdBy", "tenantId"):
        assert meta[key] == before[key]
    assert meta["name"] == "renamed"
    assert "description" not in meta  # the update replaced it with none
    assert "extra" not in emulator.registries[registry.id].spec


async def test_pushing_and_deleting_tags_show_in_the_next_answer(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("hub")
    emulator.add_repository(registry.id, "team/app", tags=["1.0"])
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        assert (await client.list_tags(registry.id, "team/app")).tags == ["1.0"]
        emulator.push_tags(registry.id, "team/app", "1.1", "1.0", "1.2")
        assert (await client.list_tags(registry.id, "team/app")).tags == ["1.0", "1.1", "1.2"]
        emulator.delete_tags(registry.id, "team/app", "1.0", "9.9")
        assert (await client.list_tags(registry.id, "team/app")).tags == ["1.1", "1.2"]
        emulator.push_tags(registry.id, "team/new", "0.1")
        assert await client.list_repositories(registry.id) == ["team/app", "team/new"]


async def test_a_change_made_directly_to_the_store_is_never_answered_stale(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("hub")
    emulator.add_repository(registry.id, "team/app", tags=["1.0"])
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        assert (await client.list_tags(registry.id, "team/app")).tags == ["1.0"]
        emulator.registries[registry.id].repositories["team/app"].append("2.0")
        assert (await client.list_tags(registry.id, "team/app")).tags == ["1.0", "2.0"]


@pytest.mark.parametrize(
    ("scope", "needed"), [("project", "projectId"), ("department", "departmentId")]
)
async def test_a_scoped_create_without_its_id_is_a_400_as_the_spec_says(
    emulator: RunaiEmulator, scope: str, needed: str
) -> None:
    body = {
        "meta": {"name": "n", "scope": scope},
        "spec": {"url": "https://h.io", "user": "u", "password": "p"},
    }
    headers = {"Authorization": f"Bearer {emulator.token}"}
    async with aiohttp.ClientSession() as session:
        url = emulator.base_url + "/api/v1/asset/registries"
        async with session.post(url, json=body, headers=headers) as response:
            assert response.status == 400
            assert needed in (await response.json())["details"]


async def test_the_admin_routes_push_and_delete_tags_from_outside(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("hub")
    emulator.add_repository(registry.id, "team/app", tags=["1.0"])
    path = f"/_emulator/registries/{registry.id}/tags"
    status, body = await call(emulator, "POST", path, {"repository": "team/app", "tags": ["1.1"]})
    assert (status, body) == (200, {"repository": "team/app", "tags": ["1.0", "1.1"]})
    status, body = await call(emulator, "DELETE", path, {"repository": "team/app", "tags": ["1.0"]})
    assert (status, body) == (200, {"repository": "team/app", "tags": ["1.1"]})
    async with RegistryClient(emulator.base_url, token=emulator.token) as client:
        assert (await client.list_tags(registry.id, "team/app")).tags == ["1.1"]
    # Not part of the API: neither recorded nor counted against its limits.
    assert [r.operation for r in emulator.requests] == ["list_tags"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (None, 400),
        ([], 400),
        ({"repository": "", "tags": ["1"]}, 400),
        ({"repository": "team/app", "tags": []}, 400),
        ({"repository": "team/app", "tags": ["1", 2]}, 400),
        ({"repository": "team/app", "tags": "1.0"}, 400),
    ],
)
async def test_a_bad_admin_body_is_a_400(emulator: RunaiEmulator, body: Any, status: int) -> None:
    registry = emulator.add_registry("hub")
    path = f"/_emulator/registries/{registry.id}/tags"
    answer, error = await call(emulator, "POST", path, body)
    assert answer == status
    assert_error_body(error, status)
    assert emulator.registries[registry.id].repositories == {}


async def test_the_admin_routes_need_the_token_and_a_known_registry(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("hub")
    change = {"repository": "team/app", "tags": ["1.0"]}
    path = f"/_emulator/registries/{registry.id}/tags"
    assert (await call(emulator, "POST", path, change, auth=False))[0] == 401
    unknown = "/_emulator/registries/00000000-0000-0000-0000-000000000000/tags"
    assert (await call(emulator, "POST", unknown, change))[0] == 404
    assert (await call(emulator, "DELETE", path, change))[0] == 404  # no such repository
    assert emulator.registries[registry.id].repositories == {}
