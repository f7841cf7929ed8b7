"""``runai-registry``: the Registry API from the command line.

Secrets come from the environment (RUNAI_TOKEN, RUNAI_CLIENT_SECRET) or, for a
registry's password, from stdin or a prompt: never from argv, where any user of the
machine could read them in the process list.

Exit status: 0 done; 1 the request failed; 2 a usage error (found before any
request); 3 some results of a crawl, find or latest failed; 130 interrupted; 141
stdout closed early (``... | head``), as a shell reports it for other tools.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from .._client import RegistryClient
from .._errors import RunaiError
from .._http._auth import ClientCredentials
from .._http._retry import RetryPolicy
from .._version import __version__
from . import _crawl, _emulator, _queries, _registries
from ._args import (
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CommandError,
    UsageError,
    add_global_options,
    read_password,
)
from ._output import printable
from ._trace import Tracer

PROG = "runai-registry"

# The client's words for its parameters, and the CLI's for the same thing.
_FLAG_FOR = {
    "pass allow_insecure_http=True": "pass --allow-insecure-http",
    "use token= or auth=": "use RUNAI_TOKEN or client credentials",
    "base_url": "--base-url",
    "project_id": "--project-id",
    "department_id": "--department-id",
}


def _in_flags(message: str) -> str:
    """A library message in the command line's words: its options for its parameters."""
    for words, flag in _FLAG_FOR.items():
        message = message.replace(words, flag)
    return message


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Registry assets of a Run:ai control plane. Credentials come from "
        "RUNAI_TOKEN, or RUNAI_CLIENT_ID (or --client-id) and RUNAI_CLIENT_SECRET.",
        epilog="Global options go before or after the command: "
        "'runai-registry registries list --json' is 'runai-registry --json registries list'. "
        "Exit status: 0 done, 1 failed, 2 usage error, 3 some results failed, "
        "130 interrupted, 141 stdout closed early.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_global_options(parser, after_command=False)
    after = argparse.ArgumentParser(add_help=False)
    add_global_options(after, after_command=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _registries.add_commands(commands, [after])
    _queries.add_commands(commands, [after])
    _crawl.add_commands(commands, [after])
    _emulator.add_commands(commands, [after])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``runai-registry`` console script."""
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "needs_password", False):
            # Before the event loop: a prompt inside it would need two Ctrl-Cs.
            args.password = read_password()
        status = asyncio.run(_run(args))
        sys.stdout.flush()  # here, so that a closed pipe is met inside this try
        return status
    except BrokenPipeError:
        return _stdout_gone()
    except KeyboardInterrupt:
        # On a terminal a progress line or a prompt may hold the cursor: a line of its own.
        print("\ninterrupted" if sys.stderr.isatty() else "interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, ValueError, TypeError) as exc:
        # The library refuses a bad value (ValueError, TypeError) before any request.
        print(f"{PROG}: error: {printable(_in_flags(str(exc)))}", file=sys.stderr)
        return EXIT_USAGE
    except (RunaiError, CommandError, OSError) as exc:
        # A server's message may hold anything, terminal escapes included.
        print(f"{PROG}: error: {printable(str(exc))}", file=sys.stderr)
        return EXIT_ERROR


def _stdout_gone() -> int:
    """The reader of stdout went away (``| head``): no message, as other tools."""
    # Whatever is still buffered would fail again at exit, with a traceback.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_BROKEN_PIPE


async def _run(args: argparse.Namespace) -> int:
    if (
        getattr(args, "handler", None) is None
    ):  # a command that serves or brings its own control plane
        status: int = await args.run(args)
        return status
    async with _client(args) as client:
        return await args.handler(client, args) or 0


def _client(args: argparse.Namespace) -> RegistryClient:
    """The client the options describe; every problem with them is a UsageError."""
    if not args.base_url:
        raise UsageError(
            "no control plane: set RUNAI_BASE_URL or --base-url (or try 'runai-registry demo')"
        )
    token = os.environ.get("RUNAI_TOKEN") or None
    secret = os.environ.get("RUNAI_CLIENT_SECRET") or None
    if token is None and not (args.client_id or secret):
        raise UsageError(
            "no credentials: set RUNAI_TOKEN, or RUNAI_CLIENT_ID (or --client-id) "
            "and RUNAI_CLIENT_SECRET"
        )
    if token is None and not (args.client_id and secret):
        raise UsageError(
            "client credentials need both RUNAI_CLIENT_ID (or --client-id) and RUNAI_CLIENT_SECRET"
        )
    try:
        auth = None if token else ClientCredentials(args.client_id, secret or "")
        return RegistryClient(
            args.base_url,
            token=token,
            auth=auth,
            timeout=args.timeout,
            retry=RetryPolicy(attempts=args.retries + 1),
            max_per_second=args.max_per_second,
            allow_insecure_http=args.allow_insecure_http,
            event_hooks=[Tracer(args.base_url.rstrip("/"))] if args.trace else None,
        )
    except ValueError as exc:
        raise UsageError(_in_flags(str(exc))) from None
