"""``find``, ``latest`` and ``watch`` on the command line."""

from __future__ import annotations

from pathlib import Path

from runai_registry_async.testing import RunaiEmulator

from .cli import as_json, cli, json_lines


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
    code, out, _ = await cli(emulator, *command, "--state", str(state))
    events = json_lines(out)
    assert code == 0
    assert [(e["event"], e["repository"], e["tag"]) for e in events] == [
        ("added", "team/app", "1.1"),
        ("removed", "team/app", "1.0"),
    ]
    code, _, err = await cli(emulator, "watch", "--repository", "nope", "--polls", "1")
    assert code == 3
    assert "no such repository" in err
