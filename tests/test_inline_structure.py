"""The fast converter's inline structure functions against cattrs' own: the same
documents accepted with the same values, the same ones rejected."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runai_registry_async import (
    AssetMeta,
    DecodeError,
    Registry,
    RegistrySpec,
    RepositoryTags,
    WorkloadSupportedTypes,
)
from runai_registry_async._converter import _compiled, converter, problems, structure
from runai_registry_async._inline_structure import Mismatch
from runai_registry_async._models import RegistryListResponse, Repositories

VALID_REGISTRY: dict[str, Any] = {
    "meta": {
        "name": "registry-0",
        "description": "a registry",
        "scope": "tenant",
        "clusterId": "c-1",
        "departmentId": "17",
        "projectId": 4,
        "autoDelete": False,
        "workloadSupportedTypes": {
            "inference": True,
            "workspace": True,
            "training": False,
            "distributed": False,
            "distFramework": "PyTorch",
        },
        "private": False,
        "id": "00000000-0000-0000-0000-000000000000",
        "kind": "registry",
        "tenantId": 1001,
        "createdBy": "a@example.com",
        "createdAt": "2024-05-01T10:20:30.123Z",
        "updatedBy": "b@example.com",
        "updatedAt": "2024-06-01T10:20:30+02:00",
        "deletedAt": None,
        "deletedBy": None,
        "projectName": "p",
        "updateCount": 3,
    },
    "spec": {
        "url": "https://r.example.com",
        "credentialKind": "password",
        "user": "robot",
        "password": "pw",
    },
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "x", "tenant", "registry", "2024-05-01T10:20:30Z", "not a date"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "name", "url"]), children, max_size=3)
    ),
    max_leaves=5,
)

#: cattrs' own structure functions under the same rules: the reference.
reference = _compiled(inline=False)


@st.composite
def damaged(draw: st.DrawFn, document: Any) -> Any:
    """``document`` with a few keys dropped, replaced or added, at any depth."""
    document = orjson.loads(orjson.dumps(document))
    for _ in range(draw(st.integers(0, 3))):
        target = document
        while isinstance(target, dict) and target and draw(st.booleans()):
            inner = target[draw(st.sampled_from(sorted(target)))]
            if not isinstance(inner, dict):
                break
            target = inner
        if not isinstance(target, dict) or not target:
            continue
        key = draw(st.sampled_from([*sorted(target), "unknownKey"]))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(json_values)
    return document


def outcome(structure: Any, document: Any, cls: type) -> Any:
    try:
        return structure(document, cls)
    except Exception:  # the kind does not matter, only that it failed
        return "rejected"


@settings(max_examples=400, deadline=None)
@given(document=damaged(VALID_REGISTRY))
def test_registries_decode_as_cattrs_decodes_them(document: Any) -> None:
    decoded = outcome(converter.structure, document, Registry)
    assert decoded == outcome(reference.structure, document, Registry)
    # The explanation finds a problem exactly where decoding found one.
    assert (next(problems(document, Registry), None) is None) == (decoded != "rejected")


@settings(max_examples=200, deadline=None)
@given(document=damaged({"name": "team/app", "tags": ["1.0", "latest"]}))
def test_tag_lists_decode_as_cattrs_decodes_them(document: Any) -> None:
    decoded = outcome(converter.structure, document, RepositoryTags)
    assert decoded == outcome(reference.structure, document, RepositoryTags)
    assert (next(problems(document, RepositoryTags), None) is None) == (decoded != "rejected")


@pytest.mark.parametrize(
    ("cls", "document"),
    [
        (Registry, VALID_REGISTRY),
        (AssetMeta, VALID_REGISTRY["meta"]),
        (RegistrySpec, VALID_REGISTRY["spec"]),
        (WorkloadSupportedTypes, VALID_REGISTRY["meta"]["workloadSupportedTypes"]),
        (RegistryListResponse, {"entries": [VALID_REGISTRY, VALID_REGISTRY]}),
        (Repositories, {"repositories": ["a", "b/c"]}),
        (RepositoryTags, {"name": "a", "tags": []}),
    ],
)
def test_every_response_class_gets_an_inline_function_with_the_same_result(
    cls: type, document: Any
) -> None:
    hook = converter.get_structure_hook(cls)
    assert hook.__code__.co_filename.startswith("<inline structure")
    assert hook(document, cls) == reference.structure(document, cls)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"projectId": True}, "a bool is not an int"),
        ({"name": None}, "a required string is not nullable"),
        ({"description": 5}, "an optional string must still be a string"),
        ({"tenantId": 1.5}, "a float is not an int"),
    ],
)
def test_a_wrong_scalar_is_a_mismatch(change: dict[str, Any], why: str) -> None:
    hook = converter.get_structure_hook(AssetMeta)
    with pytest.raises(Mismatch):
        hook({**VALID_REGISTRY["meta"], **change}, AssetMeta)


def test_absent_and_null_optional_fields_are_both_none() -> None:
    meta = dict(VALID_REGISTRY["meta"])
    del meta["description"]
    meta["clusterId"] = None
    decoded = converter.structure(meta, AssetMeta)
    assert (decoded.description, decoded.cluster_id) == (None, None)
    spec = converter.structure({"url": "u", "user": "r"}, RegistrySpec)
    assert spec.password is None
    assert spec.credential_kind == "password"  # a non-None default, used when absent


@pytest.mark.parametrize("wrong", [[], "inference", 5])
def test_an_object_field_given_another_json_type_is_refused_by_name(wrong: Any) -> None:
    # cattrs alone takes a list, or a string without the keys, for an object whose
    # optional fields are all absent.
    document = orjson.loads(orjson.dumps(VALID_REGISTRY))
    document["meta"]["workloadSupportedTypes"] = wrong
    with pytest.raises(DecodeError) as caught:
        structure(document, Registry, operation="GET /x")
    assert str(caught.value) == (
        "GET /x: response does not match the schema: expected an object, got "
        f"{type(wrong).__name__} @ $.meta.workloadSupportedTypes"
    )


def test_the_generated_functions_show_their_source_in_a_traceback() -> None:
    import inspect

    hook = converter.get_structure_hook(RepositoryTags)
    source = inspect.getsource(hook)
    assert source.startswith("def structure(o, _):")
    assert "'tags'" in source
