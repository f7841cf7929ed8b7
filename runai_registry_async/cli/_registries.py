"""The command line's API commands: ``registries``, ``repositories`` and ``tags``."""

from __future__ import annotations

import argparse
from typing import Any

from .._client import RegistryClient
from .._models import (
    AssetCreationRequest,
    AssetUpdateRequest,
    RegistryCreationRequest,
    RegistrySpecRequest,
    RegistryUpdateRequest,
    Scope,
)
from .._tags import latest, sort_tags
from ._args import Budget, read_password, tag_filter
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
        by_id.add_argument("id")
        by_id.set_defaults(handler=handler)

    create = actions.add_parser(
        "create", help="create a registry (password on stdin or at the prompt)", parents=parents
    )
    create.add_argument("--name", required=True)
    create.add_argument("--url", required=True, help="the registry's base URL")
    create.add_argument("--user", required=True)
    create.add_argument("--description")
    create.add_argument("--scope", default="tenant", choices=[s.value for s in Scope])
    create.set_defaults(handler=_create_registry)

    update = actions.add_parser(
        "update",
        help="change a registry (password on stdin)",
        description=_UPDATE_HELP,
        parents=parents,
    )
    update.add_argument("id")
    update.add_argument("--name", help="default: unchanged")
    update.add_argument("--url", help="default: unchanged")
    update.add_argument("--user", help="default: unchanged")
    update.add_argument("--description", help="default: unchanged; '' removes it")
    update.set_defaults(handler=_update_registry)

    repositories = commands.add_parser(
        "repositories", help="list a registry's repositories", parents=parents
    )
    repositories.add_argument("id")
    repositories.add_argument("--search", help="only names containing this")
    repositories.set_defaults(handler=_repositories)

    tags = commands.add_parser("tags", help="list a repository's tags", parents=parents)
    tags.add_argument("id")
    tags.add_argument("repository")
    tags.add_argument("--search", help="only tags containing this (on the server)")
    tags.add_argument("--include", action="append", default=[], metavar="GLOB")
    tags.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    tags.add_argument("--sort", choices=["version", "lexical"], help="default: as served")
    tags.add_argument("--latest", action="store_true", help="only the newest (by --sort)")
    tags.set_defaults(handler=_tags)


async def _list_registries(client: RegistryClient, args: argparse.Namespace) -> None:
    print_registries(await client.list_registries(args.name, deadline=args.deadline), args.json)


async def _get_registry(client: RegistryClient, args: argparse.Namespace) -> None:
    registry = await client.get_registry(args.id, deadline=args.deadline)
    print_registries([registry], args.json, single=True)


async def _create_registry(client: RegistryClient, args: argparse.Namespace) -> None:
    meta = AssetCreationRequest(args.name, args.scope, description=args.description)
    spec = RegistrySpecRequest(args.url, args.user, read_password())
    created = await client.create_registry(
        RegistryCreationRequest(meta, spec), deadline=args.deadline
    )
    print_registries([created], args.json, single=True)


async def _update_registry(client: RegistryClient, args: argparse.Namespace) -> None:
    password = read_password()  # before any request: a missing one is a usage error
    budget = Budget(args.deadline)
    current = await client.get_registry(args.id, deadline=budget.left())
    description = current.meta.description if args.description is None else args.description
    request = RegistryUpdateRequest(
        AssetUpdateRequest(_given(args.name, current.meta.name), description or None),
        RegistrySpecRequest(
            _given(args.url, current.spec.url), _given(args.user, current.spec.user), password
        ),
    )
    updated = await client.update_registry(args.id, request, deadline=budget.left())
    print_registries([updated], args.json, single=True)


def _given(option: str | None, current: str) -> str:
    return current if option is None else option


async def _delete_registry(client: RegistryClient, args: argparse.Namespace) -> None:
    await client.delete_registry(args.id, deadline=args.deadline)
    if args.json:
        write_json({"deleted": args.id})
    else:
        print(f"deleted {args.id}")


async def _repositories(client: RegistryClient, args: argparse.Namespace) -> None:
    names = await client.list_repositories(args.id, search_name=args.search, deadline=args.deadline)
    print_names(names, "REPOSITORY", args.json, key="repositories")


async def _tags(client: RegistryClient, args: argparse.Namespace) -> None:
    found = await client.list_tags(
        args.id, args.repository, search_name=args.search, deadline=args.deadline
    )
    names = tag_filter(args.include, args.exclude).select(found.tags)
    if args.latest:
        newest = latest(names, order=args.sort or "version")
        names = [] if newest is None else [newest]
    elif args.sort:
        names = sort_tags(names, order=args.sort)
    print_names(names, "TAG", args.json, key="tags")
