"""The command line's questions about tags: ``find`` and ``latest`` across registries."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from ._cli_table import table
from ._client import RegistryClient
from ._queries import find_tags, latest_tags
from ._tags import TagFilter

#: A run in which some result failed (the others were printed).
EXIT_PARTIAL = 3


def add_query_commands(commands: Any) -> None:
    """``find`` and ``latest`` on the CLI's subcommand parsers."""
    find = commands.add_parser(
        "find", help="a repository across registries, with its matching tags (JSON Lines)"
    )
    find.add_argument("repository")
    find.add_argument("--tag", action="append", default=[], metavar="GLOB", help="repeatable")
    find.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    find.add_argument("--concurrency", type=int, default=16)
    latest = commands.add_parser("latest", help="the newest tag of a repository, per registry")
    latest.add_argument("repository")
    latest.add_argument("--include", action="append", default=[], metavar="GLOB")
    latest.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    latest.add_argument("--sort", choices=["version", "lexical"], default="version")
    latest.add_argument("--concurrency", type=int, default=16)


def tag_filter(include: list[str], exclude: list[str]) -> TagFilter:
    return TagFilter(include=tuple(include), exclude=tuple(exclude))


async def find(client: RegistryClient, args: argparse.Namespace) -> int:
    failed = 0
    async for result in find_tags(
        client,
        args.repository,
        tag_filter(args.tag, args.exclude),
        concurrency=args.concurrency,
        deadline=args.deadline,
    ):
        line: dict[str, Any] = {
            "registryId": result.registry_id,
            "registryName": result.registry_name,
            "repository": result.repository,
            "tags": result.tags,
        }
        if result.error is not None:
            failed += 1
            line["error"] = str(result.error)
        sys.stdout.write(orjson.dumps(line).decode() + "\n")
    sys.stdout.flush()
    return EXIT_PARTIAL if failed else 0


async def latest(client: RegistryClient, args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    failed = 0
    async for found in latest_tags(
        client,
        args.repository,
        tag_filter(args.include, args.exclude),
        order=args.sort,
        concurrency=args.concurrency,
        deadline=args.deadline,
    ):
        failed += found.error is not None
        rows.append(
            {
                "registryId": found.registry_id,
                "registryName": found.registry_name,
                "repository": found.repository,
                "tag": found.tag,
                **({"error": str(found.error)} if found.error is not None else {}),
            }
        )
    if args.json:
        for row in rows:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
    else:
        print(
            table(
                ["REGISTRY", "REPOSITORY", "TAG"],
                [
                    [r["registryName"] or r["registryId"], r["repository"] or "", r["tag"] or "-"]
                    for r in rows
                ],
            )
        )
    return EXIT_PARTIAL if failed else 0
