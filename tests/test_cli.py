"""The command line as a whole: global options, exit codes, pipes, Ctrl-C, --help.

Each test runs the installed console script in a subprocess against the emulator.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

import pytest

from runai_registry_async import __version__
from runai_registry_async.testing import RunaiEmulator

from .cli import SCRIPT, as_json, cli, environment, start
from .conftest import eventually

CLI_PAGE = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()


async def test_global_options_go_before_or_after_the_command(emulator: RunaiEmulator) -> None:
    emulator.add_registry("hub")
    before = await cli(emulator, "--json", "registries", "list")
    after = await cli(emulator, "registries", "list", "--json")
    between = await cli(emulator, "registries", "--json", "list")
    assert before[0] == after[0] == between[0] == 0
    assert [r["meta"]["name"] for r in as_json(after[1])] == ["hub"]
    assert before[1] == after[1] == between[1]
    # After the command, an option takes effect too: no retry of the 503 here.
    emulator.fail_next("list_registries", 1, status=503)
    code, _, err = await cli(emulator, "registries", "list", "--retries", "0")
    assert (code, "HTTP 503" in err) == (1, True)
    assert emulator.count("list_registries") == 4


async def test_version() -> None:
    code, out, _ = await cli(None, "--version")
    assert (code, out.strip()) == (0, f"runai-registry {__version__}")


@pytest.mark.parametrize(
    ("args", "env", "names"),
    [
        (["crawl", "--concurrency", "0"], {}, "--concurrency"),
        (["--timeout", "-1", "registries", "list"], {}, "--timeout"),
        (["registries", "list", "--timeout", "nan"], {}, "--timeout"),
        (["registries", "list", "--retries", "-1"], {}, "--retries"),
        (["registries", "list", "--max-per-second", "0"], {}, "--max-per-second"),
        (["crawl", "--per-registry", "0"], {}, "--per-registry"),
        (["watch", "--interval", "0"], {}, "--interval"),
        (["watch", "--polls", "0"], {}, "--polls"),
        (["registries", "frobnicate"], {}, "invalid choice"),
        (["registries", "list"], {"RUNAI_BASE_URL": ""}, "RUNAI_BASE_URL"),
        (["registries", "list"], {"RUNAI_TOKEN": ""}, "RUNAI_TOKEN"),
        (["registries", "list"], {"RUNAI_TOKEN": "", "RUNAI_CLIENT_ID": "id"}, "CLIENT_SECRET"),
        (
            ["registries", "list", "--base-url", "http://runai.example.com"],
            {},
            "--allow-insecure-http",
        ),
        (["registries", "list", "--base-url", "https://x.example.com/api/v1"], {}, "--base-url"),
        (["registries", "create", "--name", "n", "--url", "h.io", "--user", "u"], {}, "password"),
        (["registries", "update", "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"], {}, "password"),
    ],
)
async def test_usage_errors_exit_2_before_any_request(
    emulator: RunaiEmulator, args: list[str], env: dict[str, str], names: str
) -> None:
    code, out, err = await cli(emulator, *args, env=env)
    assert (code, out) == (2, "")
    assert "error:" in err
    assert names in err
    # The CLI's words, never the library's parameter names.
    assert not re.search(r"\b(allow_insecure_http|base_url|max_per_second)\b", err)
    assert "Traceback" not in err
    assert emulator.requests == []


async def test_api_errors_are_one_line_and_exit_1(emulator: RunaiEmulator) -> None:
    code, out, err = await cli(
        emulator, "registries", "get", "5f0c7b7e-1f57-4c1e-9a63-0d2a3c4e5f60"
    )
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith("runai-registry: error: GET /api/v1/asset/registries/")
    assert "404" in err
    code, _, err = await cli(emulator, "registries", "list", env={"RUNAI_TOKEN": "wrong"})
    assert (code, "HTTP 401" in err, "wrong" in err) == (1, True, False)


async def test_stdout_closed_before_anything_is_written_exits_quietly(
    emulator: RunaiEmulator,
) -> None:
    emulator.seed(registries=2, repositories=3, tags=5)
    for args in (["crawl"], ["registries", "list"], ["--json", "registries", "list"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # nobody will ever read: every write is EPIPE
        process = await start(emulator, *args, stdout=write_end)
        os.close(write_end)
        _, err = await asyncio.wait_for(process.communicate(), 60)
        assert (process.returncode, err.decode()) == (141, ""), args


async def test_crawl_into_head_exits_quietly_as_other_tools(
    emulator: RunaiEmulator, tmp_path: Path
) -> None:
    # More lines than a pipe holds, so the crawl is still writing when head leaves.
    emulator.seed(registries=4, repositories=40, tags=60)
    shell = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        f"'{SCRIPT}' crawl 2>stderr.txt | head -n 1; echo \"${{PIPESTATUS[0]}}\" >status.txt",
        env=environment(emulator, None),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(shell.communicate(), 60)
    workdir = tmp_path
    assert len(out.splitlines()) == 1
    assert as_json(out)["registryName"].startswith("demo-registry-")
    assert (workdir / "status.txt").read_text().strip() == "141"
    assert (workdir / "stderr.txt").read_text() == ""


async def test_ctrl_c_during_a_request_exits_130(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("hub")
    emulator.add_repository(registry.id, "team/app", tags=["1"])
    emulator.delay("list_tags", 120)  # far longer than this test may take
    process = await start(emulator, "crawl")

    await eventually(lambda: emulator.in_flight > 0)  # the tags request is waiting
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 130
    assert (out, err.decode()) == (b"", "interrupted\n")

    await eventually(lambda: emulator.in_flight == 0)  # the client hung up: handler cancelled
    assert emulator.disconnects == 1


async def test_help_and_the_docs_synopsis_agree() -> None:
    code, out, _ = await cli(None, "--help")
    assert code == 0
    # The commands as --help lists them: indented four spaces under COMMAND.
    commands = re.findall(r"^    ([a-z]+)\s", out.split("  COMMAND\n", 1)[1], re.MULTILINE)
    assert len(commands) == 9
    synopsis = CLI_PAGE
    for command in commands:
        assert f"runai-registry {command}" in synopsis, command
    for option in sorted(set(re.findall(r"--[a-z][a-z-]+", out)) - {"--help"}):
        assert option in synopsis, option
    for command in commands:
        code, help_text, _ = await cli(None, command, "--help")
        assert code == 0
        assert "global options (before or after the command)" in help_text or command in (
            "demo",
            "emulator",
        )


async def test_allow_insecure_http_lets_plain_http_reach_a_host_that_is_not_loopback() -> None:
    # 0.0.0.0 is not a loopback literal, so plain http to it is refused by default; with
    # the flag the request goes out (and meets a closed port on this machine).
    args = ["registries", "list", "--base-url", "http://0.0.0.0:9", "--retries", "0"]
    env = {"RUNAI_TOKEN": "t"}
    code, _, err = await cli(None, *args, env=env)
    assert (code, "--allow-insecure-http" in err) == (2, True)
    code, _, err = await cli(None, *args, "--allow-insecure-http", env=env)
    assert code == 1
    assert "GET /api/v1/asset/registries" in err
    assert "--allow-insecure-http" not in err


async def test_timeout_bounds_each_attempt(emulator: RunaiEmulator) -> None:
    emulator.delay("list_registries", 60)  # far past the test's own limit
    code, _, err = await cli(emulator, "registries", "list", "--timeout", "0.3", "--retries", "0")
    assert (code, "timed out" in err.lower() or "timeout" in err.lower()) == (1, True), err
    assert emulator.count("list_registries") == 1
