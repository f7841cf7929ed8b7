"""The emulator's admin routes: change a running emulator from outside (a push, a
deleted tag), as ``runai-registry emulator push`` does.

They live under ``ADMIN_PREFIX``, which the Run:ai API does not use, need the same
bearer token as the API, and are neither recorded, rate-limited nor given faults.

    POST   /_emulator/registries/{id}/tags   {"repository": "team/app", "tags": ["1.1"]}
    DELETE /_emulator/registries/{id}/tags   (the same body)

Both answer 200 with ``{"repository": ..., "tags": [every tag it now has]}``; 400 for a
bad body, 401 without a valid token, 404 for an unknown registry or (on DELETE)
repository.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web
from attrs import frozen

from ._store import UUID, RegistryStore

ADMIN_PREFIX = "/_emulator/"

#: The largest admin body read: a push of a few thousand tags.
_MAX_BODY = 1024 * 1024


def add_admin_routes(
    app: web.Application, store: RegistryStore, authorized: Callable[[web.Request], bool]
) -> None:
    """Add the admin routes for ``store`` to ``app``; ``authorized(request)`` says
    whether a request carries a valid token."""

    async def push(request: web.Request) -> web.Response:
        return await _change(request, store, authorized, push=True)

    async def delete(request: web.Request) -> web.Response:
        return await _change(request, store, authorized, push=False)

    path = ADMIN_PREFIX + "registries/{id}/tags"
    app.router.add_post(path, push)
    app.router.add_delete(path, delete)


async def _change(
    request: web.Request,
    store: RegistryStore,
    authorized: Callable[[web.Request], bool],
    *,
    push: bool,
) -> web.Response:
    if not authorized(request):
        return _answer(401, {"code": 401, "message": "missing, invalid or expired bearer token"})
    asset_id = request.match_info["id"]
    registry = store.registries.get(asset_id) if UUID.fullmatch(asset_id) else None
    if registry is None:
        return _answer(404, {"code": 404, "message": f"no registry with id {asset_id}"})
    raw = await request.content.read(_MAX_BODY + 1)
    body = _change_body(raw)
    if isinstance(body, str):
        return _answer(400, {"code": 400, "message": body})
    repository, tags = body.repository, body.tags
    if push:
        store.push_tags(asset_id, repository, *tags)
    elif repository not in registry.repositories:
        return _answer(404, {"code": 404, "message": f"no repository {repository!r}"})
    else:
        store.delete_tags(asset_id, repository, *tags)
    return _answer(200, {"repository": repository, "tags": registry.repositories[repository]})


@frozen
class _TagChange:
    repository: str
    tags: list[str]


def _change_body(raw: bytes) -> _TagChange | str:
    """The repository and tags of an admin body, or what is wrong with it."""
    if len(raw) > _MAX_BODY:
        return f"body larger than {_MAX_BODY} bytes"
    try:
        body: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "body is not JSON"
    if not isinstance(body, dict):
        return "body must be an object"
    repository, tags = body.get("repository"), body.get("tags")
    if not isinstance(repository, str) or not repository:
        return "repository must be a non-empty string"
    if not isinstance(tags, list) or not tags:
        return "tags must be a non-empty list"
    if not all(isinstance(tag, str) and tag for tag in tags):
        return "every tag must be a non-empty string"
    return _TagChange(repository, tags)


def _answer(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
