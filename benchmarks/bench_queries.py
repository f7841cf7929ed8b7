"""find_tags against crawl_tags plus hand-written filtering; watch_tags' memory over polls.

    python benchmarks/bench_queries.py [--runs 5] [--watch-polls 50]

Part 1: 100 registries x 40 repositories x 500 tags from the benchmark server (in its own
process; it ignores searches, so both variants send the same 4,101 requests). Each run
is a fresh child measuring its own CPU (getrusage) for one crawl after a warm-up one:
``find_tags(client, "team-0/app-0", TagFilter(include=["v1*"]))`` against
``crawl_tags(repository_search=..., tag_search="v1")`` with the exact repository and
fnmatch filtering written by hand. Medians over ``--runs``, rotated order.

Part 2: ``watch_tags`` over 1,000 repositories of an in-process emulator (50 tags each,
one tag changed per poll) for ``--watch-polls`` polls; Python heap (tracemalloc) after
polls 1, 10, 25 and the last.
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import json
import resource
import sys
import tracemalloc
from typing import Any

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from _common import machine, median, rotated, run_child, server, table

VARIANTS = ("crawl_tags + filtering by hand", "find_tags")
REPOSITORY, PATTERN, HINT = "team-0/app-0", "v1*", "v1"


class _Done(Exception):
    """Ends the watch after the last poll."""


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def crawl_once(variant: str, base_url: str) -> tuple[int, int]:
    from runai_registry_async import RegistryClient, TagFilter, crawl_tags, find_tags

    matches = requests = 0
    async with RegistryClient(base_url, token="bench") as client:
        if variant == "find_tags":
            async for result in find_tags(
                client, REPOSITORY, TagFilter(include=[PATTERN]), concurrency=16
            ):
                matches += len(result.tags or [])
        else:
            crawl = crawl_tags(
                client, repository_search=REPOSITORY, tag_search=HINT, concurrency=16
            )
            async for result in crawl:
                if result.error is None and result.repository == REPOSITORY:
                    matches += sum(fnmatch.fnmatchcase(t, PATTERN) for t in result.tags or [])
        requests = client.requests_sent
    return matches, requests


async def measure(variant: str, base_url: str) -> dict[str, float]:
    await crawl_once(variant, base_url)  # warm-up
    started = cpu()
    matches, requests = await crawl_once(variant, base_url)
    return {"cpu": cpu() - started, "matches": matches, "requests": requests}


async def watch_memory(polls: int) -> list[tuple[int, float]]:
    from runai_registry_async import RegistryClient, TagSnapshot, watch_tags
    from runai_registry_async.testing import RunaiEmulator

    samples: list[tuple[int, float]] = []
    async with RunaiEmulator() as emulator:
        emulator.record_requests = False
        registry = emulator.add_registry("r")
        names = [f"team/app-{n}" for n in range(1000)]
        for name in names:
            emulator.add_repository(registry.id, name, tags=[f"1.{t}" for t in range(50)])
        done = 0

        def after_poll(_: TagSnapshot) -> None:
            nonlocal done
            done += 1
            # One tag replaced per poll: the watch has something to report each time.
            emulator.add_repository(
                registry.id,
                names[done % 1000],
                tags=[f"1.{t}" for t in range(1, 50)] + [f"x{done}"],
            )
            if done in (1, 10, 25, polls):
                samples.append((done, tracemalloc.get_traced_memory()[0] / 1e6))
            if done == polls:
                raise _Done

        async with RegistryClient(emulator.base_url, token=emulator.token) as client:
            tracemalloc.start()
            try:
                async for _ in watch_tags(
                    client,
                    [(registry.id, name) for name in names],
                    interval=0.001,
                    jitter=0,
                    on_poll=after_poll,
                ):
                    pass
            except _Done:
                pass
            finally:
                tracemalloc.stop()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--watch-polls", type=int, default=50)
    parser.add_argument("--registries", type=int, default=100)
    parser.add_argument("--child", nargs=2)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(*args.child))))
        return

    results: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    server_args = ["--registries", str(args.registries), "--repositories", "40", "--tags", "500"]
    with server(*server_args) as base_url:
        for turn in range(args.runs):
            for variant in rotated(VARIANTS, turn):
                results[variant].append(run_child("bench_queries.py", variant, base_url))
    floor = median([r["cpu"] for r in results[VARIANTS[0]]])
    rows = [
        [
            variant,
            f"{median([r['cpu'] for r in results[variant]]):.3f} s",
            f"{median([r['cpu'] for r in results[variant]]) / floor:.2f}x",
            f"{results[variant][0]['requests']:,.0f}",
            f"{results[variant][0]['matches']:,.0f}",
        ]
        for variant in VARIANTS
    ]
    print(f"{machine()}; medians of {args.runs}\n")
    print(
        table(["variant", "client CPU per crawl", "x by hand", "requests", "matching tags"], rows)
    )
    samples = asyncio.run(watch_memory(args.watch_polls))
    print()
    print(
        table(
            ["watch_tags, 1,000 repositories: after poll", "Python heap"],
            [[str(poll), f"{size:.1f} MB"] for poll, size in samples],
        )
    )


if __name__ == "__main__":
    main()
