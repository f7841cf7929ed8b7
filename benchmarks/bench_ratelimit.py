"""Throughput against a rate-limited, latency-bound control plane.

    python benchmarks/bench_ratelimit.py [--runs 3] [--scenarios bucket-300 ...]

The emulator runs in its own process as a control plane that asks the upstream registry
on every repositories and tags call (20-50 ms, at random) and limits each client with a
token bucket of its own (burst: a tenth of a second's worth), answering 429 with an
integer ``Retry-After`` past it. A crawl lists 100 registries x 40 repositories (4,101
requests, 50 tags each); every crawl runs in a fresh child, after the bucket has refilled.

Scenarios:
  bucket-60, bucket-300, bucket-1000   the bucket at that rate, not advertised
  advertised-300                       the same at 300/s, the limit on every answer
                                       (RateLimit-Policy and the older RateLimit-* fields)
  unlimited                            no limit, every call 50 ms: latency alone
  faults-16, faults-64                 no limit, 10% of calls fail (503 without
                                       Retry-After, or a reset), at that concurrency

Variants: ``crawl_tags`` with the defaults; the same with ``max_per_second`` set to the
server's rate (a user who knows it); a naive aiohttp loop (64 workers on one queue, a
429 retried after its ``Retry-After``); for faults, the client's own methods driven by
that plain queue loop. "Efficiency" is the least wall time the limit allows (the requests
past the first burst at the limit's rate; with no limit, the requests' total latency over
the concurrency) over the measured wall time. Reported: medians of ``--runs``, the share of
requests answered 429, the tags collected and error results (the worst run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from typing import Any

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))

from _common import HERE, machine, median, rotated, run_child, table

REGISTRIES, REPOSITORIES, TAGS = 100, 40, 50
REQUESTS = 1 + REGISTRIES + REGISTRIES * REPOSITORIES
LATENCY = (0.020, 0.050)

#: name: (rate limit or None, advertised, latency range, fault share, concurrency)
SCENARIOS: dict[str, tuple[float | None, bool, tuple[float, float], float, int]] = {
    "bucket-60": (60, False, LATENCY, 0.0, 64),
    "bucket-300": (300, False, LATENCY, 0.0, 64),
    "bucket-1000": (1000, False, LATENCY, 0.0, 64),
    "advertised-300": (300, True, LATENCY, 0.0, 64),
    "unlimited": (None, False, (0.050, 0.050), 0.0, 64),
    "faults-16": (None, False, LATENCY, 0.1, 16),
    "faults-64": (None, False, LATENCY, 0.1, 64),
}
LIMITED = ("crawl_tags (defaults)", "crawl_tags + max_per_second", "naive aiohttp loop")
UNLIMITED = ("crawl_tags (defaults)", "naive aiohttp loop")
FAULTY = ("crawl_tags (defaults)", "client methods on a queue loop")


def variants_of(scenario: str) -> tuple[str, ...]:
    rate, advertised, _, faults, _ = SCENARIOS[scenario]
    if faults:
        return FAULTY
    if rate is None or advertised:
        return UNLIMITED
    return LIMITED


async def serve(scenario: str) -> None:
    from runai_registry_async.testing import RunaiEmulator

    rate, advertised, (low, high), faults, _ = SCENARIOS[scenario]
    async with RunaiEmulator() as emulator:
        emulator.record_requests = False
        emulator.seed(registries=REGISTRIES, repositories=REPOSITORIES, tags=TAGS)
        emulator.upstream_latency(low, high)
        if rate is not None:
            emulator.rate_limit(rate, burst=max(1, int(rate // 10)), advertise=advertised)
        if faults:
            for operation in ("list_repositories", "list_tags"):
                emulator.flaky(operation, faults, status=503, resets=True)
        print(json.dumps({"base_url": emulator.base_url, "token": emulator.token}), flush=True)
        await asyncio.Event().wait()


async def measure(scenario: str, variant: str, base_url: str, token: str) -> dict[str, Any]:
    rate, _, _, _, concurrency = SCENARIOS[scenario]
    started = time.perf_counter()
    if variant == "naive aiohttp loop":
        counts = await naive(base_url, token, concurrency)
    elif variant == "client methods on a queue loop":
        counts = await client_loop(base_url, token, concurrency)
    else:
        limit = rate if "max_per_second" in variant else None
        # The crawl's own default concurrency, but where the scenario sets it (faults).
        counts = await crawl(
            base_url, token, limit, concurrency if scenario.startswith("faults") else 64
        )
    return {"wall": time.perf_counter() - started, **counts}


async def crawl(
    base_url: str, token: str, max_per_second: float | None, concurrency: int
) -> dict[str, int]:
    from runai_registry_async import RegistryClient, crawl_tags

    tags = errors = 0
    async with RegistryClient(base_url, token=token, max_per_second=max_per_second) as client:
        async for result in crawl_tags(client, concurrency=concurrency):
            tags += len(result.tags or [])
            errors += result.error is not None
        return {
            "sent": client.requests_sent,
            "refused": client.throttled,
            "tags": tags,
            "errors": errors,
        }


async def naive(base_url: str, token: str, concurrency: int) -> dict[str, int]:
    """The loop a user writes first: a queue, workers, a 429 retried after Retry-After."""
    import aiohttp
    import orjson

    registries_url = f"{base_url}/api/v1/asset/registries"
    counts = {"sent": 0, "refused": 0, "tags": 0, "errors": 0}
    queue: asyncio.Queue[tuple[str, dict[str, str]]] = asyncio.Queue()

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:

        async def get(url: str, params: dict[str, str]) -> Any:
            for _ in range(20):
                counts["sent"] += 1
                try:
                    async with session.get(url, params=params) as response:
                        if response.status == 429:
                            counts["refused"] += 1
                            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                            continue
                        if response.status >= 500:
                            continue
                        response.raise_for_status()
                        return orjson.loads(await response.read())
                except aiohttp.ClientConnectionError:
                    continue
            counts["errors"] += 1
            return None

        async def worker() -> None:
            while True:
                url, params = await queue.get()
                try:
                    data = await get(url, params)
                    if data is not None and "repositories" in data:
                        for name in data["repositories"]:
                            queue.put_nowait((url + "/tags", {"repository": name}))
                    elif data is not None:
                        counts["tags"] += len(data["tags"])
                finally:
                    queue.task_done()

        listing = await get(registries_url, {})
        for entry in listing["entries"]:
            queue.put_nowait((f"{registries_url}/{entry['meta']['id']}/repositories", {}))
        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await queue.join()
        for task in workers:
            task.cancel()
    return counts


async def client_loop(base_url: str, token: str, concurrency: int) -> dict[str, int]:
    """The client's own methods (retries and all) on that plain queue loop."""
    from runai_registry_async import RegistryClient, RunaiError

    counts = {"tags": 0, "errors": 0}
    queue: asyncio.Queue[tuple[str, str | None]] = asyncio.Queue()
    async with RegistryClient(base_url, token=token) as client:

        async def worker() -> None:
            while True:
                registry, repository = await queue.get()
                try:
                    if repository is None:
                        for name in await client.list_repositories(registry):
                            queue.put_nowait((registry, name))
                    else:
                        # Read after the await: `+=` around it would lose counts to a race.
                        found = await client.list_tags(registry, repository)
                        counts["tags"] += len(found.tags)
                except RunaiError:
                    counts["errors"] += 1
                finally:
                    queue.task_done()

        for registry in await client.list_registries():
            queue.put_nowait((registry.meta.id, None))
        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await queue.join()
        for task in workers:
            task.cancel()
        return {**counts, "sent": client.requests_sent, "refused": client.throttled}


def least_wall(scenario: str) -> float:
    rate, _, (low, high), _, concurrency = SCENARIOS[scenario]
    if rate is None:
        return REQUESTS * (low + high) / 2 / concurrency
    return (REQUESTS - max(1, int(rate // 10))) / rate


def run_scenario(scenario: str, runs: int) -> list[list[str]]:
    server = subprocess.Popen(
        [sys.executable, str(HERE / "bench_ratelimit.py"), "--serve", scenario],
        stdout=subprocess.PIPE,
        text=True,
    )
    rate = SCENARIOS[scenario][0]
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in variants_of(scenario)}
    try:
        assert server.stdout is not None
        settings = json.loads(server.stdout.readline())
        for turn in range(runs):
            for variant in rotated(variants_of(scenario), turn):
                time.sleep(1.0 if rate is None else 1.0 + 0.1)  # the bucket refills
                results[variant].append(
                    run_child(
                        "bench_ratelimit.py",
                        scenario,
                        variant,
                        settings["base_url"],
                        settings["token"],
                    )
                )
    finally:
        server.terminate()
        server.wait(10)
    rows = []
    for variant, measured in results.items():
        wall = median([r["wall"] for r in measured])
        sent = median([r["sent"] for r in measured])
        refused = median([r["refused"] for r in measured])
        rows.append(
            [
                scenario,
                variant,
                f"{least_wall(scenario) / wall:.2f}",
                f"{wall:.2f} s",
                f"{sent:,.0f}",
                f"{refused:,.0f} ({100 * refused / sent:.1f}%)",
                f"{min(r['tags'] for r in measured):,} of {REGISTRIES * REPOSITORIES * TAGS:,}",
                f"{max(r['errors'] for r in measured)}",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--serve", metavar="SCENARIO")
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve))
        return
    if args.child:
        print(json.dumps(asyncio.run(measure(*args.child))))
        return
    rows = [row for scenario in args.scenarios for row in run_scenario(scenario, args.runs)]
    print(f"{machine()}; medians of {args.runs} runs; tags and errors: the worst run\n")
    headers = ["scenario", "variant", "efficiency", "wall", "requests", "answered 429"]
    print(table([*headers, "tags", "error results"], rows))


if __name__ == "__main__":
    main()
