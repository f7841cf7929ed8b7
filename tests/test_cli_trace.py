"""``--trace``: a line per HTTP request and retry on stderr, through the console script."""

from __future__ import annotations

import re

from runai_registry_async.cli._trace import trace_line
from runai_registry_async.events import (
    RequestFailed,
    RequestSent,
    ResponseReceived,
    RetryScheduled,
    TokenFetched,
)
from runai_registry_async.testing import RunaiEmulator

from .cli import cli

URL = "https://runai.example.com"


async def test_trace_prints_each_attempt_with_its_status_time_and_retry_reason(
    emulator: RunaiEmulator,
) -> None:
    registry = emulator.add_registry("hub")
    emulator.fail_next("get_registry", status=503)
    status, out, err = await cli(emulator, "registries", "get", registry.id, "--trace")
    assert status == 0, err
    assert "hub" in out
    lines = [line for line in err.splitlines() if line.startswith("trace: ")]
    path = f"/api/v1/asset/registries/{registry.id}"
    assert len(lines) == 3, err
    assert re.fullmatch(rf"trace: GET {path} -> 503 in \d+\.\d ms", lines[0])
    assert re.fullmatch(r"trace:   retry 2 in \d\.\d\d s: HTTP 503", lines[1])
    assert re.fullmatch(rf"trace: GET {path} -> 200 in \d+\.\d ms", lines[2])


async def test_without_trace_nothing_is_printed_per_request(emulator: RunaiEmulator) -> None:
    registry = emulator.add_registry("hub")
    status, _, err = await cli(emulator, "registries", "get", registry.id)
    assert status == 0
    assert "trace:" not in err


def test_trace_lines_say_what_each_event_means() -> None:
    common = {"operation": "list_tags", "method": "GET", "url": URL + "/api/x?repository=a"}
    assert trace_line(RequestSent(**common, attempt=1), URL) is None
    assert (
        trace_line(ResponseReceived(**common, attempt=1, status=429, elapsed=0.0123), URL)
        == "GET /api/x?repository=a -> 429 in 12.3 ms"
    )
    assert (
        trace_line(RequestFailed(**common, attempt=2, error="timeout", elapsed=30.0), URL)
        == "GET /api/x?repository=a -> timeout after 30000.0 ms"
    )
    assert (
        trace_line(RetryScheduled(**common, attempt=1, wait=1.5, reason="HTTP 429"), URL)
        == "  retry 2 in 1.50 s: HTTP 429"
    )
    assert (
        trace_line(TokenFetched(operation="token", elapsed=0.004, error="401"), URL)
        == "token -> 401 in 4.0 ms"
    )
