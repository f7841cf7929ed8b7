"""The API's operations as ``Request`` values: paths, bodies, decoders and the names
errors give them. Pure, no I/O: ``RegistryClient`` sends what these build."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from attrs import define

from ._converter import body_decoder, dumps
from ._http import _urls
from ._http._deadline import Deadline, checked_timeout
from ._http._request import Decode, Opener, Request, Settings
from ._http._retry import RetryPolicy, UseClientDefault
from ._http._urls import REGISTRIES
from ._http._urls import REGISTRY_ROUTE as REGISTRY
from ._http._urls import REPOSITORIES_ROUTE as REPOSITORIES
from ._http._urls import TAGS_ROUTE as TAGS
from ._models import (
    Registry,
    RegistryCreationRequest,
    RegistryListResponse,
    RegistryUpdateRequest,
    Repositories,
    RepositoryTags,
)
from ._secrets import Secret

T = TypeVar("T")


@define
class Options:
    """What one call asks for, its defaults filled in from the client's settings (not
    frozen, like ``Request``: built on every call, never changed after)."""

    timeout: float
    retry: RetryPolicy
    deadline: float | None  # seconds, counted from when the call (or stream) starts

    @classmethod
    def of(
        cls,
        settings: Settings,
        timeout: float | None,
        deadline: float | None,
        retry: RetryPolicy | UseClientDefault | None,
    ) -> Options:
        """The options of a call, checked now (before anything is sent)."""
        return cls(
            settings.timeout_of(timeout),
            settings.policy_of(retry),
            None if deadline is None else checked_timeout(deadline, "deadline"),
        )


def _request(
    settings: Settings,
    options: Options,
    name: str,
    method: str,
    path: str,
    route: str,
    decode: Decode[T],
    *,
    body: Secret[bytes] | None = None,
    naming: str = "",
    cacheable: bool = False,
    on_throttled: Callable[[], None] | None = None,
) -> Request[T]:
    return Request(
        method,
        path,
        settings.operation(method, path, naming),
        options.timeout,
        options.retry,
        deadline=None if options.deadline is None else Deadline(options.deadline),
        decode=decode,
        body=body,
        cacheable=cacheable,
        on_throttled=on_throttled,
        name=name,
        route=settings.base_path + route,
    )


def list_registries(
    settings: Settings, options: Options, name: str | None
) -> Request[RegistryListResponse]:
    path = _urls.REGISTRIES + _urls.query(name=name)
    return _request(
        settings, options, "list_registries", "GET", path, REGISTRIES, read_registry_list
    )


def create_registry(
    settings: Settings, options: Options, creation: RegistryCreationRequest
) -> Request[Registry]:
    _check_type(creation, RegistryCreationRequest, "request")
    body = Secret(dumps(creation))
    return _request(
        settings,
        options,
        "create_registry",
        "POST",
        REGISTRIES,
        REGISTRIES,
        read_registry,
        body=body,
    )


def get_registry(settings: Settings, options: Options, asset_id: object) -> Request[Registry]:
    path = _urls.registry_path(asset_id)
    return _request(
        settings, options, "get_registry", "GET", path, REGISTRY, read_registry, cacheable=True
    )


def update_registry(
    settings: Settings, options: Options, asset_id: object, update: RegistryUpdateRequest
) -> Request[Registry]:
    path = _urls.registry_path(asset_id)
    _check_type(update, RegistryUpdateRequest, "request")
    body = Secret(dumps(update))
    return _request(
        settings, options, "update_registry", "PUT", path, REGISTRY, read_registry, body=body
    )


def delete_registry(settings: Settings, options: Options, asset_id: object) -> Request[None]:
    path = _urls.registry_path(asset_id)
    return _request(settings, options, "delete_registry", "DELETE", path, REGISTRY, _discard)


def list_repositories(
    settings: Settings,
    options: Options,
    registry_path: str,
    search_name: str | None,
    on_throttled: Callable[[], None] | None = None,
) -> Request[Repositories]:
    """(``registry_path`` checked already, as ``_urls.registry_path`` gives it.)"""
    path = _urls.repositories_path(registry_path, search_name)
    return _request(
        settings,
        options,
        "list_repositories",
        "GET",
        path,
        REPOSITORIES,
        read_repositories,
        cacheable=True,
        on_throttled=on_throttled,
    )


def list_tags(
    settings: Settings,
    options: Options,
    registry_path: str,
    repository: str,
    search_name: str | None,
    on_throttled: Callable[[], None] | None = None,
) -> Request[RepositoryTags]:
    """(``registry_path`` checked already, as ``_urls.registry_path`` gives it.)"""
    return _request(
        settings,
        options,
        "list_tags",
        "GET",
        _urls.tags_path(registry_path, repository, search_name),
        TAGS,
        read_tags,
        naming=naming(repository),
        cacheable=True,
        on_throttled=on_throttled,
    )


_STREAM_ROUTES = {"iter_registries": REGISTRIES, "iter_repositories": REPOSITORIES}


def stream_request(
    settings: Settings, options: Options, name: str, path: str, naming: str = ""
) -> Callable[[Deadline | None, Opener[Any]], Request[Any]]:
    """How the GET of stream ``name`` (``iter_tags``...) is made once its iteration
    starts (its deadline counts from then): ``request(deadline, open_stream)``."""
    operation = settings.operation("GET", path, naming)
    route = settings.base_path + _STREAM_ROUTES.get(name, TAGS)

    def request(deadline: Deadline | None, open_stream: Opener[Any]) -> Request[Any]:
        return Request(
            "GET",
            path,
            operation,
            options.timeout,
            options.retry,
            deadline=deadline,
            open_stream=open_stream,
            name=name,
            route=route,
        )

    return request


def naming(repository: str) -> str:
    """How an operation names the repository it is about."""
    return f" (repository {repository!r})"


def _discard(body: bytes, operation: str) -> None:
    """A body nobody needs (a delete's): read, so that the connection can be reused."""


read_registry = body_decoder(Registry)
read_registry_list = body_decoder(RegistryListResponse)
read_repositories = body_decoder(Repositories)
read_tags = body_decoder(RepositoryTags)


def _check_type(value: object, expected: type, name: str) -> None:
    if not isinstance(value, expected):
        raise TypeError(f"{name} must be a {expected.__name__}, not {type(value).__name__}")
