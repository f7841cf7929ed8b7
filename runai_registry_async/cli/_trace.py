"""``--trace``: one line per HTTP request on stderr, from the client's event hooks."""

from __future__ import annotations

import sys
from typing import TextIO

from ..events import Event, RequestFailed, ResponseReceived, RetryScheduled, TokenFetched
from ._output import printable


def trace_line(event: Event, base_url: str) -> str | None:
    """What ``--trace`` prints for ``event`` (None: nothing): each answer or failure with
    its time, each retry with its reason and wait, each token fetch."""
    if isinstance(event, ResponseReceived):
        path = event.url.removeprefix(base_url)
        return f"{event.method} {path} -> {event.status} in {_ms(event.elapsed)}"
    if isinstance(event, RequestFailed):
        path = event.url.removeprefix(base_url)
        return f"{event.method} {path} -> {event.error} after {_ms(event.elapsed)}"
    if isinstance(event, RetryScheduled):
        return f"  retry {event.attempt + 1} in {event.wait:.2f} s: {event.reason}"
    if isinstance(event, TokenFetched):
        outcome = "ok" if event.error is None else event.error
        return f"token -> {outcome} in {_ms(event.elapsed)}"
    return None


class Tracer:
    """The hook behind ``--trace``: writes ``trace_line`` to ``stream``."""

    def __init__(self, base_url: str, stream: TextIO | None = None) -> None:
        self.base_url = base_url
        self.stream = stream

    def __call__(self, event: Event) -> None:
        line = trace_line(event, self.base_url)
        if line is not None:
            print(f"trace: {printable(line)}", file=self.stream or sys.stderr, flush=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
