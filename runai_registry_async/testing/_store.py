"""The emulator's data: registries, their repositories and tags, and body validation."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import orjson
from attrs import define, field

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SCOPES = {"system", "tenant", "cluster", "department", "project"}
_UPDATABLE_META = {"name", "description"}
_SPEC_FIELDS = {"url", "user", "password", "credentialKind"}


@define
class StoredRegistry:
    """A registry held by the emulator, with its repositories and their tags."""

    id: str
    meta: dict[str, Any]
    spec: dict[str, Any] = field(repr=False)
    repositories: dict[str, list[str]] = field(factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The registry as the API answers it (camelCase, password included)."""
        return {"meta": self.meta, "spec": self.spec}


def now() -> str:
    """The current time as the control plane writes it (ISO 8601, milliseconds, Z)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RegistryStore:
    """Registries in memory, and the JSON bodies the emulator serves from them."""

    def __init__(self) -> None:
        self.registries: dict[str, StoredRegistry] = {}

    def add_registry(
        self,
        name: str,
        *,
        url: str = "https://registry.example.com",
        user: str = "robot",
        password: str = "s3cret-password",
        scope: str = "tenant",
        description: str | None = None,
        asset_id: str | None = None,
    ) -> StoredRegistry:
        """Store a registry as if it had been created; returns it (``.id`` is its id).

        Args:
            name: Its name.
            url: Its spec's URL.
            user: Its spec's user.
            password: Its spec's password.
            scope: ``tenant``, ``department``, ``project`` or ``cluster``.
            description: Its description.
            asset_id: Its id (default: a new UUID).
        """
        meta: dict[str, Any] = {"name": name, "scope": scope}
        if description is not None:
            meta["description"] = description
        spec = {"url": url, "credentialKind": "password", "user": user, "password": password}
        return self._store_registry(meta, spec, asset_id or str(uuid.uuid4()))

    def add_repository(self, asset_id: str, name: str, *, tags: Iterable[str] = ()) -> None:
        """Give a registry a repository with exactly these tags (replacing any it had:
        ``push_tags`` adds to them).

        Args:
            asset_id: The registry's id.
            name: The repository's name.
            tags: Its tags, in the order the emulator lists them.
        """
        self.registries[str(asset_id)].repositories[name] = list(tags)

    def push_tags(self, asset_id: str, repository: str, *tags: str) -> None:
        """Add ``tags`` to a repository, as pushes would (the repository is created if
        new; a tag it has already stays where it is).

        Args:
            asset_id: The registry's id.
            repository: The repository's name.
        """
        stored = self.registries[str(asset_id)].repositories.setdefault(repository, [])
        stored.extend(tag for tag in dict.fromkeys(tags) if tag not in stored)

    def delete_tags(self, asset_id: str, repository: str, *tags: str) -> None:
        """Remove ``tags`` from a repository (those it does not have are ignored).

        Args:
            asset_id: The registry's id.
            repository: The repository's name.
        """
        stored = self.registries[str(asset_id)].repositories[repository]
        gone = set(tags)
        stored[:] = [tag for tag in stored if tag not in gone]

    def seed(
        self,
        *,
        registries: int = 3,
        repositories: int = 10,
        tags: int = 50,
        prefix: str = "demo",
    ) -> list[StoredRegistry]:
        """A generated data set, with realistic names; returns the registries.

        Args:
            registries: How many registries (``<prefix>-registry-<n>``).
            repositories: How many repositories each.
            tags: How many tags each repository has (versions, ``v0.0.1-cuda12.1``...).
            prefix: The registries' names' prefix.
        """
        teams = ("ml", "infra", "research", "platform", "data")
        apps = ("trainer", "server", "notebook", "etl", "inference", "tokenizer", "eval")
        created = []
        for r in range(registries):
            registry = self.add_registry(
                f"{prefix}-registry-{r}",
                url=f"https://registry-{r}.example.com",
                description=f"Generated registry {r}",
            )
            for p in range(repositories):
                repo = f"{teams[p % len(teams)]}/{apps[p % len(apps)]}-{p}"
                versions = [
                    f"v{t // 100}.{(t // 10) % 10}.{t % 10}-cuda12.{t % 4}" for t in range(tags)
                ]
                self.add_repository(registry.id, repo, tags=versions)
            created.append(registry)
        return created

    def _store_registry(
        self, meta: dict[str, Any], spec: dict[str, Any], asset_id: str
    ) -> StoredRegistry:
        """Keep a registry with the fields the server sets itself (id, times, counts)."""
        stamp = now()
        full_meta = {
            **meta,
            "id": asset_id,
            "kind": "registry",
            "tenantId": 1001,
            "createdBy": "emulator@example.com",
            "createdAt": stamp,
            "updatedBy": "emulator@example.com",
            "updatedAt": stamp,
            "updateCount": 0,
        }
        registry = StoredRegistry(asset_id, full_meta, dict(spec))
        self.registries[asset_id] = registry
        return registry

    def _replace_stored(self, registry: StoredRegistry, body: dict[str, Any]) -> None:
        """Apply a valid update body: only what an update may change."""
        registry.meta.pop("description", None)
        changed = {k: v for k, v in body["meta"].items() if k in _UPDATABLE_META}
        registry.meta.update(
            {
                **changed,
                "updatedAt": now(),
                "updatedBy": "emulator@example.com",
                "updateCount": registry.meta["updateCount"] + 1,
            }
        )
        registry.spec = {
            "credentialKind": "password",
            **{k: v for k, v in body["spec"].items() if k in _SPEC_FIELDS},
        }

    def _remove_stored(self, registry: StoredRegistry) -> None:
        del self.registries[registry.id]

    def _name_taken(self, name: str, except_id: str | None) -> bool:
        return any(r.meta["name"] == name and r.id != except_id for r in self.registries.values())

    # Built from the store on every request (no cache): whatever a test changes, directly
    # in ``registries`` included, is what the next answer says.
    def _repositories_body(self, registry: StoredRegistry, search: str | None) -> bytes:
        names = [n for n in registry.repositories if search is None or search in n]
        return orjson.dumps({"repositories": names})

    def _tags_body(self, registry: StoredRegistry, repository: str, search: str | None) -> bytes:
        tags = registry.repositories[repository]
        selected = [t for t in tags if search is None or search in t]
        return orjson.dumps({"name": repository, "tags": selected})


def invalid_body(body: dict[str, Any], *, creating: bool) -> str | None:
    """What is wrong with a create/update body, or None; values are never echoed."""
    meta, spec = body.get("meta"), body.get("spec")
    if not isinstance(meta, dict):
        return "meta is required"
    if not isinstance(spec, dict):
        return "spec is required"
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return "meta.name is required and must not be empty"
    description = meta.get("description")
    if description is not None and (
        not isinstance(description, str) or not 1 <= len(description) <= 250
    ):
        return "meta.description must be 1 to 250 characters"
    scope = meta.get("scope")
    if creating and (not isinstance(scope, str) or scope not in _SCOPES):
        return "meta.scope must be one of " + ", ".join(sorted(_SCOPES))
    if creating and scope == "project" and meta.get("projectId") is None:
        return "meta.projectId must be specified for project scoped assets"
    if creating and scope == "department" and not meta.get("departmentId"):
        return "meta.departmentId must be specified for department scoped assets"
    for key in ("url", "user", "password"):
        value = spec.get(key)
        if not isinstance(value, str) or not value:
            return f"spec.{key} is required and must not be empty"
    if spec.get("credentialKind", "password") != "password":
        return "spec.credentialKind must be 'password'"
    return None
