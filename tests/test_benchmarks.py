"""The benchmark scripts still run (tiny sizes, no timing asserted): a harness that broke
would go unnoticed until someone needed its figures."""

from __future__ import annotations

import re
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


def test_the_charts_are_drawn_from_the_saved_tables(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "bench_ratelimit.md").write_text(
        "machine; medians of 3 runs\n\n"
        "| scenario | variant | efficiency | wall | requests | answered 429 |\n"
        "|---|---|---|---|---|---|\n"
        "| bucket-60 | crawl_tags (defaults) | 0.98 | 69.98 s | 4,194 | 93 (2.2%) |\n"
        "| bucket-60 | naive aiohttp loop | 0.74 | 92.75 s | 9,520 | 5,420 (56.9%) |\n"
    )
    (results / "bench_stream.md").write_text(
        "| variant | wall (x floor) | tags/s | first tag after headers | peak RSS growth |\n"
        "|---|---|---|---|---|\n"
        "| list_tags | 0.280 s (1.00x) | 3.57 M | 12.0 ms | 175.2 MB |\n"
        "| iter_tags | 0.240 s (0.86x) | 4.17 M | 0.4 ms | 0.9 MB |\n"
    )
    done = subprocess.run(
        [
            *(sys.executable, str(BENCHMARKS / "charts.py")),
            *("--results", str(results), "--out", str(tmp_path / "charts")),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    efficiency = (tmp_path / "charts" / "ratelimit-efficiency.svg").read_text()
    assert efficiency.startswith("<svg")
    assert "0.98, 2.2% 429" in efficiency
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', efficiency)]
    assert widths[0] > widths[1]  # 0.98 drawn longer than 0.74
    memory = (tmp_path / "charts" / "stream-memory.svg").read_text()
    assert "175.2 MB" in memory
    assert not (tmp_path / "charts" / "crawl-cpu.svg").exists()  # no table, no chart
