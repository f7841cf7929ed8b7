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
from runai_registry_async import events

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


def defined_names(module: Any) -> set[str]:
    """The classes and module-level names defined anywhere in the package."""
    names = set()
    for member in module.members.values():
        if member.is_alias:
            continue
        if member.is_module:
            names |= defined_names(member)
        elif member.is_class or member.is_attribute:
            names.add(member.name)
    return names


def signature_problems(path: str, function: Any, internal: set[str]) -> list[str]:
    found = []
    for parameter in function.parameters:
        if parameter.name.startswith("_"):  # not the caller's to give
            continue
        shown = f"{parameter.annotation} = {parameter.default}"
        # Undotted names: ``uuid.UUID`` is the standard library's.
        names = set(re.findall(r"(?<![\w.])[A-Za-z_]\w*(?![\w.])", str(parameter.annotation)))
        private = {name for name in names if name.startswith("_")}
        if private or names & (internal | {"EllipsisType"}) or parameter.default == "...":
            found.append(f"{path}({parameter.name}: {shown})")
    return found


def test_no_signature_shows_an_internal_type_or_a_bare_ellipsis() -> None:
    public = {path.rsplit(".", 1)[1] for path in public_names()} | set(events.__all__)
    internal = defined_names(PACKAGE) - public
    found = []
    for path in public_names():
        obj = PACKAGE[path.removeprefix("runai_registry_async.")]
        obj = obj.final_target if obj.is_alias else obj
        if obj.is_function:
            found += signature_problems(path, obj, internal)
        elif obj.is_class:
            for name, member in obj.all_members.items():
                target = member.final_target if member.is_alias else member
                if target.is_function and (not name.startswith("_") or name == "__init__"):
                    found += signature_problems(f"{path}.{name}", target, internal)
    assert found == []


def test_every_operation_has_returns_raises_and_an_example() -> None:
    client = PACKAGE["RegistryClient"]
    operations = [
        name
        for name, member in client.members.items()
        if member.is_function
        and name.startswith(("list_", "get_", "create_", "update_", "delete_", "iter_"))
    ]
    assert len(operations) == 10
    missing = []
    for name in operations:
        # "Example:" (one) parses as an admonition so titled; "Examples:" as a section.
        kinds = {
            "examples" if section.title == "Example" else section.kind.value
            for section in client[name].docstring.parsed
        }
        missing += [
            f"{name}: no {kind}" for kind in ("returns", "raises", "examples") if kind not in kinds
        ]
    assert missing == []
