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
from .._errors import RunaiError
from .._queries import find_tags, latest_tags
from .._watch import TagEvent, TagSnapshot, Target, WatchError, watch_tags
from ._args import EXIT_ERROR, EXIT_PARTIAL, count, positive, tag_filter
from ._output import print_table, printable, result_json, write_json_line


def add_commands(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """``find``, ``latest`` and ``watch`` on the CLI's subcommand parsers."""
    find = commands.add_parser(
        "find",
        help="a repository across registries, with its matching tags (JSON Lines)",
        parents=parents,
    )
    find.add_argument("repository")
    find.add_argument(
        "--include",
        "--tag",  # its former name
        dest="include",
        action="append",
        default=[],
        metavar="GLOB",
        help="only tags matching GLOB (repeatable)",
    )
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
        "watch",
        help="tags added and removed, by polling (a line per change; --json: JSON Lines)",
        description="Report tags added to and removed from repositories, by polling. The "
        "repositories are found again before every poll: one that appears later is watched "
        "from then on, and its tags are reported as added.",
        parents=parents,
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
        tag_filter(args.include, args.exclude),
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
    targets = _Targets(client, args.repository)
    if not await targets():
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
            if args.json:
                write_json_line(_event_json(event))
            else:
                print(_event_line(event))
            sys.stdout.flush()
    except _EnoughPolls:
        pass
    finally:
        await asyncio.get_running_loop().run_in_executor(None, writer.shutdown)
    if last_write is not None:
        last_write.result()  # a state that could not be written is an error (OSError)
    return 0


def _event_json(event: TagEvent | WatchError) -> dict[str, Any]:
    line: dict[str, Any] = {
        "event": event.kind if isinstance(event, TagEvent) else "error",
        "registryId": event.registry_id,
        "registryName": event.registry_name,
        "repository": event.repository,
        "observedAt": event.observed_at.isoformat(),
    }
    if isinstance(event, TagEvent):
        line["tag"] = event.tag
    else:
        line["error"] = str(event.error)
    return line


def _event_line(event: TagEvent | WatchError) -> str:
    """One event for a person: when, what, where (a registry's name where known)."""
    when = event.observed_at.strftime("%Y-%m-%d %H:%M:%S")
    where = f"{event.registry_name or event.registry_id} {event.repository}"
    if isinstance(event, TagEvent):
        return printable(f"{when}  {event.kind:<7}  {where}:{event.tag}")
    return printable(f"{when}  error    {where}: {event.error}")


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


class _Targets:
    """What ``watch`` polls, found again before every poll: the named repositories
    (exact names) in every registry, or every repository of every registry. A registry
    that cannot be listed keeps the targets it had (its polls report the failure)."""

    def __init__(self, client: RegistryClient, repositories: list[str]) -> None:
        self._client = client
        self._repositories = repositories
        self._last: dict[str, list[Target]] = {}

    async def __call__(self) -> list[Target]:
        client = self._client
        found: dict[str, list[Target]] = {}
        for registry in await client.list_registries():
            try:
                names = await client.list_repositories(registry.meta.id)
            except RunaiError:
                found[registry.meta.id] = self._last.get(registry.meta.id, [])
                continue
            wanted = [n for n in names if n in self._repositories] if self._repositories else names
            found[registry.meta.id] = [(registry, name) for name in wanted]
        self._last = found
        return [target for targets in found.values() for target in targets]
