"""The command line, end to end, as a subprocess against the emulator."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from typing import Any

import orjson
import pytest

from runai_registry_async.testing import RunaiEmulator

PASSWORD = "cli-PASSWORD-5150"


async def cli(
    emulator: RunaiEmulator | None,
    *args: str,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """Run ``python -m runai_registry_async ARGS``; the emulator keeps serving meanwhile."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RUNAI_")}
    if emulator is not None:
        environment.update(RUNAI_BASE_URL=emulator.base_url, RUNAI_TOKEN=emulator.token)
    environment.update(env or {})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runai_registry_async",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def as_json(text: str) -> Any:
    return orjson.loads(text)


async def test_registries_crud_round_trip(emulator: RunaiEmulator) -> None:
    command = [
        "--json",
        "registries",
        "create",
        "--name",
        "hub",
        "--url",
        "https://hub.example.com",
        "--user",
        "robot",
        "--scope",
        "project",
        "--description",
        "the hub",
    ]
    assert PASSWORD not in " ".join(command)
    code, out, err = await cli(emulator, *command, stdin=PASSWORD.encode() + b"\n")
    assert (code, err) == (0, "")
    created = as_json(out)
    assert created["meta"]["name"] == "hub"
    assert created["meta"]["scope"] == "project"
    assert created["spec"]["password"] == "***"
    assert emulator.registries[created["meta"]["id"]].spec["password"] == PASSWORD
    rid = created["meta"]["id"]

    code, out, _ = await cli(emulator, "--json", "registries", "get", rid)
    assert code == 0
    assert as_json(out)["meta"]["id"] == rid

    code, out, _ = await cli(emulator, "--json", "registries", "list", "--name", "hub")
    assert [r["meta"]["name"] for r in as_json(out)] == ["hub"]

    code, out, _ = await cli(emulator, "registries", "list")
    header, row = out.splitlines()
    assert header.split() == ["ID", "NAME", "SCOPE", "URL", "USER", "UPDATED"]
    assert row.split()[:5] == [rid, "hub", "project", "https://hub.example.com", "robot"]
    assert header.index("NAME") == row.index("hub")  # aligned columns

    code, out, _ = await cli(
        emulator,
        "--json",
        "registries",
        "update",
        rid,
        "--name",
        "hub2",
        "--url",
        "https://hub.example.com",
        "--user",
        "robot",
        stdin=b"new-" + PASSWORD.encode(),
    )
    assert code == 0
    assert as_json(out)["meta"]["updateCount"] == 1

    code, out, _ = await cli(emulator, "registries", "delete", rid)
    assert (code, out.strip()) == (0, f"deleted {rid}")
    assert emulator.registries == {}
    for text in (out, err):
        assert PASSWORD not in text


async def test_repositories_and_tags(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1.0", "1.1", "latest"])
    emulator.add_repository(registry.id, "team/db", tags=["15"])
    code, out, _ = await cli(emulator, "--json", "repositories", registry.id, "--search", "app")
    assert (code, as_json(out)) == (0, {"repositories": ["team/app"]})
    code, out, _ = await cli(emulator, "tags", registry.id, "team/app", "--search", "1.")
    assert (code, out.splitlines()) == (0, ["TAG", "1.0", "1.1"])
    code, out, _ = await cli(emulator, "--json", "tags", registry.id, "team/app")
    assert as_json(out) == {"tags": ["1.0", "1.1", "latest"]}


async def test_crawl_streams_json_lines(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=3, repositories=4, tags=6)
    code, out, err = await cli(emulator, "crawl", "--concurrency", "4", "--tag-search", "cuda12.0")
    assert code == 0
    # No live progress line (stderr is not a terminal), but always the summary.
    assert re.fullmatch(
        r"crawled 3 registries, 12 repositories, 24 tags; 0 errors; 16 requests in [\d.]+ s\n",
        err,
    ), err
    lines = [as_json(line) for line in out.splitlines()]
    assert len(lines) == 12
    assert {tuple(sorted(line)) for line in lines} == {
        ("registryId", "registryName", "repository", "tags")
    }
    assert all(all(t.endswith("cuda12.0") for t in line["tags"]) for line in lines)


async def test_crawl_reports_errors_as_lines(emulator: RunaiEmulator) -> None:
    emulator.seed(registries=1, repositories=2, tags=1)
    emulator.fail_next("list_tags", 1, status=404)
    code, out, err = await cli(emulator, "crawl")
    lines = [as_json(line) for line in out.splitlines()]
    assert code == 3  # some results failed; the others were printed
    assert sum("error" in line for line in lines) == 1
    assert "; 1 errors;" in err


async def test_errors_are_one_line_and_exit_1(emulator: RunaiEmulator) -> None:
    code, out, err = await cli(
        emulator, "registries", "get", "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"
    )
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith("runai-registry: error: GET /api/v1/asset/registries/")
    assert "404" in err
    assert "Traceback" not in err
    code, _, err = await cli(emulator, "registries", "get", "not-a-uuid")
    assert code == 1
    assert "asset_id must be a UUID" in err
    code, _, err = await cli(emulator, "registries", "list", env={"RUNAI_TOKEN": "wrong"})
    assert code == 1
    assert "HTTP 401" in err
    assert "wrong" not in err


async def test_usage_errors_exit_2() -> None:
    code, _, err = await cli(None, "registries", "list")
    assert code == 2
    assert "RUNAI_BASE_URL" in err
    code, _, err = await cli(None, "registries", "frobnicate")
    assert code == 2
    assert "invalid choice" in err
    code, _, _ = await cli(
        None,
        "--base-url",
        "https://x.example.com",
        "registries",
        "list",
        env={"RUNAI_CLIENT_ID": "only-the-id"},
    )
    assert code == 2


async def test_missing_password_is_refused(emulator: RunaiEmulator) -> None:
    code, _, err = await cli(
        emulator, "registries", "create", "--name", "n", "--url", "u", "--user", "u"
    )
    assert code == 2
    assert "password is required" in err
    assert emulator.requests == []


async def test_client_credentials_from_the_environment(emulator: RunaiEmulator) -> None:
    env = {
        "RUNAI_TOKEN": "",
        "RUNAI_CLIENT_ID": emulator.client_id,
        "RUNAI_CLIENT_SECRET": emulator.client_secret,
    }
    code, out, err = await cli(emulator, "--json", "registries", "list", env=env)
    assert (code, as_json(out), err) == (0, [], "")
    assert emulator.tokens_issued == 1


async def test_demo_runs_without_credentials() -> None:
    code, out, err = await cli(
        None, "demo", "--registries", "2", "--repositories", "3", "--tags", "40"
    )
    assert code == 0, err
    assert "Emulated Run:ai control plane at http://127.0.0.1:" in err
    assert "Crawled 2 registries, 6 repositories and 240 tags" in out
    assert "0 errors" in out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_ctrl_c_exits_130() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "runai_registry_async",
        "demo",
        "--registries",
        "30",
        "--repositories",
        "100",
        "--tags",
        "100",
        "--concurrency",
        "1",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    await asyncio.wait_for(process.stderr.readline(), 60)  # the emulator is up
    process.send_signal(__import__("signal").SIGINT)
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 130
    assert "interrupted" in err.decode()
    assert "Traceback" not in err.decode()


def test_progress_line_overwrites_itself(capsys: pytest.CaptureFixture[str]) -> None:
    from runai_registry_async import CrawlStats
    from runai_registry_async._cli import _Progress

    stats = CrawlStats(registries=2, repositories=7, tags=300, errors=1)
    progress = _Progress(stats)
    progress.show()
    progress.show()  # within 0.1 s of the last: not redrawn
    progress.show(final=True)
    err = capsys.readouterr().err
    assert err.count("\r") == 2
    assert err.endswith("\n")
    assert "2 registries, 7 repositories, 300 tags, 0 requests (0 retried, 1 errors)" in err


async def test_crawl_error_lines_carry_status_and_attempts(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1"])
    emulator.fail_next("list_tags", 10, status=503)
    code, out, _ = await cli(emulator, "--retries", "1", "crawl")
    lines = [as_json(line) for line in out.splitlines()]
    assert code == 3
    assert lines == [
        {
            "registryId": registry.id,
            "registryName": "r",
            "repository": "team/app",
            "tags": None,
            "error": lines[0]["error"],
            "errorType": "ServiceUnavailableError",
            "status": 503,
            "attempts": 2,
        }
    ]
    assert "HTTP 503" in lines[0]["error"]


async def test_tags_sorted_filtered_and_latest(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(
        registry.id, "team/app", tags=["v1.10.0", "latest", "v1.9.2", "1.10.1-rc.1", "x.sig"]
    )
    base = ["--json", "tags", registry.id, "team/app"]
    code, out, _ = await cli(emulator, *base, "--sort", "version")
    assert (code, as_json(out)) == (0, {"tags": ["v1.9.2", "v1.10.0", "1.10.1-rc.1", "latest"]})
    code, out, _ = await cli(emulator, *base, "--include", "v*", "--latest")
    assert as_json(out) == {"tags": ["v1.10.0"]}
    code, out, _ = await cli(emulator, *base, "--exclude", "*rc*", "--sort", "lexical")
    assert as_json(out) == {"tags": ["latest", "v1.10.0", "v1.9.2"]}


async def test_find_prints_failures_as_crawl_does(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("hub")
    emulator.add_repository(registry.id, "team/app", tags=["1.0"])
    emulator.fail_next("list_tags", 10, status=503)
    code, out, _ = await cli(emulator, "--retries", "0", "find", "team/app")
    [line] = [as_json(text) for text in out.splitlines()]
    assert code == 3
    assert (line["errorType"], line["status"], line["attempts"]) == (
        "ServiceUnavailableError",
        503,
        1,
    )


async def test_find_and_latest_across_registries(emulator: RunaiEmulator) -> None:
    for name, tags in (("hub", ["1.0", "1.2-cuda12"]), ("ecr", ["2.0"]), ("gcr", [])):
        registry = emulator.add_registry(name)
        emulator.add_repository(registry.id, "team/app", tags=tags)
        emulator.add_repository(registry.id, "team/app-old", tags=["9.9"])
    code, out, _ = await cli(emulator, "find", "team/app", "--tag", "1.*")
    assert code == 0
    assert [(line["registryName"], line["tags"]) for line in map(as_json, out.splitlines())] == [
        ("hub", ["1.0", "1.2-cuda12"])
    ]
    code, out, _ = await cli(emulator, "--json", "latest", "team/app")
    assert code == 0
    assert sorted((r["registryName"], r["tag"]) for r in map(as_json, out.splitlines())) == [
        ("ecr", "2.0"),
        ("hub", "1.2-cuda12"),
    ]
    code, out, _ = await cli(emulator, "latest", "team/app", "--include", "2*")
    assert out.splitlines()[0].split() == ["REGISTRY", "REPOSITORY", "TAG"]
    assert out.splitlines()[1].split() == ["ecr", "team/app", "2.0"]


async def test_watch_resumes_from_its_state_file(emulator: RunaiEmulator, tmp_path: Any) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1.0"])
    emulator.add_repository(registry.id, "team/app-old", tags=["0.1"])
    state = tmp_path / "watch.json"
    command = ["watch", "--repository", "team/app", "--interval", "0.05", "--polls", "1"]
    code, out, err = await cli(emulator, *command, "--state", str(state))
    assert (code, out, err) == (0, "", "")  # the baseline is silent...
    assert as_json(state.read_bytes())["targets"] == [
        {"registryId": registry.id, "repository": "team/app", "tags": ["1.0"]}
    ]  # ...and saved
    emulator.add_repository(registry.id, "team/app", tags=["1.1"])
    code, out, _ = await cli(emulator, *command, "--state", str(state))
    events = [as_json(line) for line in out.splitlines()]
    assert code == 0
    assert [(e["event"], e["repository"], e["tag"]) for e in events] == [
        ("added", "team/app", "1.1"),
        ("removed", "team/app", "1.0"),
    ]
    code, _, err = await cli(emulator, "watch", "--repository", "nope", "--polls", "1")
    assert code == 3
    assert "no such repository" in err
