"""The one converter: round trips, only the spec's keys on the wire, tolerant reading."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runai_registry_async import (
    AssetCreationRequest,
    AssetKind,
    AssetMeta,
    AssetUpdateRequest,
    CredentialKind,
    DecodeError,
    DistFramework,
    Registry,
    RegistryClient,
    RegistryCreationRequest,
    RegistrySpec,
    RegistrySpecRequest,
    RegistryUpdateRequest,
    RepositoryTags,
    Scope,
    WorkloadSupportedTypes,
)
from runai_registry_async._converter import converter, dumps, structure
from runai_registry_async._http._urls import REGISTRIES
from runai_registry_async._models import RegistryListResponse

from .bounded import SERVE_AND_MEASURE, run_bounded
from .conftest import BASE, registry_json

SPEC_DOC = json.loads((Path(__file__).parent / "data" / "registry-openapi.json").read_text())
SCHEMAS = SPEC_DOC["components"]["schemas"]


def spec_keys(name: str) -> set[str]:
    """Every property name a schema allows, following allOf and $ref."""
    schema = SCHEMAS[name]
    keys = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        keys |= spec_keys(part["$ref"].rsplit("/", 1)[1])
    return keys


text = st.text(min_size=1, max_size=20)
optional_text = st.none() | text
optional_bool = st.none() | st.booleans()
moments = st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-5))]))


def tolerant(enum: Any) -> st.SearchStrategy[Any]:
    # Declared members, and the pseudo-members a server's new values become.
    unknown = text.filter(lambda v: v not in {m.value for m in enum}).map(enum)
    return st.sampled_from(list(enum)) | unknown


workload_types = st.builds(
    WorkloadSupportedTypes,
    optional_bool,
    optional_bool,
    optional_bool,
    optional_bool,
    st.none() | tolerant(DistFramework),
)
registry_specs = st.builds(RegistrySpec, text, text, optional_text, tolerant(CredentialKind))
metas = st.builds(
    AssetMeta,
    name=text,
    scope=tolerant(Scope),
    id=st.uuids().map(str),
    kind=tolerant(AssetKind),
    created_by=text,
    created_at=moments,
    updated_by=text,
    updated_at=moments,
    description=optional_text,
    cluster_id=optional_text,
    department_id=optional_text,
    project_id=st.none() | st.integers(-(2**31), 2**31 - 1),
    auto_delete=optional_bool,
    workload_supported_types=st.none() | workload_types,
    private=optional_bool,
    tenant_id=st.none() | st.integers(0, 2**31 - 1),
    deleted_at=st.none() | moments,
    deleted_by=optional_text,
    project_name=optional_text,
    update_count=st.none() | st.integers(0, 2**63 - 1),
)
registries = st.builds(Registry, metas, registry_specs)
full_specs = st.builds(RegistrySpecRequest, text, text, text)


def _creation_meta(**fields: object) -> AssetCreationRequest | None:
    """An AssetCreationRequest, or None where the drawn scope lacks the id it needs."""
    try:
        return AssetCreationRequest(**fields)  # type: ignore[arg-type]
    except ValueError:
        return None


creation_requests = st.builds(
    RegistryCreationRequest,
    st.builds(
        _creation_meta,
        name=text,
        scope=st.sampled_from(list(Scope)),
        description=st.none() | st.text(min_size=1, max_size=250),
        cluster_id=optional_text,
        department_id=optional_text,
        project_id=st.none() | st.integers(0, 2**31 - 1),
        auto_delete=optional_bool,
        workload_supported_types=st.none() | workload_types,
        private=optional_bool,
    ).filter(lambda meta: meta is not None),
    full_specs,
)
update_requests = st.builds(
    RegistryUpdateRequest,
    st.builds(AssetUpdateRequest, text, st.none() | st.text(min_size=1, max_size=250)),
    full_specs,
)
tag_lists = st.builds(RepositoryTags, text, st.lists(st.text(max_size=10), max_size=5))

SCHEMA_OF = {
    Registry: "Registry",
    AssetMeta: "AssetMeta",
    RegistrySpec: "RegistrySpec",
    RegistrySpecRequest: "RegistrySpec",
    WorkloadSupportedTypes: "WorkloadSupportedTypes",
    RegistryCreationRequest: "RegistryCreationRequest",
    AssetCreationRequest: "AssetCreationRequest",
    RegistryUpdateRequest: "RegistryUpdateRequest",
    AssetUpdateRequest: "AssetUpdateRequest",
    RepositoryTags: "RepositoryTags",
}


def assert_only_spec_keys(obj: Any, data: Any) -> None:
    """Walk an instance and its unstructured form together, checking keys per schema."""
    if not attrs.has(type(obj)):
        return
    allowed = spec_keys(SCHEMA_OF[type(obj)])
    if type(obj) is RegistryUpdateRequest:
        allowed |= {"spec"}  # required by the spec, with no schema given
    assert set(data) <= allowed, set(data) - allowed
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        if attrs.has(type(value)):
            key = next(k for k in data if k.lower() == field.name.replace("_", "").lower())
            assert_only_spec_keys(value, data[key])


@settings(max_examples=150, deadline=None)
@given(st.one_of(registries, creation_requests, update_requests, tag_lists))
def test_round_trip_and_only_spec_keys(obj: Any) -> None:
    data = converter.unstructure(obj)
    assert converter.structure(data, type(obj)) == obj
    assert json.loads(dumps(obj)) == data
    assert_only_spec_keys(obj, data)


@settings(max_examples=50, deadline=None)
@given(creation_requests)
def test_requests_omit_fields_left_as_none(request: RegistryCreationRequest) -> None:
    data = converter.unstructure(request)
    assert None not in data["meta"].values()
    assert data["spec"]["credentialKind"] == "password"


def test_all_models_map_to_spec_schemas() -> None:
    for cls, schema in SCHEMA_OF.items():
        assert schema in SCHEMAS
        wire = {
            "".join(p if i == 0 else p.title() for i, p in enumerate(f.name.split("_")))
            for f in attrs.fields(cls)
        }
        expected = spec_keys(schema) | ({"spec"} if cls is RegistryUpdateRequest else set())
        assert wire == expected, (cls, wire ^ expected)


def test_datetimes_without_offset_are_read_as_utc() -> None:
    meta = converter.unstructure(
        structure(
            {
                "meta": {
                    "name": "n",
                    "scope": "tenant",
                    "id": "i",
                    "kind": "registry",
                    "createdBy": "a",
                    "createdAt": "2024-01-02T03:04:05",
                    "updatedBy": "b",
                    "updatedAt": "2024-01-02T03:04:05.5+01:00",
                },
                "spec": {"url": "u", "user": "u"},
            },
            Registry,
            operation="op",
        ).meta
    )
    assert meta["createdAt"] == "2024-01-02T03:04:05Z"
    assert meta["updatedAt"] == "2024-01-02T03:04:05.500000+01:00"


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"name": 5, "tags": []}, "$.name"),
        ({"name": "n", "tags": ["a", 3]}, "$.tags"),
        ({"name": "n"}, "$.tags"),
        ({"name": "n", "tags": "abc"}, "$.tags"),
    ],
)
def test_structure_errors_name_the_path(data: Any, path: str) -> None:
    with pytest.raises(DecodeError, match=rf"@ {__import__('re').escape(path)}") as caught:
        structure(data, RepositoryTags, operation="GET /x")
    assert caught.value.operation == "GET /x"


def test_bool_is_not_an_int_and_int_is_not_a_bool() -> None:
    with pytest.raises(DecodeError, match="updateCount"):
        structure(
            {
                "name": "n",
                "scope": "tenant",
                "id": "i",
                "kind": "k",
                "createdBy": "a",
                "createdAt": "2024-01-02T03:04:05Z",
                "updatedBy": "b",
                "updatedAt": "2024-01-02T03:04:05Z",
                "updateCount": True,
                "private": 1,
            },
            AssetMeta,
            operation="op",
        )


# --- hostile bodies: explaining a bad body is bounded work ---------------------------------

#: Python expressions the child evaluates: the bodies are megabytes long.
BAD_LISTS = {
    "a million zeros": "b'{\"entries\":[' + b'0,' * 999_999 + b'0]}'",
    "a megabyte string": "b'{\"entries\":\"' + b'a' * (1 << 20) + b'\"}'",
}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzipped"])
@pytest.mark.parametrize("name", sorted(BAD_LISTS))
def test_a_bad_registry_list_is_explained_in_bounded_memory(name: str, gzipped: bool) -> None:
    # Explaining once built one exception per element (a string walked character by
    # character): 1.6 GiB for a 1.9 MiB body, or for 1 KiB gzipped.
    body = BAD_LISTS[name]
    result = run_bounded(
        SERVE_AND_MEASURE
        + f"""
async def call(client):
    await client.list_registries()
asyncio.run(serve_and_measure({body}, call, gzipped={gzipped}))
"""
    )
    assert result["outcome"].startswith("DecodeError: "), result
    assert "@ $.entries" in result["outcome"]
    assert result["peak_mib"] < 48, result


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("body", [b'{"entries": ""}', b'{"entries": {}}', b'{"entries": 5}'])
async def test_entries_that_are_not_a_list_are_refused_both_ways(
    mocked: Any, client: RegistryClient, body: bytes, stream: bool
) -> None:
    mocked.get(f"{BASE}{REGISTRIES}", body=body, content_type="application/json")
    with pytest.raises(DecodeError, match=r"expected a list, got \w+ @ \$\.entries"):
        if stream:
            [r async for r in client.iter_registries()]
        else:
            await client.list_registries()


def test_an_explanation_names_at_most_three_problems() -> None:
    entries = [{"meta": 1, "spec": 2}] * 10_000
    with pytest.raises(DecodeError) as caught:
        structure({"entries": entries}, RegistryListResponse, operation="op")
    assert str(caught.value) == (
        "op: response does not match the schema: expected an object, got int @ "
        "$.entries[0].meta; expected an object, got int @ $.entries[0].spec; "
        "expected an object, got int @ $.entries[1].meta (and more)"
    )


def test_a_value_that_fails_to_parse_is_named_not_quoted() -> None:
    meta = {**registry_json()["meta"], "createdAt": "SECRET-not-a-date"}
    with pytest.raises(DecodeError) as caught:
        structure({"meta": meta, "spec": {"url": "u", "user": "u"}}, Registry, operation="op")
    assert str(caught.value).endswith("invalid datetime @ $.meta.createdAt")
    assert "SECRET" not in str(caught.value)
