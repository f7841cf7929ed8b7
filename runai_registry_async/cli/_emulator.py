"""``runai-registry emulator``: the bundled emulator as a stand-alone service."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shlex
import signal
import ssl
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from .._client import RegistryClient
from ._args import Budget, CommandError, UsageError
from ._output import printable
from ._registries import registry_id

#: The most of an admin answer read: the tags of one repository.
_MAX_ANSWER = 4 * 1024 * 1024


def add_commands(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    emulator = commands.add_parser(
        "emulator",
        help="serve a local Run:ai emulator until Ctrl-C",
        description="Serve the bundled Run:ai emulator (the seven Registry operations and "
        "both token endpoints) until Ctrl-C or SIGTERM. It prints its base URL, a token, "
        "and an application's client id and secret, all made up for this run.",
    )
    emulator.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1")
    emulator.add_argument("--port", type=_port, default=0, help="default: any free port")
    emulator.add_argument(
        "--seed",
        type=_seed,
        metavar="R,P,T",
        help="generate R registries of P repositories of T tags each",
    )
    emulator.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a throwaway CA, whose certificate file it prints "
        "(needs the 'emulator' extra)",
    )
    emulator.add_argument(
        "--env", action="store_true", help="print shell export lines (RUNAI_BASE_URL...) only"
    )
    emulator.set_defaults(handler=None, run=serve)
    actions = emulator.add_subparsers(dest="action", metavar="ACTION")
    push = actions.add_parser(
        "push",
        parents=parents,
        help="add tags to a repository of a running emulator, as pushes would",
        description="Add tags to a repository of the running emulator at RUNAI_BASE_URL "
        "(the repository is created if new), through its admin routes; a 'watch' sees "
        "them at its next poll. Needs the RUNAI_TOKEN the emulator printed.",
    )
    push.add_argument("registry", help="the registry's id or name")
    push.add_argument("repository")
    push.add_argument("tags", nargs="+", metavar="TAG")
    push.set_defaults(handler=push_tags)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return int(text)


def _seed(text: str) -> tuple[int, int, int]:
    parts = text.split(",")
    if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(
            f"must be three counts R,P,T (registries, repositories, tags), got {text!r}"
        )
    r, p, t = (int(part) for part in parts)
    return r, p, t


async def serve(args: argparse.Namespace) -> int:
    from ..testing import RunaiEmulator

    with tempfile.TemporaryDirectory(prefix="runai-emulator-") as workdir:
        ssl_context, ca_file = _tls(Path(workdir)) if args.tls else (None, None)
        emulator = RunaiEmulator(
            token=secrets.token_urlsafe(24),
            client_id="emulator-" + secrets.token_hex(4),
            client_secret=secrets.token_urlsafe(24),
            host=args.host,
            port=args.port,
            ssl_context=ssl_context,
        )
        if args.seed is not None:
            registries, repositories, tags = args.seed
            emulator.seed(registries=registries, repositories=repositories, tags=tags)
        # Handled before the address is printed: a signal sent as soon as it is read
        # must stop the emulator, not kill it.
        with _stopped_by_signals() as stopped:
            async with emulator:
                settings = {
                    "RUNAI_BASE_URL": emulator.base_url,
                    "RUNAI_TOKEN": emulator.token,
                    "RUNAI_CLIENT_ID": emulator.client_id,
                    "RUNAI_CLIENT_SECRET": emulator.client_secret,
                }
                if ca_file is not None:
                    settings["SSL_CERT_FILE"] = str(ca_file)
                _announce(settings, env=args.env)
                await stopped.wait()
    print("runai-registry: emulator stopped", file=sys.stderr)
    return 0


async def push_tags(client: RegistryClient, args: argparse.Namespace) -> None:
    from ..testing._admin import ADMIN_PREFIX

    # The admin routes take a bearer token as it is; client credentials would need a
    # token request of their own for one command.
    if not os.environ.get("RUNAI_TOKEN"):
        raise UsageError("emulator push needs RUNAI_TOKEN, the token the emulator printed")
    budget = Budget(args.deadline)
    asset_id = await registry_id(client, args.registry, budget)
    url = f"{client.base_url}{ADMIN_PREFIX}registries/{asset_id}/tags"
    left = budget.left()
    timeout = aiohttp.ClientTimeout(total=args.timeout if left is None else min(args.timeout, left))
    failure: CommandError | None = None
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            # The same origin as the command's other requests, never a redirect's; the
            # token stays out of every frame local.
            session.post(
                url,
                data=orjson.dumps({"repository": args.repository, "tags": args.tags}),
                headers={
                    "Authorization": "Bearer " + os.environ["RUNAI_TOKEN"],
                    "Content-Type": "application/json",
                },
                allow_redirects=False,
            ) as response,
        ):
            raw = await response.content.read(_MAX_ANSWER)
            status = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        failure = CommandError(f"POST {url}: {type(exc).__name__}")
    if failure is not None:
        raise failure
    answer = _json_object(raw)
    if status != 200:
        message = answer.get("message") if answer is not None else None
        raise CommandError(
            f"the emulator refused the push ({status}"
            + (f": {printable(str(message))})" if message else ")")
            + ("; is RUNAI_BASE_URL an emulator?" if status in (404, 405) else "")
        )
    if answer is None or not isinstance(answer.get("tags"), list):
        raise CommandError("the emulator's answer is not what a push returns")
    if args.json:
        print(orjson.dumps(answer).decode())
    else:
        print(f"{args.repository}: {len(args.tags)} pushed, {len(answer['tags'])} tags in all")


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _tls(workdir: Path) -> tuple[ssl.SSLContext, Path]:
    try:
        import trustme
    except ImportError:
        raise UsageError(
            "--tls needs trustme: pip install 'runai-registry-async[emulator]'"
        ) from None
    authority = trustme.CA()
    ca_file = workdir / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost", "::1").configure_cert(context)
    return context, ca_file


def _announce(settings: dict[str, str], *, env: bool) -> None:
    if env:
        for name, value in settings.items():
            print(f"export {name}={shlex.quote(value)}")
    else:
        print(f"Run:ai emulator at {settings['RUNAI_BASE_URL']} (Ctrl-C stops it)")
        print(f"  token          {settings['RUNAI_TOKEN']}")
        print(f"  client id      {settings['RUNAI_CLIENT_ID']}")
        print(f"  client secret  {settings['RUNAI_CLIENT_SECRET']}")
        if "SSL_CERT_FILE" in settings:
            print(f"  CA certificate {settings['SSL_CERT_FILE']}")
    sys.stdout.flush()


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[asyncio.Event]:
    """An event that Ctrl-C or SIGTERM sets: both are the normal way to stop a service."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    try:
        yield stopped
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
