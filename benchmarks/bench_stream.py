"""iter_tags vs list_tags vs a raw aiohttp + orjson floor, on one 1,000,000-tag response.

``iter_tags .batches()`` walks the same stream a list of tags at a time.

    python benchmarks/bench_stream.py [--tags 1000000] [--runs 5] [--short-tags]
                                      [--variants VARIANT ...]

The server runs in its own process; every measurement runs in a fresh child process,
which reports wall time, tags/s, time from the response headers to the first tag, and
its peak RSS growth over its own baseline. Figures are medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import uuid
from typing import Any

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from _common import machine, median, rotated, run_child, server, table

REGISTRY_ID = str(uuid.UUID(int=1 << 64))
REPOSITORY = "team-0/app-0"
VARIANTS = ("raw aiohttp + orjson", "list_tags", "iter_tags", "iter_tags .batches()")


async def measure(variant: str, base_url: str) -> dict[str, float]:
    import aiohttp
    import orjson

    from runai_registry_async import RegistryClient

    headers_at: list[float] = []

    async def on_request_end(session: Any, context: Any, params: Any) -> None:
        headers_at.append(time.perf_counter())

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = RegistryClient(base_url, session=session)
        await client.list_registries()  # warm: connection open, imports done
        headers_at.clear()
        baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        first_at = 0.0
        count = 0
        if variant == "iter_tags":
            async for _ in client.iter_tags(REGISTRY_ID, REPOSITORY):
                if not count:
                    first_at = time.perf_counter()
                count += 1
        elif variant == "iter_tags .batches()":
            async for batch in client.iter_tags(REGISTRY_ID, REPOSITORY).batches():
                if not count:
                    first_at = time.perf_counter()
                count += len(batch)
        elif variant == "list_tags":
            tags = (await client.list_tags(REGISTRY_ID, REPOSITORY)).tags
            first_at = time.perf_counter()
            count = len(tags)
            del tags
        else:
            url = f"{base_url}/api/v1/asset/registries/{REGISTRY_ID}/repositories/tags"
            async with session.get(url, params={"repository": REPOSITORY}) as response:
                tags = orjson.loads(await response.read())["tags"]
            first_at = time.perf_counter()
            count = len(tags)
            del tags
        ended = time.perf_counter()
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "wall": ended - started,
        "tags": count,
        "first_ms": (first_at - headers_at[0]) * 1000,
        "rss_mb": (peak_kb - baseline_kb) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tags", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--short-tags", action="store_true", help="v0000001... instead of 20-40 characters"
    )
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "BASE_URL"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(*args.child))))
        return

    # The floor always runs: every ratio is against it.
    variants = [VARIANTS[0], *(v for v in args.variants if v != VARIANTS[0])]
    results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    server_args = ["--tags", str(args.tags)] + (["--short-tags"] if args.short_tags else [])
    with server(*server_args) as base_url:
        for turn in range(args.runs):  # interleaved, so drift on a noisy machine hits all alike
            for variant in rotated(variants, turn):
                results[variant].append(run_child("bench_stream.py", variant, base_url))
    floor = {k: median([r[k] for r in results[VARIANTS[0]]]) for k in ("wall", "rss_mb")}
    rows = []
    for variant in variants:
        runs = results[variant]
        assert all(r["tags"] == args.tags for r in runs), variant
        wall = median([r["wall"] for r in runs])
        rss = median([r["rss_mb"] for r in runs])
        rows.append(
            [
                variant,
                f"{wall:.3f} s ({wall / floor['wall']:.2f}x)",
                f"{args.tags / wall / 1e6:.2f} M",
                f"{median([r['first_ms'] for r in runs]):.1f} ms",
                f"{rss:.1f} MB",
            ]
        )
    style = "short (v0000001)" if args.short_tags else "20-40 character"
    print(f"{args.tags:,} {style} tags, medians of {args.runs} runs; {machine()}\n")
    print(
        table(
            ["variant", "wall (x floor)", "tags/s", "first tag after headers", "peak RSS growth"],
            rows,
        )
    )


if __name__ == "__main__":
    main()
