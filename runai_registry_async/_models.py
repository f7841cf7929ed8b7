"""Data classes for the Registry schemas of the Run:ai API.

Python names are snake_case; the one converter in ``_converter`` maps them to the
spec's camelCase keys. Response classes carry no validators, so a server that is a
little off-spec still decodes; request classes validate when they are built.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

from attrs import Attribute, field, frozen

__all__ = [
    "AssetCreationRequest",
    "AssetKind",
    "AssetMeta",
    "AssetUpdateRequest",
    "CredentialKind",
    "DistFramework",
    "Registry",
    "RegistryCreationRequest",
    "RegistrySpec",
    "RegistrySpecRequest",
    "RegistryUpdateRequest",
    "RepositoryTags",
    "Scope",
    "WorkloadSupportedTypes",
]


class _OpenEnum(str, Enum):
    """A string enum that a server may extend: an unknown string value becomes a
    pseudo-member (its own value and name) instead of an error, so that response fields
    keep the enum type under a type checker. Request validators accept declared members
    only (``_one_of``)."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if type(value) is not str:
            return None
        # Not cached in the class: a hostile server could otherwise grow it without end.
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    @classmethod
    def declared(cls, value: object) -> bool:
        """True for one of the members the spec declares (not a pseudo-member).

        By value: a pseudo-member made from a member's name (``Scope("TENANT")``) has
        that name too, but it is not the spec's value.

        Args:
            value: Any value, a member of this enum or not.
        """
        return isinstance(value, cls) and cls._value2member_map_.get(value._value_) is value


class Scope(_OpenEnum):
    """The scope in which an asset can be used."""

    SYSTEM = "system"
    TENANT = "tenant"
    CLUSTER = "cluster"
    DEPARTMENT = "department"
    PROJECT = "project"


class AssetKind(_OpenEnum):
    """The kind of an asset; registries are ``AssetKind.REGISTRY``."""

    COMPUTE = "compute"
    ENVIRONMENT = "environment"
    ACCESS_KEY = "accessKey"
    DOCKER_REGISTRY = "dockerRegistry"
    PASSWORD = "password"
    GENERIC_SECRET = "genericSecret"
    REGISTRY = "registry"
    S3 = "s3"
    GIT = "git"
    NFS = "nfs"
    PVC = "pvc"
    HOST_PATH = "hostPath"
    WORKLOAD_TEMPLATE = "workload-template"
    MODEL = "model"
    CONFIG_MAP = "config-map"
    SECRET_VOLUME = "secret-volume"
    DATA_VOLUME = "data-volume"
    NGC_API_KEY = "ngcApiKey"


class CredentialKind(_OpenEnum):
    """The kind of credential a registry uses; the spec knows only ``password``."""

    PASSWORD = "password"


class DistFramework(_OpenEnum):
    """The distributed training framework of a workload."""

    MPI = "MPI"
    PYTORCH = "PyTorch"
    TF = "TF"
    XGBOOST = "XGBoost"


# --- validators for request objects -------------------------------------------------

_Validator = Callable[[Any, "Attribute[Any]", Any], None]


def _text(*, max_len: int | None = None, optional: bool = False) -> _Validator:
    """A validator for a string of at least one character (and at most ``max_len``)."""

    def check(_: Any, attribute: Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str):
            raise ValueError(f"{attribute.name} must be a string, not {type(value).__name__}")
        if not value:
            raise ValueError(f"{attribute.name} must not be empty")
        if max_len is not None and len(value) > max_len:
            raise ValueError(
                f"{attribute.name} must be at most {max_len} characters, got {len(value)}"
            )

    return check


def _one_of(enum: type[_OpenEnum], *, optional: bool = False) -> _Validator:
    def check(_: Any, attribute: Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if not enum.declared(value):
            allowed = ", ".join(repr(m.value) for m in enum)
            raise ValueError(f"{attribute.name} must be one of {allowed}, got {value!r}")

    return check


# Converters accept a member or its wire value; anything else is left to the validator.


def _to_scope(value: Scope | str) -> Scope:
    return Scope(value) if type(value) is str else value  # type: ignore[return-value]


def _to_credential_kind(value: CredentialKind | str) -> CredentialKind:
    return CredentialKind(value) if type(value) is str else value  # type: ignore[return-value]


def _optional(kind: type) -> _Validator:
    def check(_: Any, attribute: Attribute[Any], value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ValueError(
                f"{attribute.name} must be {kind.__name__} or None, not {type(value).__name__}"
            )

    return check


def _instance(kind: type) -> _Validator:
    def check(_: Any, attribute: Attribute[Any], value: Any) -> None:
        if not isinstance(value, kind):
            raise ValueError(
                f"{attribute.name} must be a {kind.__name__}, not {type(value).__name__}"
            )

    return check


def _hide_secret(value: str | None) -> str:
    return "None" if value is None else "'***'"


# --- schemas -----------------------------------------------------------------------------


@frozen
class WorkloadSupportedTypes:
    """Which workload types may use the asset."""

    inference: bool | None = None
    workspace: bool | None = None
    training: bool | None = None
    distributed: bool | None = None
    dist_framework: DistFramework | None = None


@frozen
class RegistrySpec:
    """Where a registry lives and how to log in to it, as the server returns it.

    ``password`` is optional: the server may withhold it. Requests take a
    ``RegistrySpecRequest``, whose password is required. It never shows in a repr.
    """

    url: str
    user: str
    password: str | None = field(default=None, repr=_hide_secret)
    credential_kind: CredentialKind = field(
        default=CredentialKind.PASSWORD, converter=_to_credential_kind
    )


@frozen
class RegistrySpecRequest:
    """Where a registry lives and how to log in to it, for a create or an update.

    Every field is required (the API takes the password on each update and never
    returns it) and checked when built: a bad one raises ValueError. The password
    never shows in a repr.
    """

    url: str = field(validator=_text())
    user: str = field(validator=_text())
    password: str = field(validator=_text(), repr=_hide_secret)
    credential_kind: CredentialKind = field(
        default=CredentialKind.PASSWORD,
        converter=_to_credential_kind,
        validator=_one_of(CredentialKind),
    )


@frozen
class AssetMeta:
    """The metadata of an asset as the server returns it."""

    name: str
    scope: Scope
    id: str
    kind: AssetKind
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    description: str | None = None
    cluster_id: str | None = None
    department_id: str | None = None
    project_id: int | None = None
    auto_delete: bool | None = None
    workload_supported_types: WorkloadSupportedTypes | None = None
    private: bool | None = None
    tenant_id: int | None = None
    deleted_at: datetime | None = None
    deleted_by: str | None = None
    project_name: str | None = None
    update_count: int | None = None


@frozen
class Registry:
    """A registry asset."""

    meta: AssetMeta
    spec: RegistrySpec


@frozen
class RepositoryTags:
    """The tags of one repository."""

    name: str
    tags: list[str]


@frozen
class AssetCreationRequest:
    """The metadata of a new asset. Validated when built: a bad field raises ValueError."""

    name: str = field(validator=_text())
    scope: Scope = field(converter=_to_scope, validator=_one_of(Scope))
    description: str | None = field(default=None, validator=_text(max_len=250, optional=True))
    cluster_id: str | None = field(default=None, validator=_text(optional=True))
    department_id: str | None = field(default=None, validator=_text(optional=True))
    project_id: int | None = field(default=None, validator=_optional(int))
    auto_delete: bool | None = field(default=None, validator=_optional(bool))
    workload_supported_types: WorkloadSupportedTypes | None = field(
        default=None, validator=_optional(WorkloadSupportedTypes)
    )
    private: bool | None = field(default=None, validator=_optional(bool))

    def __attrs_post_init__(self) -> None:
        # The spec: "Must be specified for project (department) scoped assets."
        if self.scope is Scope.PROJECT and self.project_id is None:
            raise ValueError("a project-scoped asset needs project_id")
        if self.scope is Scope.DEPARTMENT and self.department_id is None:
            raise ValueError("a department-scoped asset needs department_id")


@frozen
class AssetUpdateRequest:
    """The updatable metadata of an asset: its name and description."""

    name: str = field(validator=_text())
    description: str | None = field(default=None, validator=_text(max_len=250, optional=True))


@frozen
class RegistryCreationRequest:
    """The body of ``create_registry``."""

    meta: AssetCreationRequest = field(validator=_instance(AssetCreationRequest))
    spec: RegistrySpecRequest = field(validator=_instance(RegistrySpecRequest))


@frozen
class RegistryUpdateRequest:
    """The body of ``update_registry``.

    The spec requires ``spec`` here but gives it no schema; the server takes the same
    spec as on create, so this carries a ``RegistrySpecRequest`` too.
    """

    meta: AssetUpdateRequest = field(validator=_instance(AssetUpdateRequest))
    spec: RegistrySpecRequest = field(validator=_instance(RegistrySpecRequest))


# --- response envelopes (internal: the client unwraps them) ------------------------------


@frozen
class RegistryListResponse:
    entries: list[Registry]


@frozen
class Repositories:
    repositories: list[str]
