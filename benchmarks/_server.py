"""A lean stand-in for the Run:ai Registry API, for benchmarks: every body precomputed.

Run as its own process (``python benchmarks/_server.py --registries 100 ...``); it prints
``PORT <n>`` on stdout once listening. ``--fault-rate`` makes that share of repository
and tag requests fail at random (half 503, half connection resets), for soak runs.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import uuid

import orjson
from aiohttp import web

TAGS_PATH = "/api/v1/asset/registries/{id}/repositories/tags"


def tag_names(count: int, seed: int = 0, *, short: bool = False) -> list[str]:
    """``count`` tags of 20 to 40 characters, like real image tags (``short``: ``v0000001``)."""
    if short:
        return [f"v{i:07d}" for i in range(count)]
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return [
        f"v{i}.{rng.randrange(100)}-" + "".join(rng.choices(alphabet, k=rng.randrange(14, 30)))
        for i in range(count)
    ][:count]


def registry(index: int, asset_id: str) -> dict[str, object]:
    return {
        "meta": {
            "name": f"registry-{index}",
            "description": f"Benchmark registry number {index}",
            "scope": "tenant",
            "clusterId": str(uuid.UUID(int=index + 1)),
            "autoDelete": False,
            "workloadSupportedTypes": {
                "inference": True,
                "workspace": True,
                "training": True,
                "distributed": False,
                "distFramework": "PyTorch",
            },
            "private": False,
            "id": asset_id,
            "kind": "registry",
            "tenantId": 1001,
            "createdBy": "bench@example.com",
            "createdAt": "2024-05-01T10:20:30.123Z",
            "updatedBy": "bench@example.com",
            "updatedAt": "2024-06-01T10:20:30.456Z",
            "updateCount": index,
        },
        "spec": {
            "url": f"https://registry-{index}.example.com",
            "credentialKind": "password",
            "user": "robot",
            "password": "bench-password",
        },
    }


def build_app(args: argparse.Namespace) -> web.Application:
    ids = [str(uuid.UUID(int=(1 << 64) + i)) for i in range(args.registries)]
    registries_body = orjson.dumps({"entries": [registry(i, rid) for i, rid in enumerate(ids)]})
    repos = [f"team-{p % 7}/app-{p}" for p in range(args.repositories)]
    repos_body = orjson.dumps({"repositories": repos})
    tags = tag_names(args.tags, short=args.short_tags)
    tags_bodies = {repo: orjson.dumps({"name": repo, "tags": tags}) for repo in repos}
    known = set(ids)
    rng = random.Random(1)

    def fault(request: web.Request) -> web.Response | None:
        if args.fault_rate and rng.random() < args.fault_rate:
            if rng.random() < 0.5:
                return web.Response(
                    status=503,
                    body=b'{"code":503,"message":"injected"}',
                    content_type="application/json",
                )
            assert request.transport is not None
            request.transport.abort()
            return web.Response(status=500)
        return None

    async def list_registries(request: web.Request) -> web.Response:
        return web.Response(body=registries_body, content_type="application/json")

    async def list_repositories(request: web.Request) -> web.Response:
        if request.match_info["id"] not in known:
            return web.Response(
                status=404,
                body=b'{"code":404,"message":"no such registry"}',
                content_type="application/json",
            )
        return fault(request) or web.Response(body=repos_body, content_type="application/json")

    async def list_tags(request: web.Request) -> web.Response:
        body = tags_bodies.get(request.query.get("repository", ""))
        if body is None:
            return web.Response(
                status=404,
                body=b'{"code":404,"message":"no such repository"}',
                content_type="application/json",
            )
        return fault(request) or web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v1/asset/registries", list_registries)
    app.router.add_get("/api/v1/asset/registries/{id}/repositories", list_repositories)
    app.router.add_get(TAGS_PATH, list_tags)
    return app


async def serve(args: argparse.Namespace) -> None:
    runner = web.AppRunner(build_app(args), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
    print(f"PORT {runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registries", type=int, default=1)
    parser.add_argument("--repositories", type=int, default=1)
    parser.add_argument("--tags", type=int, default=50)
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--short-tags", action="store_true", help="v0000001, v0000002, ...")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
