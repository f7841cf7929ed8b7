"""Every default the docs state (README and guide), as a literal, in the code and the docs alike.

Each row reads the value the code uses and states the number the docs promise; a
change to either fails here until both agree.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runai_registry_async import RegistryClient, RetryPolicy, crawl_tags, watch_tags
from runai_registry_async._http import _auth, _jsonstream, _retry, _transport
from runai_registry_async._http._ratelimit import default_burst

ROOT = Path(__file__).resolve().parent.parent
# The README and the guide: what a user reads.
README = "\n".join(
    path.read_text() for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
)
MiB = 1024 * 1024


def default_of(function: Callable[..., Any], name: str) -> Any:
    return inspect.signature(function).parameters[name].default


# (what, the code's value, the promised value, a pattern the README must contain)
DEFAULTS: list[tuple[str, Callable[[], Any], Any, str]] = [
    ("client timeout", lambda: default_of(RegistryClient, "timeout"), 30.0, r"\(default 30 s\)"),
    (
        "retry attempts",
        lambda: RetryPolicy().attempts,
        4,
        r"RetryPolicy\(attempts=4, base_delay=0\.2, max_delay=10\.0, max_elapsed=60\.0\)",
    ),
    ("retry base delay", lambda: RetryPolicy().base_delay, 0.2, r"base_delay=0\.2"),
    ("retry max delay", lambda: RetryPolicy().max_delay, 10.0, r"max_delay=10\.0"),
    ("retry max_elapsed", lambda: RetryPolicy().max_elapsed, 60.0, r"max_elapsed=60\.0"),
    (
        "the client's retry policy",
        lambda: default_of(RegistryClient, "retry"),
        RetryPolicy(),
        r"The defaults are the ones shown above",
    ),
    ("minimum token reuse", lambda: _auth.MIN_TOKEN_REUSE, 5.0, r"at least 5 s whatever"),
    ("token refresh margin", lambda: _auth._REFRESH_MARGIN, 30.0, r"expire \(30 s, or a"),
    (
        "max_response_bytes",
        lambda: default_of(RegistryClient, "max_response_bytes"),
        256 * MiB,
        r"`max_response_bytes`, 256 MiB",
    ),
    (
        "max_item_bytes",
        lambda: default_of(RegistryClient, "max_item_bytes"),
        MiB,
        r"`max_item_bytes`, 1 MiB",
    ),
    ("error bodies read", lambda: _transport._ERROR_BODY_LIMIT, 64 * 1024, r"64 KiB read"),
    ("nesting depth", lambda: _jsonstream.MAX_DEPTH, 64, r"\| 64 levels \|"),
    (
        "max_connections",
        lambda: default_of(RegistryClient, "max_connections"),
        100,
        r"`max_connections` \(default 100\)",
    ),
    (
        "burst",
        lambda: [default_burst(r) for r in (1, 50, 100, 1000)],
        [1, 5, 10, 10],
        r"default: a tenth of a second's worth, 1 to 10",
    ),
    ("retry budget", lambda: _retry.RetryBudget().capacity, 500, r"budget of 500"),
    ("retry cost", lambda: _retry.RetryBudget().retry_cost, 5, r"spends 5 from"),
    ("timeout retry cost", lambda: _retry.RetryBudget().timeout_cost, 10, r"\(10\s+after a"),
    ("crawl concurrency", lambda: default_of(crawl_tags, "concurrency"), 64, r"concurrency=64"),
    ("watch interval", lambda: default_of(watch_tags, "interval"), 60.0, r"every 60 s"),
]


@pytest.mark.parametrize(
    ("what", "actual", "promised", "pattern"), DEFAULTS, ids=[row[0] for row in DEFAULTS]
)
def test_a_documented_default(
    what: str, actual: Callable[[], Any], promised: Any, pattern: str
) -> None:
    assert actual() == promised, f"the code's {what} changed"
    assert re.search(pattern, README), f"the README no longer says the {what} ({pattern})"
