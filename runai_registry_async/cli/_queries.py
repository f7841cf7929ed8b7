"""The command line's questions about tags across registries: ``find``, ``latest``, ``watch``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from .._client import RegistryClient
from .._queries import find_tags, latest_tags
from .._watch import TagEvent, TagSnapshot, watch_tags
from ._args import EXIT_ERROR, EXIT_PARTIAL, count, positive, tag_filter
from ._output import print_table, result_json, write_json_line


def add_commands(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """``find``, ``latest`` and ``watch`` on the CLI's subcommand parsers."""
    find = commands.add_parser(
        "find",
        help="a repository across registries, with its matching tags (JSON Lines)",
        parents=parents,
    )
    find.add_argument("repository")
    find.add_argument("--tag", action="append", default=[], metavar="GLOB", help="repeatable")
    find.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    find.add_argument("--concurrency", type=count, default=16)
    find.set_defaults(handler=_find)
    latest = commands.add_parser(
        "latest", help="the newest tag of a repository, per registry", parents=parents
    )
    latest.add_argument("repository")
    latest.add_argument("--include", action="append", default=[], metavar="GLOB")
    latest.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    latest.add_argument("--sort", choices=["version", "lexical"], default="version")
    latest.add_argument(
        "--no-prereleases", action="store_true", help="pass over 2.0.0-rc.1 and the like"
    )
    latest.add_argument("--concurrency", type=count, default=16)
    latest.set_defaults(handler=_latest)
    watch = commands.add_parser(
        "watch", help="JSON Lines of tags added and removed, by polling", parents=parents
    )
    watch.add_argument(
        "--repository", action="append", default=[], metavar="R", help="repeatable; default: all"
    )
    watch.add_argument(
        "--interval", type=positive, default=60.0, help="seconds between polls (default: 60)"
    )
    watch.add_argument("--state", type=Path, help="a file to resume from, saved after each poll")
    watch.add_argument("--polls", type=count, help="stop after this many polls (default: never)")
    watch.set_defaults(handler=_watch)


async def _find(client: RegistryClient, args: argparse.Namespace) -> int:
    failed = found = 0
    async for result in find_tags(
        client,
        args.repository,
        tag_filter(args.tag, args.exclude),
        concurrency=args.concurrency,
        deadline=args.deadline,
    ):
        failed += result.error is not None
        found += result.error is None and bool(result.tags)
        write_json_line(result_json(result))
    sys.stdout.flush()
    if failed:
        return EXIT_PARTIAL
    return 0 if found else _nothing_found(f"no tag of {args.repository!r} found")


async def _latest(client: RegistryClient, args: argparse.Namespace) -> int:
    rows: list[dict[str, Any]] = []
    failed = 0
    async for found in latest_tags(
        client,
        args.repository,
        tag_filter(args.include, args.exclude),
        order=args.sort,
        prereleases=not args.no_prereleases,
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
            write_json_line(row)
    else:
        print_table(
            ["REGISTRY", "REPOSITORY", "TAG"],
            [
                [r["registryName"] or r["registryId"], r["repository"] or "", r["tag"] or "-"]
                for r in rows
            ],
        )
    if failed:
        return EXIT_PARTIAL
    if any(r["tag"] is not None for r in rows):
        return 0
    return _nothing_found(f"no registry has {args.repository!r}" if not rows else "no tag matches")


def _nothing_found(note: str) -> int:
    """Exit 1 with a note, as grep does when nothing matches."""
    print(f"runai-registry: {note}", file=sys.stderr)
    return EXIT_ERROR


class _EnoughPolls(Exception):
    """Raised from the poll hook to end ``watch --polls N`` after its last poll."""


async def _watch(client: RegistryClient, args: argparse.Namespace) -> int:
    snapshot = _load_state(args.state)
    targets = await _targets(client, args.repository)
    if not targets:
        print("runai-registry: nothing to watch: no such repository", file=sys.stderr)
        return EXIT_PARTIAL
    polls = 0

    # One thread writes the state, in order, off the event loop: a big state takes
    # seconds to serialise, which the polls must not wait for.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runai-registry state")
    last_write: Future[None] | None = None

    def after_poll(state: TagSnapshot) -> None:
        nonlocal polls, last_write
        if args.state is not None:
            last_write = writer.submit(save_state, args.state, state.copy())
        polls += 1
        if args.polls is not None and polls >= args.polls:
            raise _EnoughPolls

    events = watch_tags(
        client, targets, interval=args.interval, snapshot=snapshot, on_poll=after_poll
    )
    try:
        async for event in events:
            line: dict[str, Any] = {
                "event": event.kind if isinstance(event, TagEvent) else "error",
                "registryId": event.registry_id,
                "repository": event.repository,
                "observedAt": event.observed_at.isoformat(),
            }
            if isinstance(event, TagEvent):
                line["tag"] = event.tag
            else:
                line["error"] = str(event.error)
            write_json_line(line)
            sys.stdout.flush()
    except _EnoughPolls:
        pass
    finally:
        await asyncio.get_running_loop().run_in_executor(None, writer.shutdown)
    if last_write is not None:
        last_write.result()  # a state that could not be written is an error (OSError)
    return 0


def save_state(path: Path, snapshot: TagSnapshot) -> None:
    """Write ``snapshot`` to ``path`` atomically: a new private file beside it (created
    exclusively, so a planted link is never followed), synced, then renamed over it."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:  # mkstemp: O_EXCL, mode 0600
            file.write(orjson.dumps(snapshot.to_json()))
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _load_state(path: Path | None) -> TagSnapshot:
    if path is None or not path.exists():
        return TagSnapshot()
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"--state {path}: not JSON ({exc.msg})") from None
    try:
        return TagSnapshot.from_json(data)
    except ValueError as exc:
        raise ValueError(f"--state {path}: {exc}") from None


async def _targets(client: RegistryClient, repositories: list[str]) -> list[tuple[str, str]]:
    """Every (registry, repository) to watch: the named repositories (exact names) in every
    registry, or every repository of every registry."""
    targets = []
    for registry in await client.list_registries():
        if repositories:
            for name in repositories:
                found = await client.list_repositories(registry.meta.id, search_name=name)
                targets += [(registry.meta.id, name)] if name in found else []
        else:
            found = await client.list_repositories(registry.meta.id)
            targets += [(registry.meta.id, name) for name in found]
    return targets
