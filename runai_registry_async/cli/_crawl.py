"""The command line's crawls: ``crawl`` (JSON Lines) and ``demo`` (against an emulator)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from .._client import RegistryClient
from .._crawl import crawl_tags
from .._crawl_results import CrawlResult, CrawlStats
from .._models import Registry
from ._args import EXIT_PARTIAL, count, zero_or_more
from ._output import print_registries, print_table, result_json, write_json_line
from ._trace import Tracer


def add_commands(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    """``crawl`` and ``demo`` on the CLI's subcommand parsers."""
    crawl = commands.add_parser(
        "crawl", help="every tag of every registry, as JSON Lines", parents=parents
    )
    _crawl_options(crawl)
    crawl.set_defaults(handler=_crawl)
    demo = commands.add_parser(
        "demo", help="crawl a local emulator with generated data (no credentials needed)"
    )
    _crawl_options(demo)
    demo.add_argument("--registries", type=zero_or_more, default=4)
    demo.add_argument("--repositories", type=zero_or_more, default=12, help="per registry")
    demo.add_argument("--tags", type=zero_or_more, default=150, help="per repository")
    # SUPPRESS: a --json given before the command is not reset here.
    demo.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="registries as JSON"
    )
    demo.add_argument(
        "--trace", action="store_true", help="print each HTTP request and retry to stderr"
    )
    demo.set_defaults(handler=None, run=_demo)


def _crawl_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--concurrency", type=count, default=16, help="requests at once (default: 16)"
    )
    parser.add_argument(
        "--per-registry", type=count, help="requests at once to one registry (default: no cap)"
    )
    parser.add_argument("--repository-search", help="only repositories containing this")
    parser.add_argument("--tag-search", help="only tags containing this (on the server)")


async def _crawl(client: RegistryClient, args: argparse.Namespace) -> int:
    stats = await _run_crawl(client, args, lambda result: write_json_line(result_json(result)))
    sys.stdout.flush()
    print(
        f"crawled {_counts(stats)}; {_plural(stats.errors, 'error', 'errors')}; "
        f"{_plural(stats.requests, 'request', 'requests')} "
        f"in {stats.elapsed:.2f} s",
        file=sys.stderr,
    )
    return EXIT_PARTIAL if stats.errors else 0


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
    progress = Progress(crawl.stats) if sys.stderr.isatty() else None
    async for result in crawl:
        on_result(result)
        if progress is not None:
            progress.show()
    if progress is not None:
        progress.show(final=True)
    return crawl.stats


class Progress:
    """One self-overwriting line on stderr, at most ten times a second: repositories done
    of those known, the request rate, and the time left once every registry is listed."""

    def __init__(self, stats: CrawlStats, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._stats = stats
        self._clock = clock
        self._shown_at: float | None = None

    def show(self, *, final: bool = False) -> None:
        now = self._clock()
        if not final and self._shown_at is not None and now - self._shown_at < 0.1:
            return
        self._shown_at = now
        sys.stderr.write("\r" + self.line() + ("\n" if final else ""))
        sys.stderr.flush()

    def line(self) -> str:
        s = self._stats
        elapsed = s.elapsed
        rate = s.requests / elapsed if elapsed > 0 else 0.0
        text = (
            f"{s.repositories_done}/{s.repositories_found} repositories of "
            f"{_plural(s.registries, 'registry', 'registries')}, {s.tags} tags, "
            f"{rate:,.0f} requests/s, {_plural(s.errors, 'error', 'errors')}, "
            f"{elapsed:.1f} s"
        )
        left = s.repositories_found - s.repositories_done
        # The total is known once every registry taken so far has been listed.
        if left > 0 and s.registries == s.registries_seen and s.repositories_done > 0:
            text += f", about {left * elapsed / s.repositories_done:.0f} s left"
        return text


def _counts(stats: CrawlStats, last: str = ", ") -> str:
    """``1 registry, 12 repositories, 1 tag``: what a crawl went through."""
    return (
        f"{_plural(stats.registries, 'registry', 'registries')}, "
        f"{_plural(stats.repositories, 'repository', 'repositories')}{last}"
        f"{_plural(stats.tags, 'tag', 'tags')}"
    )


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


async def _demo(args: argparse.Namespace) -> int:
    from ..testing import RunaiEmulator

    async with RunaiEmulator() as emulator:
        emulator.record_requests = False
        emulator.seed(registries=args.registries, repositories=args.repositories, tags=args.tags)
        print(
            f"Emulated Run:ai control plane at {emulator.base_url} "
            f"({args.registries} registries x {args.repositories} repositories x {args.tags} tags)",
            file=sys.stderr,
        )
        hooks = [Tracer(emulator.base_url)] if args.trace else None
        async with RegistryClient(
            emulator.base_url, token=emulator.token, event_hooks=hooks
        ) as client:
            registries = await client.list_registries()
            print_registries(registries, args.json)
            repositories: dict[str, int] = {}
            tags: dict[str, int] = {}

            def tally(result: CrawlResult) -> None:
                if result.error is not None or result.repository is None:
                    return  # a failure, or an empty registry
                name = result.registry_name or result.registry_id
                repositories[name] = repositories.get(name, 0) + 1
                tags[name] = tags.get(name, 0) + len(result.tags)

            stats = await _run_crawl(client, args, tally, registries)
    print()
    print_table(
        ["REGISTRY", "REPOSITORIES", "TAGS"],
        [[name, str(repositories[name]), str(tags[name])] for name in sorted(tags)],
    )
    rate = stats.requests / stats.elapsed if stats.elapsed else 0.0
    print(
        f"\nCrawled {_counts(stats, last=' and ')} with "
        f"{_plural(stats.requests, 'request', 'requests')} in {stats.elapsed:.2f} s "
        f"({rate:,.0f} requests/s, {_plural(stats.errors, 'error', 'errors')})."
    )
    return 0
