"""Running the installed ``runai-registry`` console script, as a user's shell would."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import orjson

from runai_registry_async.testing import RunaiEmulator

#: The console script the package installs next to this interpreter.
SCRIPT = Path(sys.executable).parent / "runai-registry"


def default_signals() -> None:
    # A shell that starts a job in the background (`cmd &`) has it ignore SIGINT, and a
    # child inherits that; the tests must see what a terminal's Ctrl-C does.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def environment(emulator: RunaiEmulator | None, env: dict[str, str] | None) -> dict[str, str]:
    """This process's environment without RUNAI_*, pointed at ``emulator``."""
    result = {k: v for k, v in os.environ.items() if not k.startswith("RUNAI_")}
    result.pop("COLUMNS", None)
    if emulator is not None:
        result.update(RUNAI_BASE_URL=emulator.base_url, RUNAI_TOKEN=emulator.token)
    result.update(env or {})
    return result


async def start(
    emulator: RunaiEmulator | None, *args: str, env: dict[str, str] | None = None, **kwargs: Any
) -> asyncio.subprocess.Process:
    assert SCRIPT.exists(), f"the console script is not installed at {SCRIPT}"
    options: dict[str, Any] = {
        "stdin": asyncio.subprocess.PIPE,
        "stdout": asyncio.subprocess.PIPE,
        "stderr": asyncio.subprocess.PIPE,
        "env": environment(emulator, env),
        "preexec_fn": default_signals,
    }
    options.update(kwargs)
    return await asyncio.create_subprocess_exec(str(SCRIPT), *args, **options)


async def cli(
    emulator: RunaiEmulator | None,
    *args: str,
    stdin: bytes = b"",
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """Run ``runai-registry ARGS``; the emulator keeps serving meanwhile."""
    process = await start(emulator, *args, env=env)
    out, err = await asyncio.wait_for(process.communicate(stdin), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def as_json(text: str | bytes) -> Any:
    return orjson.loads(text)


def json_lines(text: str) -> list[Any]:
    return [orjson.loads(line) for line in text.splitlines()]
