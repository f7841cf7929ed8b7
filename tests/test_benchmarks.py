"""The benchmark scripts still run (tiny sizes, no timing asserted): a harness that broke
would go unnoticed until someone needed its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.parametrize(
    ("script", "arguments", "expected"),
    [
        ("bench_overhead.py", ["--calls", "200", "--rounds", "1"], "RegistryClient.list_tags"),
        ("bench_stream.py", ["--tags", "2000", "--runs", "1"], "| iter_tags .batches() |"),
        (
            "bench_async_iteration.py",
            ["--items", "9000", "--runs", "1"],
            "| async generator (what iter_tags is) |",
        ),
        ("bench_ratelimit.py", ["--runs", "1", "--scenarios", "unlimited"], "naive aiohttp loop"),
        (
            "bench_crawl.py",
            # Every variant but pydantic's (a benchmark-only dependency); the script
            # checks that each crawl counted every tag.
            [
                *("--registries", "3", "--repositories", "6", "--tags", "5", "--levels", "4"),
                *("--runs", "1", "--repeats", "2", "--variants", "raw aiohttp + orjson"),
                *("client methods", "floor's queue, client methods", "crawl_tags"),
            ],
            "| 4 | floor's queue, client methods |",
        ),
        (
            "bench_crawl.py",
            [
                *("--interleaved", "--registries", "3", "--repositories", "6", "--tags", "5"),
                *("--levels", "4", "--runs", "1", "--rounds", "2", "--variants", "crawl_tags"),
            ],
            "| 4 | crawl_tags |",
        ),
        (
            "bench_queries.py",
            ["--runs", "1", "--watch-polls", "3", "--registries", "3"],
            "| find_tags |",
        ),
    ],
)
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_benchmark_script_runs(script: str, arguments: list[str], expected: str) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout
