"""What the command line prints: aligned tables, JSON records of crawl results."""

from __future__ import annotations

from typing import Any

from ._crawl import CrawlResult


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    )


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
