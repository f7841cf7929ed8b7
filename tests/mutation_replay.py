"""Replay mutmut's mutants against the tests as they are now.

    .venv/bin/python tests/mutation_replay.py MUTMUT_DIR [--all] [--timeout S] TEST_FILE...

``MUTMUT_DIR`` is a scratch copy where ``mutmut run`` has at least generated its
mutants (see tests/README.md). Each mutant (by default the ones that run left
surviving; ``--all``: every one generated) is applied as ``mutmut show`` prints it to a
scratch copy of this project, within the function it mutates and only where its lines
occur there exactly once, and the test files run there with ``-x``. The tests must pass
on the unchanged copies first. Only a failing test kills a mutant: one that does not
compile is BROKEN, a collection error ERROR, a timeout HUNG. This checks tests written
after a mutmut run, which mutmut itself would not select (it picks tests by the coverage
it recorded at the start). Two copies run side by side.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Lock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `tests` as a package

from tests.scratch import outcome, project_copy

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


def mutated(source: str, function: str, before: list[str], after: list[str]) -> str | None:
    """``source`` with the lines ``before`` replaced by ``after``, re-indented (mutmut
    shows a method's lines at the indentation of a function); None unless ``before``
    occurs exactly once within the body of ``function``."""
    lines = source.split("\n")
    first, last = _body_of(lines, function)
    wanted = [line.strip() for line in before]
    starts = [
        start
        for start in range(first, last - len(wanted) + 1)
        if [line.strip() for line in lines[start : start + len(wanted)]] == wanted
    ]
    if len(starts) != 1:
        return None
    (start,) = starts
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    shown = before[0][: len(before[0]) - len(before[0].lstrip())]
    replaced = [indent + line.removeprefix(shown) for line in after]
    return "\n".join(lines[:start] + replaced + lines[start + len(wanted) :])


def _body_of(lines: list[str], function: str) -> tuple[int, int]:
    """The lines of ``function``'s definition (by name; the first that matches), up to
    the next line indented no deeper than its ``def``; the whole file if not found."""
    definition = re.compile(rf"^(\s*)(?:async\s+)?def {re.escape(function)}\(")
    for index, line in enumerate(lines):
        match = definition.match(line)
        if match is None:
            continue
        depth = len(match.group(1))
        for end in range(index + 1, len(lines)):
            text = lines[end]
            if text.strip() and len(text) - len(text.lstrip()) <= depth:
                return index, end
        return index, len(lines)
    return 0, len(lines)


def function_of(name: str) -> str:
    """The mutated function's own name in a mutmut mutant name
    (``..._retry.x_backoff__mutmut_3``, ``..._retry.xǁRetriesǁwait_after__mutmut_2``)."""
    mangled = name.rsplit(".", 1)[-1].split("__mutmut_")[0]
    return mangled.split("ǁ")[-1] if "ǁ" in mangled else mangled.removeprefix("x_")


def verdict(mutmut_dir: Path, name: str, copy: Path, tests: Sequence[str], timeout: float) -> str:
    path, before, after = mutant_diff(mutmut_dir, name)
    if not path or not before:
        return "UNSHOWN"  # mutmut could not show it
    target = copy / path
    source = target.read_text()
    changed = mutated(source, function_of(name), before, after)
    if changed is None:
        return "STALE"  # not exactly once in its function: changed since, or ambiguous
    try:
        compile(changed, str(target), "exec")
    except SyntaxError:
        return "BROKEN"
    target.write_text(changed)
    try:
        result = outcome(tests, str(copy), {**os.environ, "PYTHONPATH": str(copy)}, timeout=timeout)
    finally:
        target.write_text(source)
    return {"caught": "killed", "MISSED": "SURVIVED"}.get(result.verdict, result.verdict)


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
    for copy in copies:
        baseline = outcome(args.tests, str(copy), {**os.environ, "PYTHONPATH": str(copy)})
        if baseline.verdict != "MISSED":
            sys.exit(f"the tests do not pass with no mutant applied: {baseline.detail}")
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
