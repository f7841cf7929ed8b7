"""Decoding a list-registries body of 10,000 fully populated registries (about 7 MB).

    python benchmarks/bench_decode.py [--registries 10000] [--runs 15]

Compares, interleaved in one process: orjson.loads alone (the floor), pydantic v2's
model_validate_json on equivalent models, and this library's decoding (orjson + the one
cattrs converter, exactly what list_registries does). Prints medians and ratios to the
floor, then the error this library gives for a broken body.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, table
from _pydantic_models import RegistryList
from _server import registry

from runai_registry_async import DecodeError
from runai_registry_async._converter import loads, structure
from runai_registry_async._models import RegistryListResponse

OPERATION = "GET /api/v1/asset/registries"


def body_of(count: int) -> bytes:
    entries = []
    for i in range(count):
        entry: Any = registry(i, str(uuid.UUID(int=i)))
        entry["meta"].update(departmentId="17", projectId=i, projectName=f"project-{i}")
        entries.append(entry)
    return orjson.dumps({"entries": entries})


def ours(body: bytes) -> int:
    return len(
        structure(
            loads(body, operation=OPERATION), RegistryListResponse, operation=OPERATION
        ).entries
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    body = body_of(args.registries)
    variants: dict[str, Callable[[bytes], object]] = {
        "orjson.loads (floor)": orjson.loads,
        "pydantic v2 model_validate_json": RegistryList.model_validate_json,
        "runai_registry_async (orjson + cattrs)": ours,
    }
    assert ours(body) == len(RegistryList.model_validate_json(body).entries) == args.registries
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.runs):
        for name, decode in variants.items():
            gc.collect()
            started = time.perf_counter()
            decode(body)
            times[name].append(time.perf_counter() - started)
    floor = statistics.median(times["orjson.loads (floor)"])
    rows = [
        [name, f"{statistics.median(t) * 1000:.1f} ms", f"{statistics.median(t) / floor:.2f}x"]
        for name, t in times.items()
    ]
    size = f"{len(body) / 1e6:.1f} MB"
    print(f"{args.registries:,} registries, {size}, medians of {args.runs}; {machine()}")
    print(table(["decoder", "median", "x floor"], rows))
    broken = body.replace(b'"createdAt":"2024-05-01T10:20:30.123Z"', b'"createdAt":17', 1)
    try:
        ours(broken)
    except DecodeError as error:
        print(f"\nA broken body: {error}")


if __name__ == "__main__":
    main()
