"""Every operation against aioresponses: what is sent, and what comes back."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from typing import Any

import orjson
import pytest
from yarl import URL

from runai_registry_async import (
    AssetCreationRequest,
    AssetKind,
    AssetUpdateRequest,
    DecodeError,
    Registry,
    RegistryClient,
    RegistryCreationRequest,
    RegistrySpecRequest,
    RegistryUpdateRequest,
    RepositoryTags,
    Scope,
)
from runai_registry_async._converter import dumps

from .conftest import BASE, PASSWORD, REGISTRY_ID, TOKEN, registry_json

REGISTRIES = f"{BASE}/api/v1/asset/registries"


def sent(mocked: Any) -> list[tuple[str, URL, dict[str, Any]]]:
    """(method, url, kwargs) of every request aioresponses saw, in order."""
    calls = [
        (key[0], key[1], call.kwargs) for key, calls in mocked.requests.items() for call in calls
    ]
    return calls


def creation_request() -> RegistryCreationRequest:
    return RegistryCreationRequest(
        AssetCreationRequest("docker-hub", Scope.PROJECT, description="hub", project_id=12),
        RegistrySpecRequest("https://index.docker.io", "robot", PASSWORD),
    )


async def test_list_registries(mocked: Any, client: RegistryClient) -> None:
    mocked.get(REGISTRIES, payload={"entries": [registry_json(), registry_json(name="b")]})
    registries = await client.list_registries()
    assert [r.meta.name for r in registries] == ["docker-hub", "b"]
    registry = registries[0]
    assert isinstance(registry, Registry)
    assert registry.meta.kind is AssetKind.REGISTRY
    assert registry.meta.scope is Scope.PROJECT
    assert registry.meta.created_at == datetime(2024, 5, 1, 10, 20, 30, 123000, tzinfo=timezone.utc)
    assert registry.meta.updated_at.utcoffset() is not None
    assert registry.meta.workload_supported_types is not None
    assert registry.meta.workload_supported_types.dist_framework == "PyTorch"
    assert registry.spec.password == PASSWORD
    ((method, url, kwargs),) = sent(mocked)
    assert (method, str(url)) == ("GET", REGISTRIES)
    assert kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert kwargs.get("data") is None


async def test_list_registries_by_name_encodes_the_query(
    mocked: Any, client: RegistryClient
) -> None:
    mocked.get(re.compile(r".*"), payload={"entries": []})
    assert await client.list_registries(name="a&b=c #1") == []
    ((_, url, _),) = sent(mocked)
    assert dict(url.query) == {"name": "a&b=c #1"}


async def test_create_registry_sends_the_camel_case_body(
    mocked: Any, client: RegistryClient
) -> None:
    mocked.post(REGISTRIES, status=201, payload=registry_json())
    created = await client.create_registry(creation_request())
    assert created.meta.id == REGISTRY_ID
    ((method, url, kwargs),) = sent(mocked)
    assert (method, str(url)) == ("POST", REGISTRIES)
    assert kwargs["headers"]["Content-Type"] == "application/json"
    assert orjson.loads(kwargs["data"]) == {
        "meta": {"name": "docker-hub", "scope": "project", "description": "hub", "projectId": 12},
        "spec": {
            "url": "https://index.docker.io",
            "user": "robot",
            "password": PASSWORD,
            "credentialKind": "password",
        },
    }


async def test_get_registry_accepts_str_and_uuid(mocked: Any, client: RegistryClient) -> None:
    mocked.get(f"{REGISTRIES}/{REGISTRY_ID}", payload=registry_json(), repeat=True)
    by_str = await client.get_registry(REGISTRY_ID.upper())
    by_uuid = await client.get_registry(uuid.UUID(REGISTRY_ID))
    assert by_str == by_uuid
    assert by_str.meta.id == REGISTRY_ID
    assert [str(url) for _, url, _ in sent(mocked)] == [f"{REGISTRIES}/{REGISTRY_ID}"] * 2


async def test_update_registry(mocked: Any, client: RegistryClient) -> None:
    mocked.put(f"{REGISTRIES}/{REGISTRY_ID}", payload=registry_json(name="renamed", updateCount=4))
    request = RegistryUpdateRequest(
        AssetUpdateRequest("renamed"), RegistrySpecRequest("https://r.example.com", "u", "p")
    )
    updated = await client.update_registry(REGISTRY_ID, request)
    assert (updated.meta.name, updated.meta.update_count) == ("renamed", 4)
    ((method, _, kwargs),) = sent(mocked)
    assert method == "PUT"
    assert orjson.loads(kwargs["data"]) == {
        "meta": {"name": "renamed"},
        "spec": {
            "url": "https://r.example.com",
            "user": "u",
            "password": "p",
            "credentialKind": "password",
        },
    }


async def test_delete_registry(mocked: Any, client: RegistryClient) -> None:
    mocked.delete(f"{REGISTRIES}/{REGISTRY_ID}", status=204)
    assert await client.delete_registry(REGISTRY_ID) is None  # type: ignore[func-returns-value]
    ((method, url, kwargs),) = sent(mocked)
    assert (method, str(url), kwargs.get("data")) == ("DELETE", f"{REGISTRIES}/{REGISTRY_ID}", None)


async def test_list_repositories(mocked: Any, client: RegistryClient) -> None:
    mocked.get(re.compile(r".*/repositories\?.*"), payload={"repositories": ["team/app", "b"]})
    assert await client.list_repositories(REGISTRY_ID, search_name="team/") == ["team/app", "b"]
    ((_, url, _),) = sent(mocked)
    assert url.path == f"/api/v1/asset/registries/{REGISTRY_ID}/repositories"
    assert dict(url.query) == {"searchName": "team/"}


async def test_list_tags(mocked: Any, client: RegistryClient) -> None:
    mocked.get(re.compile(r".*/tags\?.*"), payload={"name": "team/app", "tags": ["1.0", "latest"]})
    tags = await client.list_tags(REGISTRY_ID, "team/app", search_name="1.")
    assert tags == RepositoryTags("team/app", ["1.0", "latest"])
    ((_, url, _),) = sent(mocked)
    assert url.path == f"/api/v1/asset/registries/{REGISTRY_ID}/repositories/tags"
    assert dict(url.query) == {"repository": "team/app", "searchName": "1."}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"name": "r", "tags": ["a", "b", 5]}, "expected a string, got int @ $.tags[2]"),
        ({"name": "r", "tags": "a"}, "expected a list, got str @ $.tags"),
        (
            {"name": "r", "tags": [*map(str, range(9000)), None]},
            "expected a string, got NoneType @ $.tags[9000]",
        ),
    ],
)
async def test_list_tags_names_a_tag_that_is_not_a_string(
    mocked: Any, client: RegistryClient, body: dict[str, Any], where: str
) -> None:
    mocked.get(re.compile(r".*/tags\?.*"), payload=body)
    with pytest.raises(DecodeError, match=re.escape(where)):
        await client.list_tags(REGISTRY_ID, "r")


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "abc",
        "../../x",
        f"{REGISTRY_ID}\n",
        f"{{{REGISTRY_ID}}}",
        f"urn:uuid:{REGISTRY_ID}",
        42,
        None,
    ],
)
async def test_bad_ids_raise_before_sending(
    mocked: Any, client: RegistryClient, bad_id: Any
) -> None:
    calls = [
        client.get_registry(bad_id),
        client.delete_registry(bad_id),
        client.list_repositories(bad_id),
        client.list_tags(bad_id, "repo"),
        client.update_registry(
            bad_id,
            RegistryUpdateRequest(AssetUpdateRequest("n"), RegistrySpecRequest("u", "u", "p")),
        ),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="asset_id must be a UUID"):
            await call
    with pytest.raises(ValueError, match="asset_id"):
        client.iter_tags(bad_id, "repo")
    assert sent(mocked) == []


async def test_bad_arguments_raise_before_sending(mocked: Any, client: RegistryClient) -> None:
    with pytest.raises(ValueError, match="repository"):
        await client.list_tags(REGISTRY_ID, "")
    with pytest.raises(ValueError, match="searchName must be a string"):
        await client.list_repositories(REGISTRY_ID, search_name=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="RegistryCreationRequest"):
        await client.create_registry({"meta": {}})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        await client.list_registries(timeout=0)
    assert sent(mocked) == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"<html>oops</html>", "not JSON"),
        (b"", "not JSON"),
        (b'{"entries": [', "not JSON"),
        (b'{"items": []}', "required field missing @ $.entries"),
        (b'{"entries": [{"meta": {}, "spec": {}}]}', "@ $.entries[0].meta.name"),
        (b'{"entries": "nope"}', "@ $.entries"),
    ],
)
async def test_bad_2xx_bodies_raise_decode_error(
    mocked: Any, client: RegistryClient, body: bytes, where: str
) -> None:
    mocked.get(REGISTRIES, body=body, content_type="application/json")
    with pytest.raises(DecodeError, match=re.escape(where)) as caught:
        await client.list_registries()
    assert caught.value.operation == "GET /api/v1/asset/registries"
    assert "GET /api/v1/asset/registries" in str(caught.value)


async def test_wrong_field_type_names_the_camel_case_path(
    mocked: Any, client: RegistryClient
) -> None:
    broken = registry_json(createdAt=17, projectId="twelve")
    mocked.get(f"{REGISTRIES}/{REGISTRY_ID}", payload=broken)
    with pytest.raises(DecodeError) as caught:
        await client.get_registry(REGISTRY_ID)
    message = str(caught.value)
    assert "$.meta.createdAt" in message
    assert "$.meta.projectId" in message
    assert PASSWORD not in message


async def test_unknown_keys_and_enum_values_are_tolerated(
    mocked: Any, client: RegistryClient
) -> None:
    body = registry_json(kind="brandNewKind", scope="galaxy", somethingNew={"x": 1})
    body["spec"]["credentialKind"] = "token"
    body["extra"] = True
    mocked.get(f"{REGISTRIES}/{REGISTRY_ID}", payload=body)
    registry = await client.get_registry(REGISTRY_ID)
    assert registry.meta.kind == "brandNewKind"
    # Pseudo-members: the enum type a checker sees, never one of the declared members.
    assert isinstance(registry.meta.kind, AssetKind)
    assert not AssetKind.declared(registry.meta.kind)
    assert (registry.meta.scope, registry.meta.scope.value) == ("galaxy", "galaxy")
    assert registry.spec.credential_kind == "token"
    assert AssetKind("brandNewKind") is not AssetKind("brandNewKind")  # nothing cached


async def test_minimal_registry_without_optional_fields(
    mocked: Any, client: RegistryClient
) -> None:
    body = registry_json()
    for key in (
        "description",
        "clusterId",
        "departmentId",
        "projectId",
        "autoDelete",
        "workloadSupportedTypes",
        "private",
        "tenantId",
        "projectName",
        "updateCount",
    ):
        del body["meta"][key]
    del body["spec"]["password"]  # a server may withhold it
    mocked.get(f"{REGISTRIES}/{REGISTRY_ID}", payload=body)
    registry = await client.get_registry(REGISTRY_ID)
    assert registry.meta.description is None
    assert registry.meta.workload_supported_types is None
    assert registry.spec.password is None


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), -1, 0, True])
async def test_a_timeout_must_be_finite_and_positive(timeout: Any) -> None:
    with pytest.raises(ValueError, match="finite positive"):
        RegistryClient(BASE, token=TOKEN, timeout=timeout)
    async with RegistryClient(BASE, token=TOKEN) as client:
        with pytest.raises(ValueError, match="finite positive"):
            await client.list_registries(timeout=timeout)


def test_credential_kind_takes_its_plain_string() -> None:
    from runai_registry_async import CredentialKind, RegistryCreationRequest

    spec = RegistrySpecRequest("https://r", user="u", password="p", credential_kind="password")
    assert spec.credential_kind is CredentialKind.PASSWORD
    request = RegistryCreationRequest(AssetCreationRequest("n", "tenant"), spec)
    assert orjson.loads(dumps(request))["spec"]["credentialKind"] == "password"
    with pytest.raises(ValueError, match="must be one of 'password', got"):
        RegistrySpecRequest("https://r", user="u", password="p", credential_kind="sso")


@pytest.mark.parametrize("size", ["max_response_bytes", "max_item_bytes"])
def test_body_limits_are_checked(size: str) -> None:
    with pytest.raises(ValueError, match=size):
        RegistryClient(BASE, token=TOKEN, **{size: 10})  # type: ignore[arg-type]
