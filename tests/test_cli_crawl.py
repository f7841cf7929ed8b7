"""``crawl`` and ``demo`` on the command line."""

from __future__ import annotations

import asyncio
import os
import pty
import re

import pytest

from runai_registry_async import CrawlStats
from runai_registry_async.cli._crawl import Progress
from runai_registry_async.testing import RunaiEmulator

from .cli import cli, json_lines, start
from .conftest import FakeClock


async def test_crawl_streams_json_lines(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=3, repositories=4, tags=6)
    code, out, err = await cli(emulator, "crawl", "--concurrency", "4", "--tag-search", "cuda12.0")
    assert code == 0
    # No live progress line (stderr is not a terminal), but always the summary.
    assert re.fullmatch(
        r"crawled 3 registries, 12 repositories, 24 tags; 0 errors; 16 requests in [\d.]+ s\n",
        err,
    ), err
    lines = json_lines(out)
    assert len(lines) == 12
    assert {tuple(sorted(line)) for line in lines} == {
        ("registryId", "registryName", "repository", "tags")
    }
    assert all(all(t.endswith("cuda12.0") for t in line["tags"]) for line in lines)


async def test_crawl_per_registry_caps_each_registry_not_the_crawl(
    emulator: RunaiEmulator,
) -> None:
    emulator.seed(registries=3, repositories=6, tags=2)
    emulator.delay("list_tags", 0.05)  # so that requests overlap
    code, out, _ = await cli(emulator, "crawl", "--concurrency", "6", "--per-registry", "1")
    assert (code, len(json_lines(out))) == (0, 18)
    assert max(emulator.max_in_flight_per_registry.values()) == 1
    assert emulator.max_in_flight > 1  # the registries still ran side by side


async def test_crawl_reports_errors_as_lines_and_exits_3(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1"])
    emulator.add_repository(registry.id, "team/db", tags=["2"])
    emulator.fail_next("list_tags", 10, status=503)
    code, out, err = await cli(emulator, "--retries", "1", "crawl", "--concurrency", "1")
    lines = json_lines(out)
    assert code == 3  # some results failed; the others were printed
    assert "; 2 errors;" in err  # 10 injected 503s outlast both repositories' 2 attempts
    failed = [line for line in lines if "error" in line]
    assert len(failed) == len(lines) == 2
    assert failed[0] == {
        "registryId": registry.id,
        "registryName": "r",
        "repository": failed[0]["repository"],
        "tags": None,
        "error": failed[0]["error"],
        "errorType": "ServiceUnavailableError",
        "status": 503,
        "attempts": 2,
    }
    assert "HTTP 503" in failed[0]["error"]


async def test_demo_runs_without_credentials() -> None:
    code, out, err = await cli(
        None, "demo", "--registries", "2", "--repositories", "3", "--tags", "40"
    )
    assert code == 0, err
    assert "Emulated Run:ai control plane at http://127.0.0.1:" in err
    assert "Crawled 2 registries, 6 repositories and 240 tags" in out
    assert "0 errors" in out


def test_progress_line_overwrites_itself_at_most_ten_times_a_second(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = FakeClock()
    stats = CrawlStats(registries=2, repositories=7, tags=300, errors=1)
    progress = Progress(stats, clock=clock)
    progress.show()
    clock.now += 0.099
    progress.show()  # within 0.1 s of the last: not redrawn
    clock.now += 0.001
    progress.show()
    progress.show(final=True)
    err = capsys.readouterr().err
    assert err.count("\r") == 3
    assert err.endswith("\n")


def test_progress_shows_the_rate_and_time_left_once_the_total_is_known() -> None:
    # A frozen crawl: 10 s in, 40 requests, every registry listed.
    stats = CrawlStats(
        registries=2,
        registries_seen=2,
        repositories_found=8,
        repositories_done=2,
        tags=300,
        errors=1,
        _started=0.0,
        _ended=10.0,
    )
    assert Progress(stats).line() == (
        "2/8 repositories of 2 registries, 300 tags, 0 requests/s, 1 error, 10.0 s, about 30 s left"
    )
    stats.registries_seen = 3  # one still to be listed: the total is not known yet
    assert "left" not in Progress(stats).line()


async def test_a_progress_line_when_stderr_is_a_terminal(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=2, repositories=3, tags=2)
    controller, terminal = pty.openpty()
    process = await start(emulator, "crawl", stderr=terminal)
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = await asyncio.to_thread(os.read, controller, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    assert len(json_lines(out.decode())) == 6
    text = shown.decode()
    # The self-overwriting line ends with the totals, then the one-line summary.
    assert "\r6/6 repositories of 2 registries, 12 tags, " in text
    assert re.search(r"[\d,]+ requests/s, 0 errors, [\d.]+ s\r?\n", text), text
    assert "crawled 2 registries, 6 repositories, 12 tags; 0 errors; 9 requests" in text


async def test_crawl_repository_search_is_sent_to_the_server(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    for name in ("team/app", "team/db", "other/app"):
        emulator.add_repository(registry.id, name, tags=["1"])
    code, out, _ = await cli(emulator, "crawl", "--repository-search", "team/")
    assert code == 0
    assert sorted(line["repository"] for line in json_lines(out)) == ["team/app", "team/db"]
    searches = [r.query for r in emulator.requests if r.operation == "list_repositories"]
    assert searches == [{"searchName": "team/"}]


async def test_the_summary_counts_in_the_singular_where_there_is_one(
    emulator: RunaiEmulator,
) -> None:
    emulator.seed(registries=1, repositories=1, tags=1)
    code, _, err = await cli(emulator, "crawl")
    assert code == 0
    assert err.startswith("crawled 1 registry, 1 repository, 1 tag; 0 errors; 3 requests in ")
