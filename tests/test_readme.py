"""The README tells the truth: its example runs, its commands are the ones CI uses, it
links every guide page; and the guide's pytest-fixture example passes in a fresh project."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
TESTING = (ROOT / "docs" / "testing.md").read_text()
FIXTURE_EXAMPLE = next(
    b for b in re.findall(r"```python\n(.*?)```", TESTING, re.DOTALL) if "runai_emulator" in b
)
SCRIPTS = [b for b in re.findall(r"```python\n(.*?)```", README, re.DOTALL) if "asyncio.run" in b]


def test_the_readme_is_a_landing_page_with_one_example() -> None:
    # The examples live in the guide (docs/*.md), where a test runs each of them.
    assert len(SCRIPTS) == 1
    assert "crawl_tags(client" in SCRIPTS[0]


def test_the_readme_example_runs(tmp_path: Path) -> None:
    path = tmp_path / "example.py"
    path.write_text(SCRIPTS[0])
    done = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert re.search(
        r"^CrawlStats\(registries=3, repositories=15, tags=300, errors=0, requests=19, ",
        done.stdout,
        re.MULTILINE,
    ), done.stdout


def test_the_readme_links_every_guide_page() -> None:
    pages = {path.name for path in (ROOT / "docs").glob("*.md")} - {"index.md", "CHANGELOG.md"}
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", README))
    assert pages - linked == set()


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_readme_fixture_example_passes_in_a_fresh_project(tmp_path: Path, mode: str) -> None:
    # A project of its own (its own pytest.ini), so none of this repository's settings
    # apply: "strict" is pytest-asyncio's default, the one a fresh project gets.
    (tmp_path / "pytest.ini").write_text(f"[pytest]\nasyncio_mode = {mode}\n")
    (tmp_path / "test_example.py").write_text(FIXTURE_EXAMPLE)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_ci_runs_the_readme_test_command() -> None:
    marker = README.index("<!-- test-command -->")
    command = README[marker:].split("```bash\n", 1)[1].split("\n", 1)[0]
    assert command == ".venv/bin/python -m pytest -q"
    assert "test-command" in (ROOT / ".ci" / "run").read_text()


def test_the_readme_setup_command_ends_by_running_the_demo_crawl() -> None:
    # The install half is what CI does in a fresh venv (.ci/run); the demo half runs here,
    # as the console script that install put next to this interpreter.
    setup = README.split("## Set up and run", 1)[1].split("```bash\n", 1)[1].split("\n", 1)[0]
    install, _, demo = setup.rpartition(" && ")
    assert install == "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]'"
    assert demo == ".venv/bin/runai-registry demo"
    program, *arguments = demo.split()
    script = Path(sys.executable).parent / Path(program).name
    completed = subprocess.run(
        [str(script), *arguments], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert re.search(
        r"^Crawled 4 registries, 48 repositories and 7200 tags with 52 requests in .* 0 errors",
        completed.stdout + completed.stderr,
        re.MULTILINE,
    ), completed.stdout + completed.stderr
