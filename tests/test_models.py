"""Request objects validate when built; reprs never show secrets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from runai_registry_async import (
    AssetCreationRequest,
    AssetKind,
    AssetMeta,
    AssetUpdateRequest,
    CredentialKind,
    RegistryCreationRequest,
    RegistrySpec,
    RegistrySpecRequest,
    RegistryUpdateRequest,
    Scope,
    WorkloadSupportedTypes,
)

from .conftest import PASSWORD

if TYPE_CHECKING:
    from typing_extensions import assert_type

SPEC = RegistrySpecRequest("https://r.example.com", "robot", PASSWORD)


def test_scope_accepts_the_wire_value() -> None:
    assert AssetCreationRequest("n", "project", project_id=3).scope is Scope.PROJECT


@pytest.mark.parametrize(
    ("scope", "needed"), [(Scope.PROJECT, "project_id"), (Scope.DEPARTMENT, "department_id")]
)
def test_a_project_or_department_scope_needs_its_id_as_the_spec_says(
    scope: Scope, needed: str
) -> None:
    with pytest.raises(ValueError, match=f"needs {needed}"):
        AssetCreationRequest("n", scope)
    ids: dict[str, Any] = {needed: 7 if needed == "project_id" else "d"}
    assert AssetCreationRequest("n", scope, **ids).scope is scope


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
@pytest.mark.parametrize("value", ["", None, 5])
def test_a_request_spec_needs_every_field(missing: str, value: Any) -> None:
    fields: dict[str, Any] = {"url": "https://r", "user": "u", "password": "p"}
    fields[missing] = value
    with pytest.raises(ValueError, match=f"^{missing} must"):
        RegistrySpecRequest(**fields)


def test_a_response_spec_cannot_stand_in_for_a_request_spec() -> None:
    # The read side's password is optional; a request insists on the request type.
    spec = RegistrySpec("https://r", "u")
    with pytest.raises(ValueError, match="spec must be a RegistrySpecRequest"):
        RegistryCreationRequest(AssetCreationRequest("n", Scope.TENANT), spec)  # type: ignore[arg-type]


def test_requests_check_their_parts_types() -> None:
    with pytest.raises(ValueError, match="meta must be a AssetCreationRequest"):
        RegistryCreationRequest(AssetUpdateRequest("n"), SPEC)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="spec must be a RegistrySpecRequest"):
        RegistryUpdateRequest(AssetUpdateRequest("n"), {"url": "u"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="credential_kind must be one of 'password'"):
        RegistrySpecRequest("u", "u", "p", "token")


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
    assert "password='***'" in repr(RegistrySpec("u", "u", PASSWORD))


def test_an_unknown_scope_from_a_server_keeps_the_enum_type() -> None:
    # A pseudo-member: its own value, still a Scope (and so a str), never declared.
    scope = Scope("galaxy")
    assert isinstance(scope, Scope)
    assert (scope.value, scope == "galaxy", Scope.declared(scope)) == ("galaxy", True, False)
    assert Scope("tenant") is Scope.TENANT
    assert Scope.declared(Scope.TENANT)
    assert "galaxy" not in [m.value for m in Scope]  # not added to the class
    with pytest.raises(ValueError, match="not a valid Scope"):
        Scope(5)


def test_models_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SPEC.url = "other"  # type: ignore[misc]


def test_response_enums_stay_enums_to_a_type_checker() -> None:
    # assert_type is checked by mypy --strict in CI; at run time, the converter's result.
    from runai_registry_async._converter import structure

    meta = structure(
        {
            "name": "n",
            "scope": "galaxy",
            "id": "i",
            "kind": "registry",
            "createdBy": "a",
            "createdAt": "2024-05-01T10:20:30Z",
            "updatedBy": "b",
            "updatedAt": "2024-05-01T10:20:30Z",
        },
        AssetMeta,
        operation="test",
    )
    if TYPE_CHECKING:
        assert_type(meta.scope, Scope)
        assert_type(meta.kind, AssetKind)
    assert isinstance(meta.scope, Scope)
    assert meta.kind is AssetKind.REGISTRY


@pytest.mark.parametrize(
    "build",
    [
        lambda: AssetCreationRequest("x", "TENANT"),
        lambda: AssetCreationRequest("x", Scope("PROJECT")),
        lambda: RegistrySpecRequest("u", "r", "p", credential_kind="PASSWORD"),
    ],
    ids=["a member's name", "a pseudo-member named like one", "an upper-case kind"],
)
def test_requests_take_the_specs_values_not_member_names(build: Any) -> None:
    # Names were compared, not values: "TENANT" passed and went on the wire as is.
    with pytest.raises(ValueError, match="must be one of"):
        build()


def test_declared_compares_values() -> None:
    assert Scope.declared(Scope.PROJECT)
    assert Scope.declared(Scope("project"))
    assert not Scope.declared(Scope("PROJECT"))
    assert not CredentialKind.declared(CredentialKind("PASSWORD"))
