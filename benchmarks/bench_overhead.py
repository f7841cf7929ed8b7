"""The client's own Python cost per request, with no I/O at all.

    python benchmarks/bench_overhead.py [--calls 100000] [--rounds 7] [--telemetry api]

A stub stands in for the aiohttp session: it answers every request at once with one
precomputed tags body, so what is timed is everything this library does around a request
(path and URL building, headers, the retry loop, decoding) and nothing of aiohttp's.
The floor is the same loop doing what a hand-written caller must: send, read,
``orjson.loads``. Calls cycle through 4,000 distinct (registry, repository) pairs, like a
crawl, so that no per-URL cache flatters anyone. Rounds alternate the two in one process
(pinned to CPU 0 where possible); figures are medians of process CPU time.

``--telemetry``: ``off`` runs as if opentelemetry were not installed; ``api`` (the
default) with it installed and no SDK configured, as most services run; ``sdk`` with
the OpenTelemetry SDK configured (a batch span processor whose exporter drops the spans,
and an in-memory metric reader): the cost of the spans and metrics themselves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
from _common import machine, median, table
from _server import tag_names

if "--telemetry=off" in sys.argv or " ".join(sys.argv).endswith("--telemetry off"):
    sys.modules["opentelemetry"] = None  # type: ignore[assignment] # as if not installed

from runai_registry_async import RegistryClient

BODY = orjson.dumps({"name": "team-0/app-0", "tags": tag_names(50)})
PAIRS = [
    (str(uuid.UUID(int=(1 << 64) + r)), f"team-{p % 7}/app-{p}")
    for r in range(100)
    for p in range(40)
]


class _StubResponse:
    status = 200
    headers: ClassVar[dict[str, str]] = {"Content-Length": str(len(BODY))}

    async def read(self) -> bytes:
        return BODY

    def release(self) -> None:
        pass


class _StubSession:
    closed = False

    async def request(self, method: str, url: Any, **kwargs: Any) -> _StubResponse:
        return _StubResponse()

    async def close(self) -> None:
        pass


async def floor(session: _StubSession, calls: int) -> int:
    tags = 0
    for i in range(calls):
        registry_id, repository = PAIRS[i % len(PAIRS)]
        url = f"/api/v1/asset/registries/{registry_id}/repositories/tags?repository={repository}"
        response = await session.request("GET", url, headers={})
        try:
            tags += len(orjson.loads(await response.read())["tags"])
        finally:
            response.release()
    return tags


async def client_methods(client: RegistryClient, calls: int) -> int:
    tags = 0
    for i in range(calls):
        registry_id, repository = PAIRS[i % len(PAIRS)]
        tags += len((await client.list_tags(registry_id, repository)).tags)
    return tags


async def run(calls: int, rounds: int) -> dict[str, list[float]]:
    session = _StubSession()
    client = RegistryClient("http://127.0.0.1:1", token="bench-token", session=session)  # type: ignore[arg-type]
    variants: dict[str, Callable[[], Awaitable[int]]] = {
        "hand-written loop (floor)": lambda: floor(session, calls),
        "RegistryClient.list_tags": lambda: client_methods(client, calls),
    }
    per_call: dict[str, list[float]] = {name: [] for name in variants}
    for variant in variants.values():  # warm-up
        await variant()
    for _ in range(rounds):
        for name, variant in variants.items():
            started = time.process_time()
            assert await variant() == 50 * calls
            per_call[name].append((time.process_time() - started) / calls * 1e6)
    return per_call


def configure_sdk() -> None:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Dropped(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropped()))
    trace.set_tracer_provider(provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[InMemoryMetricReader()]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--telemetry", choices=["off", "api", "sdk"], default="api")
    args = parser.parse_args()
    if args.telemetry == "sdk":
        configure_sdk()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {0})
    per_call = asyncio.run(run(args.calls, args.rounds))
    floor_us = median(next(iter(per_call.values())))
    rows = [
        [name, f"{median(v):.2f} us", f"{median(v) - floor_us:+.2f} us"]
        for name, v in per_call.items()
    ]
    print(
        f"{args.calls:,} calls a round, medians of {args.rounds} rounds, "
        f"telemetry {args.telemetry}; {machine()}"
    )
    print(table(["variant", "CPU per call", "over the floor"], rows))


if __name__ == "__main__":
    main()
