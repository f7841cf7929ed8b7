"""Running an attack in a child process whose address space is capped.

A regression of a memory bound must fail its test, not take the machine down: the
child gets ``RLIMIT_AS`` and a wall-clock limit, and reports what it measured as JSON
on its last line of output.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import orjson

_PRELUDE = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
"""


def run_bounded(script: str, *, address_space_mib: int = 1536, timeout: float = 60) -> Any:
    """Run ``script`` (Python source) in a child capped at ``address_space_mib`` of
    address space; return the JSON it printed last. A child that dies (a MemoryError,
    a crash, the time limit) fails the calling test with its output."""
    limit = address_space_mib * 1024 * 1024
    source = _PRELUDE.format(limit=limit) + textwrap.dedent(script)
    try:
        completed = subprocess.run(
            [sys.executable, "-"],
            input=source,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the child ran past its time limit of {timeout} s") from None
    assert completed.returncode == 0, (
        f"the child failed ({completed.returncode}):\n{completed.stderr[-4000:]}"
    )
    return orjson.loads(completed.stdout.strip().splitlines()[-1])


#: Serves one body on 127.0.0.1 in the child and runs ``coroutine(client)`` against it,
#: measuring the peak of Python allocations (tracemalloc) during the call.
SERVE_AND_MEASURE = """
import asyncio, gzip, tracemalloc, orjson
from aiohttp import web
from runai_registry_async import RegistryClient, RunaiError

async def serve_and_measure(body, call, *, status=200, gzipped=False):
    async def handler(request):
        headers = {"Content-Type": "application/json"}
        data = body
        if gzipped:
            data = gzip.compress(body, 9)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=data, status=status, headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with RegistryClient(f"http://127.0.0.1:{port}", token="t", retry=None) as client:
            tracemalloc.start()
            try:
                await call(client)
                outcome = "no error"
            except RunaiError as exc:
                outcome = type(exc).__name__ + ": " + str(exc)[:300]
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    finally:
        await runner.cleanup()
    print(orjson.dumps({"outcome": outcome, "peak_mib": peak / 2**20}).decode())
"""
