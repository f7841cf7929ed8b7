"""What every command-line group shares: exit codes, option types, global options."""

from __future__ import annotations

import argparse
import getpass
import math
import os
import sys
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from .._tags import TagFilter

EXIT_ERROR = 1
EXIT_USAGE = 2
#: A run in which some result failed (the others were printed).
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports `cmd | head` for other tools


class UsageError(Exception):
    """Wrong or missing input, found before any request: exit 2."""


class CommandError(Exception):
    """The command cannot do what was asked (no such registry, nothing found): exit 1."""


def _number(
    kind: Callable[[str], float], minimum: float, *, strict: bool
) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < minimum or (strict and value == minimum):
            bound = f"more than {minimum:g}" if strict else f"{minimum:g} or more"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text!r}")
        return value

    return parse


def positive(text: str) -> float:
    """A finite float above 0 (seconds, a rate)."""
    return _number(float, 0, strict=True)(text)


def count(text: str) -> int:
    """An int of at least 1 (``--concurrency``, ``--polls``)."""
    return int(_number(int, 1, strict=False)(text))


def zero_or_more(text: str) -> int:
    return int(_number(int, 0, strict=False)(text))


def _global_options() -> list[tuple[str, dict[str, Any]]]:
    """Each global option's flag and add_argument keywords, its default included."""
    return [
        (
            "--base-url",
            {
                "default": os.environ.get("RUNAI_BASE_URL"),
                "help": "control plane URL (default: $RUNAI_BASE_URL)",
            },
        ),
        (
            "--client-id",
            {
                "default": os.environ.get("RUNAI_CLIENT_ID"),
                "help": "application client id (default: $RUNAI_CLIENT_ID; its secret: "
                "$RUNAI_CLIENT_SECRET)",
            },
        ),
        (
            "--timeout",
            {
                "type": positive,
                "default": 30.0,
                "help": "seconds allowed per attempt (default: 30)",
            },
        ),
        (
            "--deadline",
            {
                "type": positive,
                "default": None,
                "help": "seconds allowed for the whole command: token, attempts and waits",
            },
        ),
        (
            "--max-per-second",
            {
                "type": positive,
                "default": None,
                "help": "start at most this many requests a second (default: no limit)",
            },
        ),
        (
            "--retries",
            {
                "type": zero_or_more,
                "default": 3,
                "help": "how many times a failed request is tried again (default: 3; 0: never)",
            },
        ),
        (
            "--allow-insecure-http",
            {
                "action": "store_true",
                "default": False,
                "help": "allow plain http:// to a host that is not loopback",
            },
        ),
        (
            "--json",
            {
                "action": "store_true",
                "default": False,
                "help": "JSON instead of a table or text lines: one document for one answer "
                "(registries, repositories, tags); JSON Lines, a result per line as it "
                "arrives, for the commands that fan out (latest, watch; crawl and find "
                "always print JSON Lines)",
            },
        ),
        (
            "--trace",
            {
                "action": "store_true",
                "default": False,
                "help": "print each HTTP request (status, time) and retry (why, wait) to stderr",
            },
        ),
    ]


def add_global_options(parser: argparse.ArgumentParser, *, after_command: bool) -> None:
    """The options of every command that talks to a control plane.

    They are accepted before the command and after it. After it they default to
    SUPPRESS, so an option given before the command is not reset by the subparser.
    """
    group = parser.add_argument_group("global options (before or after the command)")
    for flag, options in _global_options():
        if after_command:
            options["default"] = argparse.SUPPRESS
        group.add_argument(flag, **options)


class Budget:
    """What is left of ``--deadline`` for a command that makes several calls."""

    def __init__(self, seconds: float | None) -> None:
        self._ends = None if seconds is None else time.monotonic() + seconds

    def left(self) -> float | None:
        if self._ends is None:
            return None
        # A spent budget still passes a positive value: the call then fails as a deadline.
        return max(self._ends - time.monotonic(), 1e-6)


def read_password() -> str:
    """A registry password from the terminal (not echoed) or the first line of stdin.

    Read before the event loop starts, so that Ctrl-C stops the prompt at once (exit
    130); Ctrl-D at the prompt ends the command (exit 1)."""
    if sys.stdin.isatty():
        try:
            password = getpass.getpass("Registry password: ")
        except EOFError:
            print(file=sys.stderr)
            raise CommandError("no password given (end of input at the prompt)") from None
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError("a registry password is required (on stdin, or typed at the prompt)")
    return password


def registry_url(text: str) -> str:
    """A registry's base URL: ``https://host[:port][/path]`` (or ``http://``), or a bare
    ``host.domain[:port][/path]`` as registries are often written (``docker.io``)."""
    url = text if "://" in text else "https://" + text
    try:
        parsed = urllib.parse.urlsplit(url)
        parsed.port  # noqa: B018 - raises for a bad port
    except ValueError:
        parsed = None
    host = parsed.hostname if parsed is not None else None
    if (
        parsed is None
        or parsed.scheme not in ("http", "https")
        or not host
        or any(c.isspace() for c in text)
        or ("://" not in text and "." not in host and host != "localhost" and not parsed.port)
    ):
        raise argparse.ArgumentTypeError(
            f"not a registry URL: {text!r} (like https://registry.example.com or docker.io)"
        )
    return text


def tag_filter(include: list[str], exclude: list[str]) -> TagFilter:
    """The TagFilter of repeatable --include/--tag and --exclude globs."""
    return TagFilter(include=tuple(include), exclude=tuple(exclude))
