"""What the two scratch-copy scripts share: a copy of the project, and the verdict of a
test run there (which test failed and why, or why no test could)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent


def project_copy() -> Path:
    copy = Path(tempfile.mkdtemp(prefix="scratch-"))
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


class Outcome(NamedTuple):
    verdict: str  # caught, MISSED, HUNG, ERROR, BROKEN, STALE
    detail: str = ""


def outcome(
    tests: Sequence[str], cwd: str, env: dict[str, str], *, timeout: float = 900
) -> Outcome:
    """Run ``tests`` (stopping at the first failure) and say how they ended."""
    expected = {test for test in tests if "::" in test}
    with tempfile.TemporaryDirectory() as reports:
        report = Path(reports) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
        command += ["-m", "slow or not slow", "--timeout", "120", f"--junitxml={report}", *tests]
        try:
            subprocess.run(command, cwd=cwd, env=env, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return Outcome("HUNG", f"the run passed {timeout:g} s")
        if not report.exists():
            return Outcome("ERROR", "pytest wrote no report (it could not start)")
        return _first_failure(report, expected)


def _first_failure(report: Path, expected: set[str]) -> Outcome:
    """The verdict a JUnit report gives: its first failing test, and why."""
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        test = f"{case.get('classname', '')}::{case.get('name', '')}"
        for kind in ("failure", "error"):
            found = case.find(kind)
            if found is None:
                continue
            message = (found.get("message") or "").strip().split("\n")[0][:160]
            # Stopped by pytest-timeout: a hang, not a failure. (A TimeoutError the code
            # raised, or a test's own bound, ``within``, failing, is a failure.)
            if "from pytest-timeout" in message:
                return Outcome("HUNG", f"{test}: {message}")
            if kind == "error":
                return Outcome("ERROR", f"{test}: {message}")
            if expected and not any(test.endswith("::" + e.split("::")[-1]) for e in expected):
                return Outcome("OTHER", f"{test} failed, not {sorted(expected)}: {message}")
            return Outcome("caught", f"{test}: {message}")
    return Outcome("MISSED")
