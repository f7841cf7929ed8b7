"""``runai-registry``: the Registry API from the command line.

Secrets come from the environment (RUNAI_TOKEN, RUNAI_CLIENT_SECRET) or, for a
registry's password, from stdin or a prompt: never from argv, where any user of the
machine could read them in the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import orjson

from ._auth import ClientCredentials
from ._cli_output import result_json, table
from ._cli_queries import EXIT_PARTIAL, add_query_commands, find, tag_filter, watch
from ._cli_queries import latest as latest_command
from ._client import RegistryClient
from ._converter import converter
from ._crawl import CrawlResult, CrawlStats, crawl_tags
from ._errors import RunaiError
from ._models import (
    AssetCreationRequest,
    AssetUpdateRequest,
    Registry,
    RegistryCreationRequest,
    RegistrySpec,
    RegistryUpdateRequest,
    Scope,
)
from ._retry import RetryPolicy
from ._tags import latest, sort_tags

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


class UsageError(Exception):
    """Wrong or missing configuration: exit 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runai-registry",
        description="Registry assets of a Run:ai control plane. Credentials come from "
        "RUNAI_TOKEN, or RUNAI_CLIENT_ID and RUNAI_CLIENT_SECRET.",
    )
    parser.add_argument(
        "--base-url",
        default=os.environ.get("RUNAI_BASE_URL"),
        help="control plane URL (default: $RUNAI_BASE_URL)",
    )
    parser.add_argument(
        "--client-id",
        default=os.environ.get("RUNAI_CLIENT_ID"),
        help="application client id (default: $RUNAI_CLIENT_ID)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds allowed per attempt (default: 30)"
    )
    parser.add_argument(
        "--deadline",
        type=float,
        help="seconds allowed for the whole command: token, every attempt and every wait "
        "(a crawl: the whole crawl)",
    )
    parser.add_argument(
        "--max-per-second",
        type=float,
        help="start at most this many requests a second (default: no limit)",
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=3,
        help="how many times a failed request is tried again (default: 3; 0: never)",
    )
    parser.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow plain http:// to a non-loopback host",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    registries = commands.add_parser("registries", help="list, get, create, update, delete")
    actions = registries.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list registries")
    listing.add_argument("--name", help="only registries with this name")
    actions.add_parser("get", help="show one registry").add_argument("id")
    for name in ("create", "update"):
        action = actions.add_parser(
            name, help=f"{name} a registry (password from stdin or a prompt)"
        )
        if name == "update":
            action.add_argument("id")
        action.add_argument("--name", required=True)
        action.add_argument("--url", required=True, help="the registry's base URL")
        action.add_argument("--user", required=True)
        action.add_argument("--description")
        if name == "create":
            action.add_argument("--scope", default="tenant", choices=[s.value for s in Scope])
    actions.add_parser("delete", help="delete a registry").add_argument("id")

    repositories = commands.add_parser("repositories", help="list a registry's repositories")
    repositories.add_argument("id")
    repositories.add_argument("--search", help="only names containing this")
    tags = commands.add_parser("tags", help="list a repository's tags")
    tags.add_argument("id")
    tags.add_argument("repository")
    tags.add_argument("--search", help="only tags containing this (on the server)")
    tags.add_argument("--include", action="append", default=[], metavar="GLOB")
    tags.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    tags.add_argument("--sort", choices=["version", "lexical"], help="default: as served")
    tags.add_argument("--latest", action="store_true", help="only the newest (by --sort)")
    add_query_commands(commands)

    crawl = commands.add_parser("crawl", help="every tag of every registry, as JSON Lines")
    _crawl_options(crawl)
    demo = commands.add_parser("demo", help="crawl a local emulator with generated data")
    _crawl_options(demo)
    demo.add_argument("--registries", type=int, default=4)
    demo.add_argument("--repositories", type=int, default=12, help="per registry")
    demo.add_argument("--tags", type=int, default=150, help="per repository")
    return parser


def _crawl_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-registry", type=int)
    parser.add_argument("--repository-search")
    parser.add_argument("--tag-search")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``runai-registry`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UsageError as exc:
        print(f"runai-registry: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (RunaiError, ValueError, TypeError, OSError) as exc:
        print(f"runai-registry: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


async def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        return await _demo(args)
    async with _client(args) as client:
        return await COMMANDS[(args.command, getattr(args, "action", None))](client, args) or 0


def _client(args: argparse.Namespace) -> RegistryClient:
    if not args.base_url:
        raise UsageError(
            "no control plane: set RUNAI_BASE_URL or --base-url (or try 'runai-registry demo')"
        )
    token = os.environ.get("RUNAI_TOKEN") or None
    secret = os.environ.get("RUNAI_CLIENT_SECRET") or None
    auth = None
    if token is None and (args.client_id or secret):
        if not (args.client_id and secret):
            raise UsageError("client credentials need both RUNAI_CLIENT_ID and RUNAI_CLIENT_SECRET")
        auth = ClientCredentials(args.client_id, secret)
    if args.retries < 0:
        raise UsageError("--retries must be 0 or more")
    return RegistryClient(
        args.base_url,
        token=token,
        auth=auth,
        timeout=args.timeout,
        retry=RetryPolicy(attempts=args.retries + 1),
        max_per_second=args.max_per_second,
        allow_insecure_http=args.allow_insecure_http,
    )


# --- commands ------------------------------------------------------------------------


async def _list_registries(client: RegistryClient, args: argparse.Namespace) -> None:
    _print_registries(await client.list_registries(args.name, deadline=args.deadline), args.json)


async def _get_registry(client: RegistryClient, args: argparse.Namespace) -> None:
    _print_registries(
        [await client.get_registry(args.id, deadline=args.deadline)], args.json, single=True
    )


async def _create_registry(client: RegistryClient, args: argparse.Namespace) -> None:
    meta = AssetCreationRequest(args.name, args.scope, description=args.description)
    request = RegistryCreationRequest(meta, _spec(args))
    _print_registries(
        [await client.create_registry(request, deadline=args.deadline)], args.json, single=True
    )


async def _update_registry(client: RegistryClient, args: argparse.Namespace) -> None:
    request = RegistryUpdateRequest(AssetUpdateRequest(args.name, args.description), _spec(args))
    _print_registries(
        [await client.update_registry(args.id, request, deadline=args.deadline)],
        args.json,
        single=True,
    )


async def _delete_registry(client: RegistryClient, args: argparse.Namespace) -> None:
    await client.delete_registry(args.id, deadline=args.deadline)
    if args.json:
        _write_json({"deleted": args.id})
    else:
        print(f"deleted {args.id}")


async def _repositories(client: RegistryClient, args: argparse.Namespace) -> None:
    names = await client.list_repositories(args.id, search_name=args.search, deadline=args.deadline)
    _print_names(names, "REPOSITORY", args.json, key="repositories")


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
    _print_names(names, "TAG", args.json, key="tags")


async def _crawl(client: RegistryClient, args: argparse.Namespace) -> int:
    def write_line(result: CrawlResult) -> None:
        sys.stdout.write(orjson.dumps(result_json(result)).decode() + "\n")

    stats = await _run_crawl(client, args, write_line)
    sys.stdout.flush()
    print(
        f"crawled {stats.registries} registries, {stats.repositories} repositories, "
        f"{stats.tags} tags; {stats.errors} errors; {stats.requests} requests "
        f"in {stats.elapsed:.2f} s",
        file=sys.stderr,
    )
    return EXIT_PARTIAL if stats.errors else 0


# A command returns its exit status, or None for success.
Command = Callable[[RegistryClient, argparse.Namespace], Coroutine[Any, Any, int | None]]
COMMANDS: dict[tuple[str, str | None], Command] = {
    ("registries", "list"): _list_registries,
    ("registries", "get"): _get_registry,
    ("registries", "create"): _create_registry,
    ("registries", "update"): _update_registry,
    ("registries", "delete"): _delete_registry,
    ("repositories", None): _repositories,
    ("tags", None): _tags,
    ("crawl", None): _crawl,
    ("find", None): find,
    ("latest", None): latest_command,
    ("watch", None): watch,
}


async def _run_crawl(
    client: RegistryClient,
    args: argparse.Namespace,
    on_result: Callable[[CrawlResult], None],
    registries: list[Registry] | None = None,
) -> CrawlStats:
    """Crawl, handing each result to ``on_result``; progress on stderr if it is a terminal."""
    crawl = crawl_tags(
        client,
        registries,
        concurrency=args.concurrency,
        per_registry=args.per_registry,
        repository_search=args.repository_search,
        tag_search=args.tag_search,
        deadline=args.deadline,
    )
    progress = _Progress(crawl.stats) if sys.stderr.isatty() else None
    async for result in crawl:
        on_result(result)
        if progress is not None:
            progress.show()
    if progress is not None:
        progress.show(final=True)
    return crawl.stats


class _Progress:
    """One self-overwriting line on stderr, at most ten times a second."""

    def __init__(self, stats: CrawlStats) -> None:
        self._stats = stats
        self._shown_at = 0.0

    def show(self, *, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._shown_at < 0.1:
            return
        self._shown_at = now
        s = self._stats
        line = (
            f"\r{s.registries} registries, {s.repositories} repositories, {s.tags} tags, "
            f"{s.requests} requests ({s.retries} retried, {s.errors} errors) in {s.elapsed:.1f} s"
        )
        sys.stderr.write(line + ("\n" if final else ""))
        sys.stderr.flush()


async def _demo(args: argparse.Namespace) -> int:
    from .testing import RunaiEmulator

    async with RunaiEmulator() as emulator:
        emulator.record_requests = False
        emulator.seed(registries=args.registries, repositories=args.repositories, tags=args.tags)
        print(
            f"Emulated Run:ai control plane at {emulator.base_url} "
            f"({args.registries} registries x {args.repositories} repositories x {args.tags} tags)",
            file=sys.stderr,
        )
        async with RegistryClient(emulator.base_url, token=emulator.token) as client:
            registries = await client.list_registries()
            _print_registries(registries, args.json)
            repositories: dict[str, int] = {}
            tags: dict[str, int] = {}

            def tally(result: CrawlResult) -> None:
                if result.repository is None:
                    return  # an empty registry, or one that could not be listed
                name = result.registry_name or result.registry_id
                repositories[name] = repositories.get(name, 0) + 1
                tags[name] = tags.get(name, 0) + len(result.tags or ())

            stats = await _run_crawl(client, args, tally, registries)
    print()
    print(
        table(
            ["REGISTRY", "REPOSITORIES", "TAGS"],
            [[name, str(repositories[name]), str(tags[name])] for name in sorted(tags)],
        )
    )
    rate = stats.requests / stats.elapsed if stats.elapsed else 0.0
    print(
        f"\nCrawled {stats.registries} registries, {stats.repositories} repositories and "
        f"{stats.tags} tags with {stats.requests} requests in {stats.elapsed:.2f} s "
        f"({rate:,.0f} requests/s, {stats.errors} errors)."
    )
    return 0


# --- output ----------------------------------------------------------------------------


def _spec(args: argparse.Namespace) -> RegistrySpec:
    return RegistrySpec(args.url, args.user, _read_password())


def _read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Registry password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError("a registry password is required (on stdin or at the prompt)")
    return password


def _registry_json(registry: Registry) -> dict[str, Any]:
    data: dict[str, Any] = converter.unstructure(registry)
    if data["spec"].get("password") is not None:
        data["spec"]["password"] = "***"
    return data


def _print_registries(registries: list[Registry], as_json: bool, *, single: bool = False) -> None:
    if as_json:
        items = [_registry_json(r) for r in registries]
        _write_json(items[0] if single else items)
        return
    rows = [
        [
            r.meta.id,
            r.meta.name,
            str(getattr(r.meta.scope, "value", r.meta.scope)),
            r.spec.url,
            r.spec.user,
            r.meta.updated_at.isoformat(timespec="seconds"),
        ]
        for r in registries
    ]
    print(table(["ID", "NAME", "SCOPE", "URL", "USER", "UPDATED"], rows))


def _print_names(names: list[str], header: str, as_json: bool, *, key: str) -> None:
    if as_json:
        _write_json({key: names})
    else:
        print(table([header], [[n] for n in names]))


def _write_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
