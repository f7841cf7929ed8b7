"""Request objects validate when built; reprs never show secrets."""

from __future__ import annotations

from typing import Any

import pytest

from runai_registry_async import (
    AssetCreationRequest,
    AssetUpdateRequest,
    RegistryCreationRequest,
    RegistrySpec,
    RegistryUpdateRequest,
    Scope,
    WorkloadSupportedTypes,
)

from .conftest import PASSWORD

SPEC = RegistrySpec("https://r.example.com", "robot", PASSWORD)


def test_scope_accepts_the_wire_value() -> None:
    assert AssetCreationRequest("n", "project").scope is Scope.PROJECT


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "", "scope": Scope.TENANT}, "name"),
        ({"name": 5, "scope": Scope.TENANT}, "name"),
        ({"name": "n", "scope": "galaxy"}, "scope"),
        ({"name": "n", "scope": None}, "scope"),
        ({"name": "n", "scope": Scope.TENANT, "description": ""}, "description"),
        ({"name": "n", "scope": Scope.TENANT, "description": "x" * 251}, "description"),
        ({"name": "n", "scope": Scope.TENANT, "cluster_id": ""}, "cluster_id"),
        ({"name": "n", "scope": Scope.TENANT, "project_id": "7"}, "project_id"),
        ({"name": "n", "scope": Scope.TENANT, "project_id": True}, "project_id"),
        ({"name": "n", "scope": Scope.TENANT, "private": "yes"}, "private"),
        (
            {"name": "n", "scope": Scope.TENANT, "workload_supported_types": {}},
            "workload_supported_types",
        ),
    ],
)
def test_bad_creation_fields_raise_value_error_naming_the_field(
    kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{field} "):
        AssetCreationRequest(**kwargs)


def test_description_of_exactly_250_characters_is_fine() -> None:
    assert AssetUpdateRequest("n", "x" * 250).description == "x" * 250
    with pytest.raises(ValueError, match="at most 250"):
        AssetUpdateRequest("n", "x" * 251)


@pytest.mark.parametrize("missing", ["url", "user", "password"])
def test_requests_need_every_spec_field(missing: str) -> None:
    fields = {"url": "https://r", "user": "u", "password": "p"}
    fields[missing] = ""
    spec = RegistrySpec(**fields)
    with pytest.raises(ValueError, match=f"spec.{missing}"):
        RegistryCreationRequest(AssetCreationRequest("n", Scope.TENANT), spec)
    with pytest.raises(ValueError, match=f"spec.{missing}"):
        RegistryUpdateRequest(AssetUpdateRequest("n"), spec)


def test_requests_check_their_parts_types() -> None:
    with pytest.raises(ValueError, match="meta must be a AssetCreationRequest"):
        RegistryCreationRequest(AssetUpdateRequest("n"), SPEC)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="spec must be a RegistrySpec"):
        RegistryUpdateRequest(AssetUpdateRequest("n"), {"url": "u"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="credential_kind"):
        RegistryUpdateRequest(AssetUpdateRequest("n"), RegistrySpec("u", "u", "p", "token"))


def test_credential_kind_defaults_to_password() -> None:
    assert SPEC.credential_kind == "password"


def test_reprs_hide_the_password() -> None:
    request = RegistryCreationRequest(
        AssetCreationRequest("n", Scope.TENANT, workload_supported_types=WorkloadSupportedTypes()),
        SPEC,
    )
    for obj in (SPEC, request, RegistryUpdateRequest(AssetUpdateRequest("n"), SPEC)):
        assert PASSWORD not in repr(obj)
        assert PASSWORD not in str(obj)
        assert "password='***'" in repr(obj)
    assert "password=None" in repr(RegistrySpec("u", "u"))


def test_models_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SPEC.url = "other"  # type: ignore[misc]
