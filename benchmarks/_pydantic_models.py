"""pydantic v2 models of the Registry schemas, as a user would write them (benchmarks only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class WorkloadSupportedTypes(BaseModel):
    inference: bool | None = None
    workspace: bool | None = None
    training: bool | None = None
    distributed: bool | None = None
    distFramework: str | None = None


class AssetMeta(BaseModel):
    name: str
    scope: str
    id: str
    kind: str
    createdBy: str
    createdAt: datetime
    updatedBy: str
    updatedAt: datetime
    description: str | None = None
    clusterId: str | None = None
    departmentId: str | None = None
    projectId: int | None = None
    autoDelete: bool | None = None
    workloadSupportedTypes: WorkloadSupportedTypes | None = None
    private: bool | None = None
    tenantId: int | None = None
    deletedAt: datetime | None = None
    deletedBy: str | None = None
    projectName: str | None = None
    updateCount: int | None = None


class RegistrySpec(BaseModel):
    url: str
    credentialKind: str
    user: str
    password: str


class Registry(BaseModel):
    meta: AssetMeta
    spec: RegistrySpec


class RegistryList(BaseModel):
    entries: list[Registry]


class Repositories(BaseModel):
    repositories: list[str]


class RepositoryTags(BaseModel):
    name: str
    tags: list[str]
