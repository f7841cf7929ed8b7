"""Crawl cost per request: crawl_tags vs hand-written loops, against a local server.

    python benchmarks/bench_crawl.py [--registries 100 --repositories 40 --tags 50]
                                     [--levels 1 16 64] [--runs 3]
    python benchmarks/bench_crawl.py --soak [--soak-requests 100000]
    python benchmarks/bench_crawl.py --instructions [--levels 16 64]
    python benchmarks/bench_crawl.py --interleaved [--runs 5 --rounds 5 --levels 16 64]

Variants, all doing list registries -> repositories of each -> tags of each:
  lean floor             the floor every ratio is against: K workers on one job queue,
                         one session, session.get + orjson, no task per job
  raw aiohttp + orjson   a semaphore-bounded loop with a task per registry and repository
  aiohttp + pydantic v2  the same loop, validating with pydantic models
  client methods         the same loop over RegistryClient.list_repositories/list_tags
  floor's queue, client methods
                         the lean floor's workers and queue over the client's methods:
                         the client's request path alone, without a crawl scheduler
  crawl_tags             this library's crawler

The server runs in its own process with every body precomputed. Each cell runs in a
fresh child that crawls once to warm up (imports, code generation, first connections)
and then measures a second crawl's wall and CPU time (getrusage); figures are medians.
CPU time on a shared machine is noisy, so ``--instructions`` also counts the instructions
per request under valgrind (callgrind): the difference between crawling 75 and 25
registries, divided by the requests in between, which cancels start-up costs.
``--interleaved`` runs every variant in the same child, one crawl each in turn for
``--rounds`` rounds: a disturbance that lasts a whole child (another tenant's job) then
weighs on all of them alike, and each child gives one ratio per variant.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, median, rotated, run_child, server, table

VARIANTS = (
    "lean floor",
    "raw aiohttp + orjson",
    "aiohttp + pydantic v2",
    "client methods",
    "floor's queue, client methods",
    "crawl_tags",
)
REGISTRIES = "/api/v1/asset/registries"


async def lean_floor(base_url: str, concurrency: int, limit: int | None = None) -> tuple[int, int]:
    """The leanest crawl we can write: K workers on one queue, no task per job.

    One session (a K-connection pool, the auth header as a default, a total timeout),
    absolute f-string URLs, ``params=`` for the query, the status checked, and
    ``orjson.loads(await response.read())``. Jobs: the registry list, then each
    registry's repositories, then each repository's tags. Returns (requests, tags).
    """
    import aiohttp
    import orjson

    requests = tags = 0
    jobs: asyncio.Queue[tuple[str, str, str]] = asyncio.Queue()
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": "Bearer bench-token"}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        connector=connector, headers=headers, timeout=timeout
    ) as session:

        async def work() -> None:
            nonlocal requests, tags
            while True:
                kind, registry_id, name = await jobs.get()
                requests += 1
                if kind == "registries":
                    url, params = f"{base_url}{REGISTRIES}", None
                elif kind == "repositories":
                    url, params = f"{base_url}{REGISTRIES}/{registry_id}/repositories", None
                else:
                    url = f"{base_url}{REGISTRIES}/{registry_id}/repositories/tags"
                    params = {"repository": name}
                async with session.get(url, params=params) as response:
                    if response.status != 200:
                        raise RuntimeError(f"{url}: HTTP {response.status}")
                    body = orjson.loads(await response.read())
                if kind == "registries":
                    for entry in body["entries"][:limit]:
                        jobs.put_nowait(("repositories", entry["meta"]["id"], ""))
                elif kind == "repositories":
                    for repository in body["repositories"]:
                        jobs.put_nowait(("tags", registry_id, repository))
                else:
                    tags += len(body["tags"])
                jobs.task_done()

        jobs.put_nowait(("registries", "", ""))
        workers = [asyncio.create_task(work()) for _ in range(concurrency)]
        done = asyncio.create_task(jobs.join())
        await asyncio.wait([done, *workers], return_when=asyncio.FIRST_COMPLETED)
        for worker in workers:
            worker.cancel()
        for worker in workers:  # a worker that failed ends the crawl with its error
            if worker.done() and not worker.cancelled() and worker.exception() is not None:
                raise worker.exception()  # type: ignore[misc]
        await asyncio.gather(*workers, return_exceptions=True)
    return requests, tags


async def floor_queue_client(
    base_url: str, concurrency: int, limit: int | None = None
) -> tuple[int, int]:
    """The lean floor's workers and queue calling the client's methods: what the
    client's request path costs, apart from any crawl scheduler. Returns (requests, tags)."""
    from runai_registry_async import RegistryClient

    tags = 0
    jobs: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    async with RegistryClient(base_url, token="bench-token", max_connections=concurrency) as client:

        async def work() -> None:
            nonlocal tags
            while True:
                registry_id, name = await jobs.get()
                if not registry_id:
                    for registry in (await client.list_registries())[:limit]:
                        jobs.put_nowait((registry.meta.id, ""))
                elif not name:
                    for repository in await client.list_repositories(registry_id):
                        jobs.put_nowait((registry_id, repository))
                else:
                    found = await client.list_tags(registry_id, name)
                    tags += len(found.tags)  # not `tags += len(await ...)`: that reads first
                jobs.task_done()

        jobs.put_nowait(("", ""))
        workers = [asyncio.create_task(work()) for _ in range(concurrency)]
        done = asyncio.create_task(jobs.join())
        await asyncio.wait([done, *workers], return_when=asyncio.FIRST_COMPLETED)
        for worker in workers:
            worker.cancel()
        for worker in workers:
            if worker.done() and not worker.cancelled() and worker.exception() is not None:
                raise worker.exception()  # type: ignore[misc]
        await asyncio.gather(*workers, return_exceptions=True)
        return client.requests_sent, tags


async def hand_written(
    base_url: str, concurrency: int, pydantic: bool, limit: int | None = None
) -> tuple[int, int]:
    """What a careful user writes without this library. Returns (requests, tags)."""
    import aiohttp
    import orjson

    if pydantic:
        from _pydantic_models import RegistryList, Repositories, RepositoryTags

    semaphore = asyncio.Semaphore(concurrency)
    requests = tags = 0
    headers = {"Authorization": "Bearer bench-token", "Accept": "application/json"}
    connector = aiohttp.TCPConnector(limit=max(concurrency, 1))
    async with aiohttp.ClientSession(base_url, connector=connector, headers=headers) as session:

        async def get(path: str, params: dict[str, str] | None = None) -> bytes:
            nonlocal requests
            async with semaphore:
                requests += 1
                async with session.get(path, params=params) as response:
                    response.raise_for_status()
                    return await response.read()

        async def crawl_registry(registry_id: str) -> None:
            nonlocal tags
            body = await get(f"{REGISTRIES}/{registry_id}/repositories")
            if pydantic:
                names = Repositories.model_validate_json(body).repositories
            else:
                names = orjson.loads(body)["repositories"]

            async def crawl_repository(name: str) -> None:
                nonlocal tags
                raw = await get(
                    f"{REGISTRIES}/{registry_id}/repositories/tags", {"repository": name}
                )
                if pydantic:
                    found = RepositoryTags.model_validate_json(raw).tags
                else:
                    found = orjson.loads(raw)["tags"]
                tags += len(found)

            await asyncio.gather(*(crawl_repository(name) for name in names))

        body = await get(REGISTRIES)
        if pydantic:
            ids = [e.meta.id for e in RegistryList.model_validate_json(body).entries]
        else:
            ids = [e["meta"]["id"] for e in orjson.loads(body)["entries"]]
        await asyncio.gather(*(crawl_registry(i) for i in ids[:limit]))
    return requests, tags


async def with_client(
    base_url: str, concurrency: int, crawler: bool, limit: int | None = None
) -> tuple[int, int]:
    from runai_registry_async import RegistryClient, crawl_tags

    tags = 0
    async with RegistryClient(base_url, token="bench-token", max_connections=concurrency) as client:
        if crawler:
            registries = (await client.list_registries())[:limit]
            async for result in crawl_tags(client, registries, concurrency=concurrency):
                assert result.error is None, result.error
                tags += len(result.tags or ())
            return client.requests_sent, tags
        semaphore = asyncio.Semaphore(concurrency)

        async def crawl_registry(registry_id: str) -> None:
            async with semaphore:
                names = await client.list_repositories(registry_id)

            async def crawl_repository(name: str) -> None:
                nonlocal tags
                async with semaphore:
                    found = await client.list_tags(registry_id, name)
                tags += len(found.tags)

            await asyncio.gather(*(crawl_repository(n) for n in names))

        registries = await client.list_registries()
        await asyncio.gather(*(crawl_registry(r.meta.id) for r in registries[:limit]))
        return client.requests_sent, tags


async def crawl(
    variant: str, base_url: str, concurrency: int, limit: int | None
) -> tuple[int, int]:
    """One crawl of the first ``limit`` registries (all by default); (requests, tags)."""
    if variant == "lean floor":
        return await lean_floor(base_url, concurrency, limit)
    if variant.startswith("floor's queue"):
        return await floor_queue_client(base_url, concurrency, limit)
    if variant.startswith("raw"):
        return await hand_written(base_url, concurrency, pydantic=False, limit=limit)
    if "pydantic" in variant:
        return await hand_written(base_url, concurrency, pydantic=True, limit=limit)
    return await with_client(base_url, concurrency, crawler=variant == "crawl_tags", limit=limit)


async def measure(
    variant: str,
    base_url: str,
    concurrency: int,
    limit: int | None = None,
    warm_up: int | None = None,
    repeats: int = 1,
) -> dict[str, float]:
    """One crawl's figures; of ``repeats`` crawls, the one that took the least CPU (as
    ``timeit`` keeps the minimum: on a shared machine, disturbances only ever add)."""
    # Warm-up, untimed: one-time costs (imports, code generation) are excluded.
    await crawl(variant, base_url, concurrency, warm_up)
    best: dict[str, float] | None = None
    for _ in range(repeats):
        before, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        requests, tags = await crawl(variant, base_url, concurrency, limit)
        after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall0
        user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
        if best is None or user + system < best["cpu"]:
            best = {
                "wall": wall,
                "cpu": user + system,
                "user": user,
                "system": system,
                "requests": requests,
                "tags": tags,
            }
    assert best is not None
    return best


async def measure_interleaved(
    variants: list[str], base_url: str, concurrency: int, rounds: int
) -> dict[str, list[float]]:
    """CPU seconds per 1,000 requests of each variant, one crawl each in turn per round."""
    for variant in variants:  # warm-up, untimed
        await crawl(variant, base_url, concurrency, 5)
    cpu: dict[str, list[float]] = {variant: [] for variant in variants}
    counted = set()
    for turn in range(rounds):
        for variant in rotated(variants, turn):
            before = resource.getrusage(resource.RUSAGE_SELF)
            requests, tags = await crawl(variant, base_url, concurrency, None)
            after = resource.getrusage(resource.RUSAGE_SELF)
            counted.add((requests, tags))
            assert len(counted) == 1, f"{variant} crawled differently: {counted}"
            spent = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            cpu[variant].append(spent / requests * 1000)
    return cpu


def run_interleaved(args: argparse.Namespace, server_args: list[str], variants: list[str]) -> None:
    """Per child, each variant's median CPU over the floor's; medians over children."""
    rows = []
    with server(*server_args) as base_url:
        for level in args.levels:
            ratios: dict[str, list[float]] = {variant: [] for variant in variants}
            cpus: dict[str, list[float]] = {variant: [] for variant in variants}
            for _ in range(args.runs):
                # Each variant's CPU time per round.
                child: dict[str, list[float]] = run_child(  # type: ignore[assignment]
                    "bench_crawl.py",
                    "interleaved",
                    base_url,
                    str(level),
                    str(args.rounds),
                    *variants,
                )
                floor = median(child[variants[0]])
                for variant in variants:
                    cpus[variant].append(median(child[variant]))
                    ratios[variant].append(median(child[variant]) / floor)
            rows += [
                [
                    level,
                    variant,
                    f"{median(cpus[variant]):.3f} s",
                    f"{median(ratios[variant]):.2f}x",
                    f"{min(ratios[variant]):.2f}x-{max(ratios[variant]):.2f}x",
                ]
                for variant in variants
            ]
    print(
        f"{args.registries} registries x {args.repositories} repositories x {args.tags} tags; "
        f"{args.runs} children, each running every variant {args.rounds} times in turn; "
        f"{machine()}\n"
    )
    print(
        table(
            [
                "concurrency",
                "variant",
                "client CPU per 1,000 requests",
                "x floor (median over children)",
                "range over children",
            ],
            rows,
        )
    )


def current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


async def soak(base_url: str, registries: int, repositories: int) -> dict[str, Any]:
    """Crawl everything through 10% faults; check completeness and memory over time."""
    from runai_registry_async import RegistryClient, RetryPolicy, crawl_tags

    # One counter per (registry, repository), preallocated, so that the check itself
    # does not grow while the crawl runs: the server's ids and names encode the indexes.
    seen = bytearray(registries * repositories)
    errors = 0
    rss_samples: list[float] = []
    retry = RetryPolicy(attempts=10, base_delay=0.01, max_delay=0.2, max_elapsed=60)
    async with RegistryClient(base_url, token="bench-token", retry=retry) as client:
        crawl = crawl_tags(client, concurrency=32)
        started = time.perf_counter()
        results = 0
        async for result in crawl:
            results += 1
            if result.error is not None or result.repository is None:
                errors += 1
                continue
            registry_index = uuid.UUID(result.registry_id).int - (1 << 64)
            repository_index = int(result.repository.rsplit("-", 1)[1])
            seen[registry_index * repositories + repository_index] += 1
            if results % 5000 == 0:
                rss_samples.append(current_rss_mb())
        wall = time.perf_counter() - started
        stats = crawl.stats
    return {
        "pairs_seen_once": seen.count(1),
        "pairs_missing": seen.count(0),
        "pairs_seen_twice_or_more": len(seen) - seen.count(0) - seen.count(1),
        "errors": errors,
        "requests": stats.requests,
        "retries": stats.retries,
        "wall_s": round(wall, 1),
        "rss_mb_at_10_percent": round(rss_samples[len(rss_samples) // 10], 1),
        "rss_mb_at_end": round(rss_samples[-1], 1),
        "rss_mb_max": round(max(rss_samples), 1),
    }


def run_soak(args: argparse.Namespace) -> None:
    repositories = 400
    registries = max(1, args.soak_requests // (repositories + 1))
    server_args = ["--registries", str(registries), "--repositories", str(repositories)]
    server_args += ["--tags", "5", "--fault-rate", "0.1"]
    with server(*server_args) as base_url:
        result = run_child("bench_crawl.py", "soak", base_url, str(registries), str(repositories))
    print(f"soak: {machine()}")
    print(json.dumps(result, indent=2))
    ok = (
        result["pairs_seen_once"] == registries * repositories
        and not result["errors"]
        and result["rss_mb_at_end"] <= result["rss_mb_at_10_percent"] * 1.1
    )
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


def count_instructions(variant: str, base_url: str, concurrency: int, limit: int) -> int:
    """Instructions a child executes (callgrind): deterministic, unlike CPU time here."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, str(Path(__file__)), "--child", variant, base_url]
    command += [str(concurrency), "1", str(limit), "5"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    assert match, done.stderr[-2000:]
    return int(match.group(1))


def run_instructions(args: argparse.Namespace, server_args: list[str], variants: list[str]) -> None:
    """Instructions per request: (crawl of 75 registries - crawl of 25) / requests between."""
    if not shutil.which("valgrind"):
        sys.exit("--instructions needs valgrind (apt-get install valgrind)")
    small, large = 25, 75
    requests = (large - small) * (args.repositories + 1)
    rows = []
    with server(*server_args) as base_url:
        for level in args.levels:
            per_request = {
                variant: (
                    count_instructions(variant, base_url, level, large)
                    - count_instructions(variant, base_url, level, small)
                )
                / requests
                for variant in variants
            }
            floor = per_request[variants[0]]
            rows += [
                [level, variant, f"{count / 1000:,.1f} k ({count / floor:.2f}x)"]
                for variant, count in per_request.items()
            ]
    print(f"instructions per request (callgrind; {large} minus {small} registries); {machine()}")
    print(table(["concurrency", "variant", "instructions per request (x floor)"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--registries", type=int, default=100)
    parser.add_argument("--repositories", type=int, default=40)
    parser.add_argument("--tags", type=int, default=50)
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="crawls per child after its warm-up; the one with the least CPU counts",
    )
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=VARIANTS,
        default=list(VARIANTS),
        help="which to run (the lean floor always runs: every ratio is against it)",
    )
    parser.add_argument("--soak", action="store_true")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions with valgrind instead"
    )
    parser.add_argument(
        "--interleaved", action="store_true", help="every variant in each child, in turns"
    )
    parser.add_argument("--rounds", type=int, default=5, help="turns per child (--interleaved)")
    parser.add_argument("--soak-requests", type=int, default=100_000)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        if args.child[0] == "soak":
            base_url, registries, repositories = args.child[1:]
            result = asyncio.run(soak(base_url, int(registries), int(repositories)))
        elif args.child[0] == "interleaved":
            base_url, concurrency, rounds, *chosen = args.child[1:]
            result = asyncio.run(
                measure_interleaved(chosen, base_url, int(concurrency), int(rounds))
            )
        else:
            variant, base_url, concurrency, repeats, *limits = args.child
            limit, warm_up = (int(n) for n in limits) if limits else (None, None)
            result = asyncio.run(
                measure(variant, base_url, int(concurrency), limit, warm_up, int(repeats))
            )
        print(json.dumps(result))
        return
    if args.soak:
        run_soak(args)
        return

    server_args = ["--registries", str(args.registries), "--repositories", str(args.repositories)]
    server_args += ["--tags", str(args.tags)]
    variants = [VARIANTS[0], *(v for v in args.variants if v != VARIANTS[0])]
    if args.instructions:
        run_instructions(args, server_args, variants)
        return
    if args.interleaved:
        run_interleaved(args, server_args, variants)
        return
    rows = []
    with server(*server_args) as base_url:
        for level in args.levels:
            cells: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
            for turn in range(args.runs):
                for variant in rotated(variants, turn):
                    cells[variant].append(
                        run_child(
                            "bench_crawl.py", variant, base_url, str(level), str(args.repeats)
                        )
                    )
            floor_rps = median([c["requests"] / c["wall"] for c in cells[VARIANTS[0]]])
            floor_cpu = median([c["cpu"] / c["requests"] * 1000 for c in cells[VARIANTS[0]]])
            for variant in variants:
                runs = cells[variant]
                expected_tags = args.registries * args.repositories * args.tags
                assert all(r["tags"] == expected_tags for r in runs), (variant, runs)
                rps = median([r["requests"] / r["wall"] for r in runs])
                cpu = median([r["cpu"] / r["requests"] * 1000 for r in runs])
                user = median([r["user"] / r["requests"] * 1000 for r in runs])
                system = median([r["system"] / r["requests"] * 1000 for r in runs])
                rows.append(
                    [
                        level,
                        variant,
                        f"{rps:,.0f} ({rps / floor_rps:.2f}x)",
                        f"{cpu:.3f} s ({cpu / floor_cpu:.2f}x)",
                        f"{user:.3f} + {system:.3f} s",
                    ]
                )
    print(
        f"{args.registries} registries x {args.repositories} repositories x {args.tags} tags, "
        f"medians of {args.runs}"
        + (f" (each the least CPU of {args.repeats} crawls)" if args.repeats > 1 else "")
        + f"; {machine()}"
    )
    print(
        table(
            [
                "concurrency",
                "variant",
                "requests/s (x floor)",
                "client CPU per 1,000 requests (x floor)",
                "of which user + system",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
