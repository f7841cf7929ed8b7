"""The docs tell the truth (test_api_docs.py checks the API reference is complete): every
example script in a guide page runs and prints what the page says it prints (the
text block after it: in full, or its first and last lines around a ``...`` line; a
``...`` within a line stands for any text)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
API = (DOCS / "api.md").read_text()


def test_every_event_is_in_the_events_module_page() -> None:
    from runai_registry_async import events

    assert "::: runai_registry_async.events\n" in API
    assert sorted(events.__all__) == events.__all__


def examples() -> list[tuple[str, str, str]]:
    """Each page's scripts (``asyncio.run(main())``), with the text block after it: the
    output, in full, or its first lines and last line around a ``...`` line."""
    found = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text()
        for match in re.finditer(r"```python\n(.*?)```(.*?)(?=```python|\Z)", text, re.DOTALL):
            script, after = match.groups()
            if "asyncio.run(main())" in script:
                output = re.search(r"```text\n(.*?)```", after, re.DOTALL)
                found.append((page.name, script, output.group(1) if output else ""))
    return found


def test_the_guides_have_examples() -> None:
    assert {page for page, _, _ in examples()} >= {"observability.md"}
    assert all(output for _, _, output in examples())


def _ids(hex_ids: str) -> str:
    return re.sub(r"\b[0-9a-f]{16}\b", "ID", hex_ids)


@pytest.mark.parametrize(("page", "script", "output"), examples(), ids=lambda v: str(v)[:20])
def test_a_guide_example_prints_what_its_page_says(
    page: str, script: str, output: str, tmp_path: Path
) -> None:
    path = tmp_path / "example.py"
    path.write_text(script)
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    printed, expected = _ids(run.stdout).splitlines(), _ids(output).splitlines()
    if "..." in expected:
        head = expected[: expected.index("...")]
        tail = expected[expected.index("...") + 1 :]
        assert _matches(printed[: len(head)], head)
        assert _matches(printed[len(printed) - len(tail) :], tail)
    else:
        assert _matches(printed, expected)


def _matches(printed: list[str], expected: list[str]) -> bool:
    """Line by line; a ``...`` within an expected line stands for any text (an id, a time)."""
    if len(printed) != len(expected):
        return False
    patterns = [".*".join(map(re.escape, line.split("..."))) for line in expected]
    return all(re.fullmatch(p, line) for p, line in zip(patterns, printed, strict=True))
