"""``find``, ``latest`` and ``watch`` on the command line."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest

from runai_registry_async.testing import RunaiEmulator

from .cli import as_json, cli, json_lines, start


async def test_find_prints_failures_as_crawl_does(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("hub")
    emulator.add_repository(registry.id, "team/app", tags=["1.0"])
    emulator.fail_next("list_tags", 10, status=503)
    code, out, _ = await cli(emulator, "--retries", "0", "find", "team/app")
    [line] = json_lines(out)
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
    assert [(line["registryName"], line["tags"]) for line in json_lines(out)] == [
        ("hub", ["1.0", "1.2-cuda12"])
    ]
    code, out, _ = await cli(emulator, "latest", "team/app", "--json")
    assert code == 0
    assert sorted((r["registryName"], r["tag"]) for r in json_lines(out)) == [
        ("ecr", "2.0"),
        ("hub", "1.2-cuda12"),
    ]
    code, out, _ = await cli(emulator, "latest", "team/app", "--include", "2*")
    assert out.splitlines()[0].split() == ["REGISTRY", "REPOSITORY", "TAG"]
    assert out.splitlines()[1].split() == ["ecr", "team/app", "2.0"]


async def test_watch_resumes_from_its_state_file(emulator: RunaiEmulator, tmp_path: Path) -> None:
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
    code, out, _ = await cli(emulator, *command, "--state", str(state), "--json")
    events = json_lines(out)
    assert code == 0
    assert [(e["event"], e["registryName"], e["repository"], e["tag"]) for e in events] == [
        ("added", "r", "team/app", "1.1"),
        ("removed", "r", "team/app", "1.0"),
    ]
    code, _, err = await cli(emulator, "watch", "--repository", "nope", "--polls", "1")
    assert code == 3
    assert "no such repository" in err


async def test_the_state_file_is_written_privately_and_never_through_a_planted_link(
    emulator: RunaiEmulator, tmp_path: Path
) -> None:
    # A fixed FILE.tmp was opened following symlinks, with mode 0644.
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1.0"])
    state, target = tmp_path / "watch.json", tmp_path / "victim"
    target.write_text("untouched")
    (tmp_path / "watch.json.tmp").symlink_to(target)
    command = ["watch", "--repository", "team/app", "--polls", "1", "--state", str(state)]
    code, _, err = await cli(emulator, *command)
    assert (code, err) == (0, "")
    assert target.read_text() == "untouched"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert as_json(state.read_bytes())["version"] == 1
    assert sorted(os.listdir(tmp_path)) == ["victim", "watch.json", "watch.json.tmp"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"version": true, "targets": []}', "unknown snapshot version 'True'"),
        (b'{"version": 1, "targets": {}}', "expected an object with a list of targets"),
        (b"[1, 2]", "expected an object with a list of targets"),
        (b"{nope", "not JSON"),
    ],
)
async def test_a_bad_state_file_is_a_clear_error(
    emulator: RunaiEmulator, tmp_path: Path, content: bytes, reason: str
) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1.0"])
    state = tmp_path / "watch.json"
    state.write_bytes(content)
    code, _, err = await cli(emulator, "watch", "--polls", "1", "--state", str(state))
    assert code == 2  # a bad value, found before any request
    assert err.startswith(f"runai-registry: error: --state {state}: ")
    assert reason in err


@pytest.mark.parametrize("command", ["find", "latest"])
async def test_nothing_found_exits_1_with_a_note_as_grep_does(
    emulator: RunaiEmulator, command: str
) -> None:
    registry = emulator.add_registry("hub")
    emulator.add_repository(registry.id, "team/app", tags=["1.0"])
    code, out, err = await cli(emulator, command, "nope/x")
    assert code == 1
    assert out.strip() in ("", "REGISTRY  REPOSITORY  TAG")
    assert err.startswith("runai-registry: ")
    assert "nope/x" in err
    code, _, err = await cli(emulator, command, "team/app")
    assert (code, err) == (0, "")


async def test_watch_prints_a_line_per_change_and_watches_repositories_that_appear(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("hub")
    emulator.add_repository(registry.id, "team/app", tags=["1.0"])
    process = await start(emulator, "watch", "--interval", "0.2")
    assert process.stdout is not None
    try:
        await asyncio.sleep(1)  # the baseline poll, and a few more
        emulator.push_tags(registry.id, "team/app", "1.1")
        emulator.push_tags(registry.id, "team/new", "0.1")  # a repository pushed later
        lines = [(await asyncio.wait_for(process.stdout.readline(), 30)).decode() for _ in "ab"]
    finally:
        process.terminate()
        _, err = await process.communicate()
    changes = sorted(line.split("  ", 1)[1].split() for line in lines)
    assert changes == [["added", "hub", "team/app:1.1"], ["added", "hub", "team/new:0.1"]]
    assert b"Traceback" not in err
