"""What the command line prints: tables that fit the terminal, JSON and JSON Lines."""

from __future__ import annotations

import re
import shutil
import sys
from typing import Any

import orjson

from .._converter import converter
from .._crawl_results import CrawlResult
from .._models import Registry

GAP = 2
ELLIPSIS = "…"


def fit_widths(
    widths: list[int], limit: int, *, gap: int = GAP, whole: frozenset[int] = frozenset()
) -> list[int]:
    """Column widths whose row (with ``gap`` between columns) fits in ``limit``.

    Only the widest columns give way, all to one common cap, so a narrow column (a
    scope) stays whole; the columns in ``whole`` (an id a user copies) are never cut,
    even if the row then overflows. No column goes below one character.
    """
    room = limit - gap * (len(widths) - 1) - sum(widths[i] for i in whole)
    others = [w for i, w in enumerate(widths) if i not in whole]
    if sum(others) <= room:
        return list(widths)
    low, high = 1, max(others, default=1)  # the largest cap that fits, by bisection
    while low < high:
        cap = (low + high + 1) // 2
        if sum(min(w, cap) for w in others) <= room:
            low = cap
        else:
            high = cap - 1
    return [w if i in whole else min(w, low) for i, w in enumerate(widths)]


# C0 and C1 controls, DEL, and the bidirectional overrides that reorder what is shown.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe for a terminal: every control character shown as an escape
    (``\\x1b``), as ``ls`` and ``git`` do, so a name from a server cannot move the
    cursor, retitle the window or hide what follows."""
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


def clip(cell: str, width: int) -> str:
    """``cell`` in at most ``width`` characters, an ellipsis marking a cut."""
    return cell if len(cell) <= width else cell[: width - 1] + ELLIPSIS


def table(
    headers: list[str],
    rows: list[list[str]],
    *,
    width: int | None = None,
    whole: frozenset[int] = frozenset(),
) -> str:
    """Aligned columns; with ``width``, cut to fit it (but the ``whole`` columns)."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    if width is not None:
        widths = fit_widths(widths, width, whole=whole)
    return "\n".join(
        "  ".join(clip(cell, w).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    )


def print_table(
    headers: list[str], rows: list[list[str]], *, whole: frozenset[int] = frozenset()
) -> None:
    """A table on stdout, fitted to the terminal when stdout is one (whole when piped),
    never cutting the ``whole`` columns."""
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    print(table(headers, rows, width=width, whole=whole))


def write_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def write_json_line(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data).decode() + "\n")


def result_json(result: CrawlResult) -> dict[str, Any]:
    """One JSON Lines record of a crawl result (crawl and find print the same)."""
    data: dict[str, Any] = {
        "registryId": result.registry_id,
        "registryName": result.registry_name,
        "repository": result.repository,
        "tags": result.tags,
    }
    if result.error is not None:
        data["error"] = str(result.error)
        data["errorType"] = type(result.error).__name__
        data["status"] = getattr(result.error, "status", None)
        data["attempts"] = result.error.attempts
    return data


def registry_json(registry: Registry) -> dict[str, Any]:
    data: dict[str, Any] = converter.unstructure(registry)
    if data["spec"].get("password") is not None:
        data["spec"]["password"] = "***"
    return data


def print_registries(registries: list[Registry], as_json: bool, *, single: bool = False) -> None:
    if as_json:
        items = [registry_json(r) for r in registries]
        write_json(items[0] if single else items)
        return
    rows = [
        [
            r.meta.id,
            r.meta.name,
            r.meta.scope.value,
            r.spec.url,
            r.spec.user,
            r.meta.updated_at.isoformat(timespec="seconds"),
        ]
        for r in registries
    ]
    # The id whole: it is what a user copies into the next command.
    print_table(["ID", "NAME", "SCOPE", "URL", "USER", "UPDATED"], rows, whole=_ID_COLUMN)


_ID_COLUMN = frozenset({0})


def print_names(names: list[str], header: str, as_json: bool, *, key: str) -> None:
    if as_json:
        write_json({key: names})
    else:
        print_table([header], [[n] for n in names])
