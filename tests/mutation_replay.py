"""Replay mutmut's mutants against the tests as they are now.

    .venv/bin/python tests/mutation_replay.py MUTMUT_DIR [--all] [--timeout S] TEST_FILE...

``MUTMUT_DIR`` is a scratch copy where ``mutmut run`` has at least generated its
mutants (see tests/README.md). Each mutant (by default the ones that run left
surviving; ``--all``: every one generated) is applied as ``mutmut show`` prints it to a
scratch copy of this project, the test files run there with ``-x``, and the verdict is
printed. This checks tests written after a mutmut run, which mutmut itself would not
select (it picks tests by the coverage it recorded at the start), and it needs none of
mutmut's timeouts. Two copies run side by side.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Lock

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = str(Path(sys.executable).with_name("mutmut"))
_DEF = re.compile(r"^\s*(?:async\s+)?def (x\S*?__mutmut_\d+)\(", re.MULTILINE)


def mutant_names(mutmut_dir: Path, *, every: bool) -> list[str]:
    if every:
        names = []
        for source in sorted((mutmut_dir / "mutants" / "runai_registry_async").glob("*.py")):
            module = f"runai_registry_async.{source.stem}"
            names += [f"{module}.{name}" for name in _DEF.findall(source.read_text())]
        return names
    results = subprocess.run(
        [MUTMUT, "results"], cwd=mutmut_dir, capture_output=True, text=True, check=True
    ).stdout
    return [
        line.split(":")[0].strip()
        for line in results.splitlines()
        if line.strip().endswith("survived")
    ]


def mutant_diff(mutmut_dir: Path, name: str) -> tuple[str, list[str], list[str]]:
    """The file a mutant changes, its lines before and after."""
    shown = subprocess.run(
        [MUTMUT, "show", name], cwd=mutmut_dir, capture_output=True, text=True
    ).stdout
    path, before, after = "", [], []
    for line in shown.splitlines():
        if line.startswith("--- "):
            path = line[4:].strip().removeprefix("a/").removeprefix("mutants/")
        elif line.startswith("+++"):
            continue
        elif line.startswith("-"):
            before.append(line[1:])
        elif line.startswith("+"):
            after.append(line[1:])
    return path, before, after


def mutated(source: str, before: list[str], after: list[str]) -> str | None:
    """``source`` with the lines ``before`` replaced by ``after``, re-indented (mutmut
    shows a method's lines at the indentation of a function)."""
    lines = source.split("\n")
    wanted = [line.strip() for line in before]
    for start in range(len(lines)):
        if [line.strip() for line in lines[start : start + len(wanted)]] == wanted:
            indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
            shown = before[0][: len(before[0]) - len(before[0].lstrip())]
            replaced = [indent + line.removeprefix(shown) for line in after]
            return "\n".join(lines[:start] + replaced + lines[start + len(wanted) :])
    return None


def project_copy() -> Path:
    copy = Path(tempfile.mkdtemp(prefix="mutation-replay-"))
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


def verdict(mutmut_dir: Path, name: str, copy: Path, tests: Sequence[str], timeout: float) -> str:
    path, before, after = mutant_diff(mutmut_dir, name)
    if not path or not before:
        return "UNSHOWN"  # mutmut could not show it
    target = copy / path
    source = target.read_text()
    changed = mutated(source, before, after)
    if changed is None:
        return "STALE"  # the code has changed since mutmut generated this mutant
    target.write_text(changed)
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    try:
        done = subprocess.run(
            command,
            cwd=copy,
            env={**os.environ, "PYTHONPATH": str(copy)},
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return "HUNG"  # a hang is caught too, if only by a timeout
    finally:
        target.write_text(source)
    return "killed" if done.returncode else "SURVIVED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mutmut_dir", type=Path)
    parser.add_argument("tests", nargs="+")
    parser.add_argument("--all", action="store_true", help="every mutant, not the survivors")
    parser.add_argument("--skip", type=Path, help="mutants listed in this earlier output")
    parser.add_argument(
        "--timeout", type=float, default=120, help="seconds after which a run counts as hung"
    )
    args = parser.parse_args()
    names = mutant_names(args.mutmut_dir, every=args.all)
    if args.skip is not None:  # the output of an earlier, interrupted replay
        done = {
            line.split()[1] for line in args.skip.read_text().splitlines() if len(line.split()) == 2
        }
        names = [name for name in names if name not in done]
    copies = [project_copy(), project_copy()]
    locks = [Lock(), Lock()]

    def replay(job: tuple[int, str]) -> tuple[str, str]:
        index, name = job
        with locks[index % 2]:
            return name, verdict(args.mutmut_dir, name, copies[index % 2], args.tests, args.timeout)

    counts: dict[str, int] = {}
    with ThreadPoolExecutor(2) as pool:
        for name, result in pool.map(replay, enumerate(names)):
            counts[result] = counts.get(result, 0) + 1
            print(f"{result:9} {name}", flush=True)
    for copy in copies:
        shutil.rmtree(copy)
    print(", ".join(f"{count} {result}" for result, count in sorted(counts.items())))


if __name__ == "__main__":
    main()
