"""``registries``, ``repositories`` and ``tags`` on the command line, against the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import signal

import orjson
import pytest

from runai_registry_async.testing import RunaiEmulator

from .cli import as_json, cli, start

PASSWORD = "cli-PASSWORD-5150"


async def test_registries_crud_round_trip(emulator: RunaiEmulator) -> None:
    command = [
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
        "--project-id",
        "12",
        "--description",
        "the hub",
        "--json",
    ]
    code, out, err = await cli(emulator, *command, stdin=PASSWORD.encode() + b"\n")
    assert (code, err) == (0, "")
    created = as_json(out)
    assert (created["meta"]["name"], created["meta"]["scope"]) == ("hub", "project")
    assert created["spec"]["password"] == "***"
    assert emulator.registries[created["meta"]["id"]].spec["password"] == PASSWORD
    rid = created["meta"]["id"]

    code, out, _ = await cli(emulator, "--json", "registries", "get", rid)
    assert (code, as_json(out)["meta"]["id"]) == (0, rid)
    code, out, _ = await cli(emulator, "--json", "registries", "list", "--name", "hub")
    assert [r["meta"]["name"] for r in as_json(out)] == ["hub"]
    code, out, _ = await cli(emulator, "registries", "list")
    header, row = out.splitlines()
    assert header.split() == ["ID", "NAME", "SCOPE", "URL", "USER", "UPDATED"]
    assert row.split()[:5] == [rid, "hub", "project", "https://hub.example.com", "robot"]
    assert header.index("NAME") == row.index("hub")  # aligned columns

    code, out, _ = await cli(emulator, "registries", "delete", rid)
    assert (code, out.strip()) == (0, f"deleted {rid}")
    assert emulator.registries == {}


async def test_update_changes_only_the_options_given(emulator: RunaiEmulator) -> None:
    stored = emulator.add_registry(
        "hub", url="https://hub.example.com", user="robot", description="the hub"
    )
    code, out, err = await cli(
        emulator,
        "registries",
        "update",
        stored.id,
        "--name",
        "hub2",
        "--json",
        stdin=b"rotated-" + PASSWORD.encode(),
    )
    assert (code, err) == (0, "")
    assert [r.operation for r in emulator.requests] == ["get_registry", "update_registry"]
    assert stored.meta["name"] == "hub2"
    assert stored.meta["description"] == "the hub"  # kept, not erased
    assert (stored.spec["url"], stored.spec["user"]) == ("https://hub.example.com", "robot")
    assert stored.spec["password"] == "rotated-" + PASSWORD
    assert as_json(out)["meta"]["updateCount"] == 1
    assert PASSWORD not in out + err

    code, _, _ = await cli(
        emulator,
        "registries",
        "update",
        stored.id,
        "--user",
        "bot",
        "--description",
        "",
        stdin=PASSWORD.encode(),
    )
    assert code == 0
    assert (stored.meta["name"], stored.spec["user"]) == ("hub2", "bot")
    assert "description" not in stored.meta  # '' removes it


async def test_update_help_says_what_it_merges_and_why_it_wants_the_password() -> None:
    code, out, _ = await cli(None, "registries", "update", "--help")
    text = " ".join(out.split())
    assert code == 0
    assert "only the options given change" in text
    assert "password on every update and never returns it" in text


async def test_repositories_and_tags(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("r")
    emulator.add_repository(registry.id, "team/app", tags=["1.0", "1.1", "latest"])
    emulator.add_repository(registry.id, "team/db", tags=["15"])
    code, out, _ = await cli(emulator, "repositories", registry.id, "--search", "app", "--json")
    assert (code, as_json(out)) == (0, {"repositories": ["team/app"]})
    code, out, _ = await cli(emulator, "tags", registry.id, "team/app", "--search", "1.")
    assert (code, out.splitlines()) == (0, ["TAG", "1.0", "1.1"])
    code, out, _ = await cli(emulator, "--json", "tags", registry.id, "team/app")
    assert as_json(out) == {"tags": ["1.0", "1.1", "latest"]}


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


async def on_a_terminal(emulator: RunaiEmulator, columns: int, *args: str) -> str:
    """Run the CLI with stdout on a pseudo-terminal ``columns`` wide; what it showed."""
    controller, terminal = pty.openpty()
    process = await start(emulator, *args, stdout=terminal, env={"COLUMNS": str(columns)})
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = await asyncio.to_thread(os.read, controller, 65536)
        except OSError:  # EIO: the terminal's other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    await asyncio.wait_for(process.wait(), 60)
    assert process.returncode == 0
    return b"".join(chunks).decode().replace("\r\n", "\n")


async def test_tables_fit_the_terminal_and_json_stays_whole(emulator: RunaiEmulator) -> None:
    long_url = "https://registry.example.com/" + "very-long-path/" * 6
    emulator.add_registry("a-registry-with-a-long-name", url=long_url, description="d")
    shown = await on_a_terminal(emulator, 100, "registries", "list")
    lines = shown.splitlines()
    assert len(lines) == 2
    assert all(len(line) <= 100 for line in lines), lines
    assert "…" in lines[1]
    assert lines[0].split()[:3] == ["ID", "NAME", "SCOPE"]
    (registry_id,) = emulator.registries
    assert lines[1].startswith(registry_id + " ")  # never cut: it is copied from here
    shown = await on_a_terminal(emulator, 40, "registries", "list")
    assert registry_id in shown  # even when the row then overflows
    # Piped, the same table is whole; --json on a terminal is complete too.
    _, piped, _ = await cli(emulator, "registries", "list")
    assert (long_url in piped, "…" in piped) == (True, False)
    shown = await on_a_terminal(emulator, 70, "registries", "list", "--json")
    assert as_json(shown)[0]["spec"]["url"] == long_url


async def test_the_password_prompt_on_a_terminal_does_not_echo(emulator: RunaiEmulator) -> None:
    controller, terminal = pty.openpty()
    process = await start(
        emulator,
        *("registries", "create", "--name", "hub", "--url", "https://h", "--user", "u"),
        stdin=terminal,
        start_new_session=True,  # no controlling terminal: getpass uses stdin, the pty
    )
    os.close(terminal)
    assert process.stderr is not None
    prompt = await asyncio.wait_for(process.stderr.readuntil(b": "), 60)
    assert prompt == b"Registry password: "
    os.write(controller, PASSWORD.encode() + b"\n")
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    echoed = b""
    os.set_blocking(controller, False)
    with contextlib.suppress(BlockingIOError, OSError):
        echoed = os.read(controller, 4096)
    os.close(controller)
    assert process.returncode == 0
    assert PASSWORD.encode() not in echoed + out
    [stored] = emulator.registries.values()
    assert stored.spec["password"] == PASSWORD


async def test_client_id_flag_with_the_secret_from_the_environment(
    emulator: RunaiEmulator,
) -> None:
    env = {"RUNAI_TOKEN": "", "RUNAI_CLIENT_SECRET": emulator.client_secret}
    code, out, err = await cli(
        emulator, "registries", "list", "--client-id", emulator.client_id, "--json", env=env
    )
    assert (code, as_json(out), err) == (0, [], "")
    assert emulator.tokens_issued == 1
    code, _, err = await cli(emulator, "registries", "list", "--client-id", "someone-else", env=env)
    assert (code, "401" in err, emulator.client_secret in err) == (1, True, False)


ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202e"


async def test_terminal_escapes_from_the_server_are_shown_not_obeyed(
    emulator: RunaiEmulator,
) -> None:
    # Names, users and tags were printed raw: a server could retitle the terminal,
    # clear it, or reverse what follows.
    registry = emulator.add_registry(f"evil{ESCAPES}", user=f"robot{ESCAPES}")
    emulator.add_repository(registry.id, "team/app", tags=[f"1.0{ESCAPES}"])
    for command in (["registries", "list"], ["tags", registry.id, "team/app"]):
        code, out, _ = await cli(emulator, *command)
        assert code == 0
        assert not any(c in out for c in "\x1b\x07\x9b\u202e"), out
        assert "\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\u202e" in out
    body = orjson.dumps({"code": 400, "message": f"bad{ESCAPES}"})
    emulator.fail_next("list_registries", 1, status=400, body=body)
    code, _, err = await cli(emulator, "--retries", "0", "registries", "list")
    assert code == 1
    assert "\x1b" not in err
    assert "bad\\x1b]0;owned" in err


async def test_a_registry_is_addressed_by_its_name_as_well_as_its_id(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("hub")
    emulator.add_repository(registry.id, "team/app", tags=["1.0"])
    code, out, err = await cli(emulator, "registries", "get", "hub", "--json")
    assert (code, err) == (0, "")
    assert as_json(out)["meta"]["id"] == registry.id
    code, out, _ = await cli(emulator, "tags", "hub", "team/app")
    assert (code, out.split()) == (0, ["TAG", "1.0"])
    code, out, _ = await cli(emulator, "repositories", registry.id)
    assert (code, out.split()) == (0, ["REPOSITORY", "team/app"])


async def test_an_unknown_or_ambiguous_name_is_an_error_naming_the_candidates(
    emulator: RunaiEmulator,
) -> None:
    code, _, err = await cli(emulator, "registries", "get", "nope")
    assert code == 1
    assert err == "runai-registry: error: no registry is named 'nope' (nor is it an id)\n"
    first = emulator.add_registry("twin")
    second = emulator.add_registry("twin", url="https://other.example.com")
    code, _, err = await cli(emulator, "registries", "delete", "twin")
    assert code == 1
    assert "2 registries are named 'twin'" in err
    assert first.id in err
    assert second.id in err
    assert len(emulator.registries) == 2  # nothing deleted


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scope", "project"], "a project-scoped asset needs --project-id"),
        (["--scope", "department"], "a department-scoped asset needs --department-id"),
    ],
)
async def test_a_scope_without_the_id_it_needs_exits_2_before_any_request(
    emulator: RunaiEmulator, extra: list[str], message: str
) -> None:
    command = ["registries", "create", "--name", "n", "--url", "h.io", "--user", "u", *extra]
    code, _, err = await cli(emulator, *command, stdin=b"pw\n")
    assert code == 2
    assert message in err
    assert emulator.requests == []


@pytest.mark.parametrize("url", ["notaurl", "https://", "ftp://h.io", "h .io", "h.io:port"])
async def test_a_registry_url_that_is_not_one_exits_2(emulator: RunaiEmulator, url: str) -> None:
    command = ["registries", "create", "--name", "n", "--url", url, "--user", "u"]
    code, _, err = await cli(emulator, *command, stdin=b"pw\n")
    assert code == 2
    assert "not a registry URL" in err
    assert emulator.requests == []


async def prompt_then(emulator: RunaiEmulator, key: bytes) -> tuple[int | None, bytes]:
    """Start ``registries create`` on a terminal, wait for its prompt, type ``key``."""
    controller, terminal = pty.openpty()
    process = await start(
        emulator,
        *("registries", "create", "--name", "hub", "--url", "https://h", "--user", "u"),
        stdin=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    assert process.stderr is not None
    await asyncio.wait_for(process.stderr.readuntil(b": "), 60)
    if key == b"\x03":
        process.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
    else:
        os.write(controller, key)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    os.close(controller)
    return process.returncode, err


async def test_ctrl_d_at_the_password_prompt_exits_1_without_a_traceback(
    emulator: RunaiEmulator,
) -> None:
    code, err = await prompt_then(emulator, b"\x04")
    assert code == 1
    assert b"Traceback" not in err
    assert b"no password given" in err
    assert emulator.requests == []


async def test_one_ctrl_c_at_the_password_prompt_exits_130(emulator: RunaiEmulator) -> None:
    code, err = await prompt_then(emulator, b"\x03")
    assert code == 130
    assert b"Traceback" not in err
    assert emulator.requests == []
