"""The layout's import rules (docs/architecture.md), checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "runai_registry_async"


def imports_of(path: Path) -> set[str]:
    """The package's own modules that ``path`` imports, as dotted names below the package."""
    here = path.relative_to(PACKAGE).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(here[: len(here) - node.level + 1])
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}".strip(".") for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(PACKAGE.name):
            found.add(node.module.removeprefix(PACKAGE.name).strip("."))  # type: ignore[union-attr]
    return {name for name in found if name}


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).glob("*.py"))


@pytest.mark.parametrize("path", modules("_http"), ids=lambda p: p.name)
def test_the_pipeline_imports_nothing_of_the_features(path: Path) -> None:
    # (events: the vocabulary the pipeline reports in; _version: the User-Agent's.)
    allowed = ("_http", "_errors", "_secrets", "_converter", "_version", "events")
    outside = {name for name in imports_of(path) if not name.startswith(allowed)}
    assert outside == set(), f"{path.name} imports {sorted(outside)}"


@pytest.mark.parametrize("path", modules("testing"), ids=lambda p: p.name)
def test_the_emulator_shares_no_logic_with_the_client(path: Path) -> None:
    client_side = {name for name in imports_of(path) if not name.startswith("testing")}
    assert client_side <= {"_version"}, f"{path.name} imports {sorted(client_side)}"
