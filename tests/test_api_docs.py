"""The API reference is complete: every public name is in docs/api.md, has a docstring,
and documents every parameter (read by griffe, as mkdocstrings reads it). A class's
"Other Parameters" (``timeout``, ``deadline``, ``retry``: every method's) count for its
methods; its ``Args`` for its constructor."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe
import pytest

import runai_registry_async
import runai_registry_async.testing

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTED = set(re.findall(r"^::: ([\w.]+)$", (ROOT / "docs" / "api.md").read_text(), re.M))
NOT_OBJECTS = {"__version__", "events"}  # a string; a module documented whole
PACKAGE = griffe.load("runai_registry_async", search_paths=[str(ROOT)], docstring_parser="google")


def public_names() -> list[str]:
    return [f"runai_registry_async.{name}" for name in runai_registry_async.__all__] + [
        f"runai_registry_async.testing.{name}" for name in runai_registry_async.testing.__all__
    ]


def documented_parameters(obj: Any) -> set[str]:
    if obj.docstring is None:
        return set()
    return {
        parameter.name
        for section in obj.docstring.parsed
        if section.kind.value in ("parameters", "other parameters")
        for parameter in section.value
    }


def parameters(function: Any) -> list[str]:
    skipped = ("variadic positional", "variadic keyword")
    return [
        p.name
        for p in function.parameters
        if p.name not in ("self", "cls")
        and not p.name.startswith("_")
        and p.kind.value not in skipped
    ]


def undocumented(
    path: str, function: Any, known: set[str], *, own_docstring: bool = True
) -> list[str]:
    if function.docstring is None and own_docstring:
        return [f"{path}: no docstring"]
    missing = [p for p in parameters(function) if p not in documented_parameters(function) | known]
    return [f"{path}: parameters {missing} undocumented"] if missing else []


def problems_of(path: str) -> list[str]:
    name = path.removeprefix("runai_registry_async.")
    obj = PACKAGE[name]
    if obj.is_alias:
        obj = obj.final_target
    found = [] if path in DOCUMENTED else [f"{path}: not in docs/api.md"]
    if obj.docstring is None:
        return [*found, f"{path}: no docstring"]
    if obj.is_function:
        return found + undocumented(path, obj, set())
    if not obj.is_class:
        return found
    own = documented_parameters(obj)
    for member_name, member in obj.all_members.items():
        if member_name.startswith("_") and member_name != "__init__":
            continue
        target = member.final_target if member.is_alias else member
        if target.is_function:
            if member_name == "__init__":
                # The class's docstring documents its constructor (as mkdocstrings
                # shows it, merged into the class).
                # (An inherited one: the class that defines it documents it.)
                known = own | documented_parameters(target.parent)
                found += undocumented(f"{path}.__init__", target, known, own_docstring=False)
            else:
                found += undocumented(f"{path}.{member_name}", target, own)
    return found


@pytest.mark.parametrize(
    "path", [p for p in public_names() if p.rsplit(".", 1)[1] not in NOT_OBJECTS]
)
def test_every_public_name_is_documented_with_every_parameter(path: str) -> None:
    assert problems_of(path) == []


def test_no_docstring_uses_a_sphinx_role() -> None:
    # mkdocstrings shows ":meth:`x`" as it is: a reference uses ``x`` instead.
    roles = re.compile(r":(?:meth|class|func|attr|data|mod|exc):`")
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / "runai_registry_async").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if roles.search(line)
    ]
    assert found == []
