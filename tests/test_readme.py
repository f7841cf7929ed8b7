"""The README tells the truth: its examples run and its commands are the ones CI uses."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
SCRIPTS = [b for b in BLOCKS if "asyncio.run(main())" in b]
FIXTURE_EXAMPLES = [b for b in BLOCKS if "runai_emulator" in b and b not in SCRIPTS]


def test_the_readme_has_examples() -> None:
    assert len(SCRIPTS) >= 4
    assert len(FIXTURE_EXAMPLES) == 1


# What each example must print: a distinctive line of the example, and regular
# expressions for its output.
EXPECTED = {
    'emulator.add_repository(created.meta.id, "library/python"': [
        r"docker-hub AssetKind.REGISTRY https://index.docker.io",
        r"\['library/python'\]",
        r"\['3.11', '3.12'\]",
        r"404 Registry not found",
        r"password='\*\*\*'",
    ],
    'if tag == "build-500":': [r"^found build-500$"],
    ".batches():": [r"^11111 tags start with v9$"],
    "crawl = crawl_tags(client, concurrency=16": [
        r"demo-registry-\d ml/trainer-0 20",
        r"CrawlStats\(registries=3, repositories=15, tags=300, errors=0, requests=19, "
        r"retries=0, elapsed=\d+\.\d\ds\)",
    ],
    'emulator.fail_next("list_registries", 2, status=503)': [r"^\[\] after 2 retries$"],
    'print("registries:", len(await client.list_registries()))': [r"^registries: 0$"],
    "emulator.rate_limit(50, burst=10, advertise=True)": [r"^12 repositories, 0 answers 429$"],
    "async for found in latest_tags(client": [
        r"^\['v1.9.2', 'v1.10.0', '1.10.1', '2.0.0-rc.1', '2.0.0', 'latest'\]$",
        r"^hub team/app 1.10.0-cuda12$",
        r"^ecr team/app 1.10.0-cuda12$",
    ],
    "async for event in watch_tags(": [
        r"^added team/app 1.0\nadded team/app 1.1\nremoved team/app 1.0$",
    ],
    "gave up after": [r"^gave up after 2 attempts$", r"^\['1.0', '1.1'\] in 3 requests$"],
}


def test_every_example_has_its_expected_output() -> None:
    for script in SCRIPTS:
        assert any(key in script for key in EXPECTED), script[:300]


@pytest.mark.parametrize("script", SCRIPTS)
def test_readme_example_runs(script: str, tmp_path: Path) -> None:
    path = tmp_path / "example.py"
    path.write_text(script)
    done = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout
    expected = next(lines for key, lines in EXPECTED.items() if key in script)
    for line in expected:
        assert re.search(line, done.stdout, re.MULTILINE), (line, done.stdout)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_readme_fixture_example_passes_in_a_fresh_project(tmp_path: Path, mode: str) -> None:
    # A project of its own (its own pytest.ini), so none of this repository's settings
    # apply: "strict" is pytest-asyncio's default, the one a fresh project gets.
    (tmp_path / "pytest.ini").write_text(f"[pytest]\nasyncio_mode = {mode}\n")
    (tmp_path / "test_example.py").write_text(FIXTURE_EXAMPLES[0])
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
