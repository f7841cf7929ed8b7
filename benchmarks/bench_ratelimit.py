"""Crawling politely: the emulator limited to 500 requests a second, four ways to crawl it.

    python benchmarks/bench_ratelimit.py [--runs 3] [--rate 500] [--burst 50]

The emulator (50 registries x 20 repositories x 10 tags, ``rate_limit(500, burst=50)``,
429 with ``Retry-After`` past it) runs in its own process; every crawl runs in a fresh
child. Reported per variant (medians over ``--runs``): wall time, requests sent, the
share of them answered 429, the sustained rate of successful requests against the
allowed rate, tags collected and error results.

Variants: ``crawl_tags`` as it comes (adaptive, no rate given); the same with the
client's ``max_per_second`` set to the server's rate; ``crawl_tags(adaptive=False)``;
a naive aiohttp loop (32 workers, each retrying a 429 after its ``Retry-After``).
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

REGISTRIES, REPOSITORIES, TAGS = 50, 20, 10
VARIANTS = (
    "crawl_tags (adaptive)",
    "crawl_tags (adaptive) + max_per_second",
    "crawl_tags (adaptive=False)",
    "naive aiohttp loop",
)


async def serve(rate: float, burst: int) -> None:
    from runai_registry_async.testing import RunaiEmulator

    async with RunaiEmulator() as emulator:
        emulator.record_requests = False
        emulator.seed(registries=REGISTRIES, repositories=REPOSITORIES, tags=TAGS)
        emulator.rate_limit(rate, burst=burst)
        print(json.dumps({"base_url": emulator.base_url, "token": emulator.token}), flush=True)
        await asyncio.Event().wait()


async def measure(variant: str, base_url: str, token: str, rate: float) -> dict[str, Any]:
    from runai_registry_async import RegistryClient, crawl_tags

    started = time.perf_counter()
    if variant == "naive aiohttp loop":
        sent, refused, tags, errors = await naive(base_url, token)
    else:
        limit = rate if variant.endswith("max_per_second") else None
        async with RegistryClient(base_url, token=token, max_per_second=limit) as client:
            crawl = crawl_tags(client, concurrency=32, adaptive="False" not in variant)
            tags = errors = 0
            async for result in crawl:
                tags += len(result.tags or [])
                errors += result.error is not None
            sent, refused = client.requests_sent, client.throttled
    wall = time.perf_counter() - started
    return {
        "wall": wall,
        "sent": sent,
        "refused": refused,
        "rate": (sent - refused) / wall,
        "tags": tags,
        "errors": errors,
    }


async def naive(base_url: str, token: str) -> tuple[int, int, int, int]:
    """The loop a user writes first: a queue, 32 workers, retry a 429 after Retry-After."""
    import aiohttp
    import orjson

    registries_url = f"{base_url}/api/v1/asset/registries"
    counts = {"sent": 0, "refused": 0, "tags": 0, "errors": 0}
    queue: asyncio.Queue[tuple[str, dict[str, str]]] = asyncio.Queue()

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:

        async def get(url: str, params: dict[str, str]) -> Any:
            for _ in range(10):
                counts["sent"] += 1
                async with session.get(url, params=params) as response:
                    if response.status == 429:
                        counts["refused"] += 1
                        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                        continue
                    response.raise_for_status()
                    return orjson.loads(await response.read())
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
        workers = [asyncio.create_task(worker()) for _ in range(32)]
        await queue.join()
        for task in workers:
            task.cancel()
    return counts["sent"], counts["refused"], counts["tags"], counts["errors"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.rate, args.burst))
        return
    if args.child:
        variant, base_url, token, rate = args.child
        print(json.dumps(asyncio.run(measure(variant, base_url, token, float(rate)))))
        return

    limit = ["--rate", str(args.rate), "--burst", str(args.burst)]
    server = subprocess.Popen(
        [sys.executable, str(HERE / "bench_ratelimit.py"), "--serve", *limit],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        settings = json.loads(server.stdout.readline())
        results: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
        for turn in range(args.runs):
            for variant in rotated(VARIANTS, turn):
                time.sleep(0.5)  # the server's bucket refills between crawls
                results[variant].append(
                    run_child(
                        "bench_ratelimit.py",
                        variant,
                        settings["base_url"],
                        settings["token"],
                        str(args.rate),
                    )
                )
    finally:
        server.terminate()
        server.wait(10)

    expected = REGISTRIES * REPOSITORIES * TAGS
    rows = []
    for variant in VARIANTS:
        runs = results[variant]
        sent = median([r["sent"] for r in runs])
        refused = median([r["refused"] for r in runs])
        rows.append(
            [
                variant,
                f"{median([r['wall'] for r in runs]):.2f} s",
                f"{sent:,.0f}",
                f"{refused:,.0f} ({100 * refused / sent:.1f}%)",
                f"{median([r['rate'] for r in runs]):,.0f}/s "
                f"({median([r['rate'] for r in runs]) / args.rate:.0%})",
                f"{min(r['tags'] for r in runs):,} of {expected:,}",
                f"{max(r['errors'] for r in runs)}",
            ]
        )
    print(f"{machine()}; emulator limited to {args.rate:g}/s, burst {args.burst}")
    print(f"medians of {args.runs} runs; tags and errors: the worst run\n")
    print(
        table(
            [
                "variant",
                "wall",
                "requests sent",
                "answered 429",
                "successful rate (of allowed)",
                "tags",
                "error results",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
