"""Shared benchmark plumbing: the server in its own process, fresh children, medians."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _pinned(cpu: int) -> list[str]:
    """``taskset -c CPU`` where it helps: the server and the client then never share a
    core, which steadies the figures on a small, shared machine."""
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu)]
    return []


@contextlib.contextmanager
def server(*args: str) -> Iterator[str]:
    """Start ``_server.py`` in its own process (on CPU 1); yields its base URL."""
    process = subprocess.Popen(
        [*_pinned(1), sys.executable, str(HERE / "_server.py"), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"benchmark server did not start: {line!r}")
        yield f"http://127.0.0.1:{line.split()[1]}"
    finally:
        process.terminate()
        process.wait(10)


def run_child(script: str, *args: str) -> dict[str, float]:
    """Run one measurement in a fresh interpreter (on CPU 0); it prints one JSON object last."""
    out = subprocess.run(
        [*_pinned(0), sys.executable, str(HERE / script), "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def rotated(items: Sequence[str], turn: int) -> list[str]:
    """``items`` starting at a different one each turn, so none always runs first."""
    shift = turn % len(items)
    return [*items[shift:], *items[:shift]]
