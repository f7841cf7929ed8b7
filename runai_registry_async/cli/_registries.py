"""The command line's API commands: ``registries``, ``repositories`` and ``tags``."""

from __future__ import annotations

import argparse
from typing import Any

from .._client import RegistryClient
from .._http._urls import checked_id
from .._models import (
    AssetCreationRequest,
    AssetUpdateRequest,
    RegistryCreationRequest,
    RegistrySpecRequest,
    RegistryUpdateRequest,
    Scope,
)
from .._tags import latest, sort_tags
from ._args import Budget, CommandError, registry_url, tag_filter
from ._output import print_names, print_registries, write_json

_UPDATE_HELP = (
    "change a registry: only the options given change (the current registry is read "
    "first, then merged). The API needs the registry password on every update and never "
    "returns it: give it on stdin, or type it at the prompt."
)


def add_commands(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """``registries``, ``repositories`` and ``tags`` on the CLI's subcommand parsers."""
    registries = commands.add_parser(
        "registries", help="list, get, create, update, delete", parents=parents
    )
    actions = registries.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list registries", parents=parents)
    listing.add_argument("--name", help="only registries with this name")
    listing.set_defaults(handler=_list_registries)
    for name, help_text, handler in (
        ("get", "show one registry", _get_registry),
        ("delete", "delete a registry", _delete_registry),
    ):
        by_id = actions.add_parser(name, help=help_text, parents=parents)
        by_id.add_argument("registry", help=_REGISTRY_HELP)
        by_id.set_defaults(handler=handler)

    create = actions.add_parser(
        "create", help="create a registry (password on stdin or at the prompt)", parents=parents
    )
    create.add_argument("--name", required=True)
    create.add_argument("--url", required=True, type=registry_url, help="the registry's base URL")
    create.add_argument("--user", required=True)
    create.add_argument("--description")
    create.add_argument("--scope", default="tenant", choices=[s.value for s in Scope])
    create.add_argument("--project-id", type=int, help="required with --scope project")
    create.add_argument("--department-id", help="required with --scope department")
    create.add_argument("--cluster-id", help="for --scope cluster")
    create.set_defaults(handler=_create_registry, needs_password=True)

    update = actions.add_parser(
        "update",
        help="change a registry (password on stdin)",
        description=_UPDATE_HELP,
        parents=parents,
    )
    update.add_argument("registry", help=_REGISTRY_HELP)
    update.add_argument("--name", help="default: unchanged")
    update.add_argument("--url", type=registry_url, help="default: unchanged")
    update.add_argument("--user", help="default: unchanged")
    update.add_argument("--description", help="default: unchanged; '' removes it")
    update.set_defaults(handler=_update_registry, needs_password=True)

    repositories = commands.add_parser(
        "repositories", help="list a registry's repositories", parents=parents
    )
    repositories.add_argument("registry", help=_REGISTRY_HELP)
    repositories.add_argument("--search", help="only names containing this")
    repositories.set_defaults(handler=_repositories)

    tags = commands.add_parser("tags", help="list a repository's tags", parents=parents)
    tags.add_argument("registry", help=_REGISTRY_HELP)
    tags.add_argument("repository")
    tags.add_argument("--search", help="only tags containing this (on the server)")
    tags.add_argument("--include", action="append", default=[], metavar="GLOB")
    tags.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    tags.add_argument("--sort", choices=["version", "lexical"], help="default: as served")
    tags.add_argument("--latest", action="store_true", help="only the newest (by --sort)")
    tags.add_argument(
        "--no-prereleases", action="store_true", help="with --latest: pass over 2.0.0-rc.1..."
    )
    tags.set_defaults(handler=_tags)


async def _list_registries(client: RegistryClient, args: argparse.Namespace) -> None:
    print_registries(await client.list_registries(args.name, deadline=args.deadline), args.json)


_REGISTRY_HELP = "the registry's id, or its name"


async def registry_id(client: RegistryClient, registry: str, budget: Budget) -> str:
    """The id of ``registry``: an id as it is, else the one registry of that name."""
    try:
        return checked_id(registry)
    except ValueError:
        pass
    named = [
        r
        for r in await client.list_registries(registry, deadline=budget.left())
        if r.meta.name == registry
    ]
    if not named:
        raise CommandError(f"no registry is named {registry!r} (nor is it an id)")
    if len(named) > 1:
        ids = ", ".join(r.meta.id for r in named)
        raise CommandError(f"{len(named)} registries are named {registry!r}: {ids}; give an id")
    return named[0].meta.id


async def _get_registry(client: RegistryClient, args: argparse.Namespace) -> None:
    budget = Budget(args.deadline)
    asset_id = await registry_id(client, args.registry, budget)
    registry = await client.get_registry(asset_id, deadline=budget.left())
    print_registries([registry], args.json, single=True)


async def _create_registry(client: RegistryClient, args: argparse.Namespace) -> None:
    meta = AssetCreationRequest(
        args.name,
        args.scope,
        description=args.description,
        project_id=args.project_id,
        department_id=args.department_id,
        cluster_id=args.cluster_id,
    )
    spec = RegistrySpecRequest(args.url, args.user, args.password)
    created = await client.create_registry(
        RegistryCreationRequest(meta, spec), deadline=args.deadline
    )
    print_registries([created], args.json, single=True)


async def _update_registry(client: RegistryClient, args: argparse.Namespace) -> None:
    budget = Budget(args.deadline)
    asset_id = await registry_id(client, args.registry, budget)
    current = await client.get_registry(asset_id, deadline=budget.left())
    description = current.meta.description if args.description is None else args.description
    request = RegistryUpdateRequest(
        AssetUpdateRequest(_given(args.name, current.meta.name), description or None),
        RegistrySpecRequest(
            _given(args.url, current.spec.url),
            _given(args.user, current.spec.user),
            args.password,
        ),
    )
    updated = await client.update_registry(asset_id, request, deadline=budget.left())
    print_registries([updated], args.json, single=True)


def _given(option: str | None, current: str) -> str:
    return current if option is None else option


async def _delete_registry(client: RegistryClient, args: argparse.Namespace) -> None:
    budget = Budget(args.deadline)
    asset_id = await registry_id(client, args.registry, budget)
    await client.delete_registry(asset_id, deadline=budget.left())
    if args.json:
        write_json({"deleted": asset_id})
    else:
        print(f"deleted {asset_id}")


async def _repositories(client: RegistryClient, args: argparse.Namespace) -> None:
    budget = Budget(args.deadline)
    asset_id = await registry_id(client, args.registry, budget)
    names = await client.list_repositories(
        asset_id, search_name=args.search, deadline=budget.left()
    )
    print_names(names, "REPOSITORY", args.json, key="repositories")


async def _tags(client: RegistryClient, args: argparse.Namespace) -> None:
    budget = Budget(args.deadline)
    asset_id = await registry_id(client, args.registry, budget)
    found = await client.list_tags(
        asset_id, args.repository, search_name=args.search, deadline=budget.left()
    )
    names = tag_filter(args.include, args.exclude).select(found.tags)
    if args.latest:
        newest = latest(names, order=args.sort or "version", prereleases=not args.no_prereleases)
        names = [] if newest is None else [newest]
    elif args.sort:
        names = sort_tags(names, order=args.sort)
    print_names(names, "TAG", args.json, key="tags")
