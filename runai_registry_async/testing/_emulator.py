"""An in-memory emulator of the Run:ai Registry API and token endpoint, on aiohttp.web."""

from __future__ import annotations

import asyncio
import math
import random
import re
import ssl
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timezone
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import orjson
from aiohttp import web
from attrs import define, field

from .._ratelimit import RateLimiter

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_SCOPES = {"system", "tenant", "cluster", "department", "project"}
_UPDATABLE_META = {"name", "description"}
_SPEC_FIELDS = {"url", "user", "password", "credentialKind"}
OPERATIONS = (
    "list_registries",
    "create_registry",
    "get_registry",
    "update_registry",
    "delete_registry",
    "list_repositories",
    "list_tags",
    "token",
)


@define
class Fault:
    """What to do to the next matching request instead of (or before) serving it."""

    status: int | None = None
    retry_after: str | None = None
    reset: bool = False
    delay: float = 0.0
    body: bytes | None = None


@define
class RecordedRequest:
    """One request the emulator received."""

    operation: str
    method: str
    path: str
    query: dict[str, str]
    authorized: bool
    status: int = 0
    asset_id: str | None = None


@define
class StoredRegistry:
    """A registry held by the emulator, with its repositories and their tags."""

    id: str
    meta: dict[str, Any]
    spec: dict[str, Any] = field(repr=False)
    repositories: dict[str, list[str]] = field(factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta, "spec": self.spec}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, message: str, details: str | None = None) -> web.Response:
    body: dict[str, Any] = {"code": status, "message": message}
    if details:
        body["details"] = details
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


class RunaiEmulator:
    """The seven Registry operations and ``POST /api/v{1,2}/token``, in memory.

    Faithful to the spec: camelCase bodies, 201 on create, 204 on delete, 400 with an
    Error body for invalid bodies, 401 without a valid bearer token, 404 for unknown
    ids, 409 for a duplicate name, server-set read-only fields.

    Faults for resilience tests: :meth:`fail_next`, :meth:`reset_next`,
    :meth:`delay`, :meth:`expire_tokens`. :attr:`requests` logs what arrived;
    :attr:`max_in_flight` and :attr:`max_in_flight_per_registry` record concurrency.
    """

    def __init__(
        self,
        *,
        token: str = "emulator-token",
        client_id: str = "emulator-client",
        client_secret: str = "emulator-secret",
        token_lifetime: int = 3600,
        require_auth: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.token = token
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.require_auth = require_auth
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._valid_tokens = {token}
        self._issued = 0
        self.registries: dict[str, StoredRegistry] = {}
        self.requests: list[RecordedRequest] = []
        self.record_requests = True
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._delays: dict[str, float] = {}
        self._flaky: dict[str, tuple[float, int, bool, random.Random]] = {}
        self._body_cache: dict[tuple[str, ...], bytes] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self._in_flight_by_registry: dict[str, int] = defaultdict(int)
        self.max_in_flight_per_registry: dict[str, int] = defaultdict(int)
        self.disconnects = 0
        self._rate_limit: tuple[float, int, str] | None = None
        self._limiters: dict[str, RateLimiter] = {}
        #: How many requests the emulator answered with 429 for its rate limit.
        self.rate_limited = 0
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def __repr__(self) -> str:
        return f"<RunaiEmulator {self.base_url or 'stopped'} registries={len(self.registries)}>"

    # --- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> RunaiEmulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        base = "/api/v1/asset/registries"
        app.router.add_get(base, self._list_registries)
        app.router.add_post(base, self._create_registry)
        app.router.add_get(base + "/{id}", self._get_registry)
        app.router.add_put(base + "/{id}", self._update_registry)
        app.router.add_delete(base + "/{id}", self._delete_registry)
        app.router.add_get(base + "/{id}/repositories", self._list_repositories)
        app.router.add_get(base + "/{id}/repositories/tags", self._list_tags)
        app.router.add_post("/api/v1/token", self._token_v1)
        app.router.add_post("/api/v2/token", self._token_v2)
        return app

    async def start(self) -> None:
        """Listen on ``host`` (127.0.0.1) at an ephemeral port; sets :attr:`base_url`.

        With ``ssl_context`` it serves HTTPS (``base_url`` starts with ``https://``).
        """
        # A client that goes away cancels its handler, as in a real server: a delayed
        # answer nobody waits for does not hold up shutdown.
        self._runner = web.AppRunner(
            self.make_app(), access_log=None, handle_signals=False, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._ssl_context)
        await site.start()
        port = self._runner.addresses[0][1]
        scheme = "https" if self._ssl_context is not None else "http"
        self.base_url = f"{scheme}://{self._host}:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- data ------------------------------------------------------------------------------

    def add_registry(
        self,
        name: str,
        *,
        url: str = "https://registry.example.com",
        user: str = "robot",
        password: str = "s3cret-password",
        scope: str = "tenant",
        description: str | None = None,
        asset_id: str | None = None,
    ) -> StoredRegistry:
        """Store a registry as if it had been created; returns it (``.id`` is its id)."""
        meta: dict[str, Any] = {"name": name, "scope": scope}
        if description is not None:
            meta["description"] = description
        spec = {"url": url, "credentialKind": "password", "user": user, "password": password}
        return self._store(meta, spec, asset_id or str(uuid.uuid4()))

    def add_repository(self, asset_id: str, name: str, *, tags: Iterable[str] = ()) -> None:
        """Give a registry a repository with these tags."""
        self.registries[str(asset_id)].repositories[name] = list(tags)
        self._body_cache.clear()

    def seed(
        self,
        *,
        registries: int = 3,
        repositories: int = 10,
        tags: int = 50,
        prefix: str = "demo",
    ) -> list[StoredRegistry]:
        """A generated data set: registries x repositories x tags, with realistic names."""
        teams = ("ml", "infra", "research", "platform", "data")
        apps = ("trainer", "server", "notebook", "etl", "inference", "tokenizer", "eval")
        created = []
        for r in range(registries):
            registry = self.add_registry(
                f"{prefix}-registry-{r}",
                url=f"https://registry-{r}.example.com",
                description=f"Generated registry {r}",
            )
            for p in range(repositories):
                repo = f"{teams[p % len(teams)]}/{apps[p % len(apps)]}-{p}"
                versions = [
                    f"v{t // 100}.{(t // 10) % 10}.{t % 10}-cuda12.{t % 4}" for t in range(tags)
                ]
                self.add_repository(registry.id, repo, tags=versions)
            created.append(registry)
        return created

    def _store(self, meta: dict[str, Any], spec: dict[str, Any], asset_id: str) -> StoredRegistry:
        now = _now()
        full_meta = {
            **meta,
            "id": asset_id,
            "kind": "registry",
            "tenantId": 1001,
            "createdBy": "emulator@example.com",
            "createdAt": now,
            "updatedBy": "emulator@example.com",
            "updatedAt": now,
            "updateCount": 0,
        }
        registry = StoredRegistry(asset_id, full_meta, dict(spec))
        self.registries[asset_id] = registry
        self._body_cache.clear()
        return registry

    # --- faults ----------------------------------------------------------------------------

    def fail_next(
        self,
        operation: str,
        count: int = 1,
        *,
        status: int = 503,
        retry_after: str | None = None,
        body: bytes | None = None,
    ) -> None:
        """Answer the next ``count`` requests of ``operation`` with ``status``."""
        self._add_faults(operation, count, Fault(status=status, retry_after=retry_after, body=body))

    def flaky(
        self, operation: str, rate: float, *, status: int = 503, resets: bool = False, seed: int = 0
    ) -> None:
        """Fail a random share ``rate`` of ``operation``'s requests from now on.

        Failures answer ``status``, or with ``resets=True`` half of them drop the
        connection instead. ``rate=0`` stops it.
        """
        self._check_operation(operation)
        if not 0 <= rate <= 1:
            raise ValueError("rate must be between 0 and 1")
        self._flaky[operation] = (rate, status, resets, random.Random(seed))

    def reset_next(self, operation: str, count: int = 1) -> None:
        """Drop the connection of the next ``count`` requests of ``operation`` unanswered."""
        self._add_faults(operation, count, Fault(reset=True))

    def delay(self, operation: str, seconds: float) -> None:
        """Answer every request of ``operation`` after ``seconds`` (0 to stop)."""
        self._check_operation(operation)
        self._delays[operation] = seconds

    def rate_limit(
        self, per_second: float | None, *, burst: int = 1, scope: str = "client"
    ) -> None:
        """Answer 429 (the spec's Error body, ``Retry-After`` in whole seconds) past
        ``per_second`` requests, with bursts of ``burst``: per bearer token with
        ``scope="client"``, per registry with ``scope="registry"``. None stops it."""
        if scope not in ("client", "registry"):
            raise ValueError("scope must be 'client' or 'registry'")
        if per_second is not None:
            RateLimiter(per_second, burst)  # checks both
        self._rate_limit = None if per_second is None else (per_second, burst, scope)
        self._limiters.clear()

    def expire_tokens(self) -> None:
        """Make every token issued so far, the static one included, invalid."""
        self._valid_tokens.clear()

    def _add_faults(self, operation: str, count: int, fault: Fault) -> None:
        self._check_operation(operation)
        self._faults[operation].extend([fault] * count)

    @staticmethod
    def _check_operation(operation: str) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; one of {', '.join(OPERATIONS)}")

    # --- request handling ------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route
        operation = getattr(route.handler, "__name__", "").lstrip("_").replace("token_v1", "token")
        operation = operation.replace("token_v2", "token")
        asset_id = request.match_info.get("id")
        header = request.headers.get("Authorization", "")
        authorized = header.startswith("Bearer ") and header[7:] in self._valid_tokens
        record = RecordedRequest(
            operation,
            request.method,
            request.path,
            {k: v for k, v in request.query.items()},
            authorized,
            asset_id=asset_id,
        )
        if self.record_requests:
            self.requests.append(record)
        self._enter(asset_id)
        try:
            response = await self._serve(request, handler, operation, authorized)
        except asyncio.CancelledError:
            self.disconnects += 1
            raise
        finally:
            self._leave(asset_id)
        record.status = response.status
        return response

    async def _serve(
        self, request: web.Request, handler: Handler, operation: str, authorized: bool
    ) -> web.StreamResponse:
        delay = self._delays.get(operation, 0.0)
        if delay:
            await asyncio.sleep(delay)
        fault = self._next_fault(operation)
        if fault is not None:
            if fault.reset:
                assert request.transport is not None
                request.transport.abort()
                return web.Response(status=500)
            if fault.status is not None:
                if fault.body is not None:
                    response = web.Response(status=fault.status, body=fault.body)
                else:
                    response = _error(fault.status, "injected fault")
                if fault.retry_after is not None:
                    response.headers["Retry-After"] = fault.retry_after
                return response
        limited = self._over_rate_limit(request)
        if limited is not None:
            return limited
        if operation != "token" and self.require_auth and not authorized:
            return _error(401, "Unauthorized", "missing, invalid or expired bearer token")
        return await handler(request)

    def _over_rate_limit(self, request: web.Request) -> web.Response | None:
        if self._rate_limit is None:
            return None
        per_second, burst, scope = self._rate_limit
        key = (
            request.headers.get("Authorization", "")
            if scope == "client"
            else request.match_info.get("id")
        )
        if key is None:
            return None
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = RateLimiter(per_second, burst)
        wait = limiter.delay()
        if wait <= 0:
            limiter.reserve()
            return None
        self.rate_limited += 1
        response = _error(429, "Too many requests", f"at most {per_second:g} a second")
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response

    def _next_fault(self, operation: str) -> Fault | None:
        faults = self._faults.get(operation)
        if faults:
            return faults.popleft()
        flaky = self._flaky.get(operation)
        if flaky is not None:
            rate, status, resets, rng = flaky
            if rate and rng.random() < rate:
                return Fault(reset=True) if resets and rng.random() < 0.5 else Fault(status=status)
        return None

    def _enter(self, asset_id: str | None) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if asset_id is not None:
            count = self._in_flight_by_registry[asset_id] + 1
            self._in_flight_by_registry[asset_id] = count
            if count > self.max_in_flight_per_registry[asset_id]:
                self.max_in_flight_per_registry[asset_id] = count

    def _leave(self, asset_id: str | None) -> None:
        self.in_flight -= 1
        if asset_id is not None:
            self._in_flight_by_registry[asset_id] -= 1

    def _lookup(self, request: web.Request) -> StoredRegistry | web.Response:
        asset_id = request.match_info["id"]
        if not _UUID.fullmatch(asset_id):
            return _error(400, "Invalid asset id", f"{asset_id!r} is not a UUID")
        registry = self.registries.get(asset_id)
        if registry is None:
            return _error(404, "Registry not found", f"no registry with id {asset_id}")
        return registry

    async def _list_registries(self, request: web.Request) -> web.Response:
        name = request.query.get("name")
        entries = [
            r.to_json() for r in self.registries.values() if name is None or r.meta["name"] == name
        ]
        return _json({"entries": entries})

    async def _get_registry(self, request: web.Request) -> web.Response:
        found = self._lookup(request)
        return found if isinstance(found, web.Response) else _json(found.to_json())

    async def _create_registry(self, request: web.Request) -> web.Response:
        body = await _read_valid_body(request, creating=True)
        if isinstance(body, web.Response):
            return body
        meta, spec = dict(body["meta"]), dict(body["spec"])
        if self._name_taken(meta["name"], None):
            return _error(409, "Registry already exists", f"name {meta['name']!r} is taken")
        spec.setdefault("credentialKind", "password")
        registry = self._store(meta, spec, str(uuid.uuid4()))
        return _json(registry.to_json(), status=201)

    async def _update_registry(self, request: web.Request) -> web.Response:
        found = self._lookup(request)
        if isinstance(found, web.Response):
            return found
        body = await _read_valid_body(request, creating=False)
        if isinstance(body, web.Response):
            return body
        if self._name_taken(body["meta"]["name"], found.id):
            return _error(409, "Registry already exists", "name is taken")
        # Only what an update may change: the rest (id, kind, createdAt...) is the server's.
        found.meta.pop("description", None)
        changed = {k: v for k, v in body["meta"].items() if k in _UPDATABLE_META}
        found.meta.update(
            {
                **changed,
                "updatedAt": _now(),
                "updatedBy": "emulator@example.com",
                "updateCount": found.meta["updateCount"] + 1,
            }
        )
        found.spec = {
            "credentialKind": "password",
            **{k: v for k, v in body["spec"].items() if k in _SPEC_FIELDS},
        }
        self._body_cache.clear()
        return _json(found.to_json())

    async def _delete_registry(self, request: web.Request) -> web.Response:
        found = self._lookup(request)
        if isinstance(found, web.Response):
            return found
        del self.registries[found.id]
        self._body_cache.clear()
        return web.Response(status=204)

    async def _list_repositories(self, request: web.Request) -> web.Response:
        found = self._lookup(request)
        if isinstance(found, web.Response):
            return found
        search = request.query.get("searchName")
        key = ("repos", found.id, search or "")
        body = self._body_cache.get(key)
        if body is None:
            names = [n for n in found.repositories if search is None or search in n]
            body = self._body_cache[key] = orjson.dumps({"repositories": names})
        return web.Response(body=body, content_type="application/json")

    async def _list_tags(self, request: web.Request) -> web.Response:
        found = self._lookup(request)
        if isinstance(found, web.Response):
            return found
        repository = request.query.get("repository")
        if not repository:
            return _error(400, "Missing query parameter", "repository is required")
        tags = found.repositories.get(repository)
        if tags is None:
            return _error(404, "Repository not found", f"no repository {repository!r}")
        search = request.query.get("searchName")
        key = ("tags", found.id, repository, search or "")
        body = self._body_cache.get(key)
        if body is None:
            selected = [t for t in tags if search is None or search in t]
            body = self._body_cache[key] = orjson.dumps({"name": repository, "tags": selected})
        return web.Response(body=body, content_type="application/json")

    def _name_taken(self, name: str, except_id: str | None) -> bool:
        return any(r.meta["name"] == name and r.id != except_id for r in self.registries.values())

    # --- tokens ------------------------------------------------------------------------------

    async def _token_v1(self, request: web.Request) -> web.Response:
        body = await _read_object(request)
        if isinstance(body, web.Response):
            return body
        if body.get("grantType") != "client_credentials":
            return _error(400, "Unsupported grant type")
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            return _error(401, "Invalid client credentials")
        return _json({"accessToken": self._issue(), "expiresIn": self.token_lifetime})

    async def _token_v2(self, request: web.Request) -> web.Response:
        form = parse_qs((await request.read()).decode("utf-8", "replace"))
        fields = {k: v[0] for k, v in form.items()}
        if fields.get("grant_type") != "client_credentials":
            return _error(400, "Unsupported grant type")
        if (
            fields.get("client_id") != self.client_id
            or fields.get("client_secret") != self.client_secret
        ):
            return _error(401, "Invalid client credentials")
        return _json(
            {
                "access_token": self._issue(),
                "expires_in": self.token_lifetime,
                "token_type": "Bearer",
            }
        )

    def _issue(self) -> str:
        self._issued += 1
        token = f"issued-{self._issued}-{uuid.uuid4().hex[:8]}"
        self._valid_tokens.add(token)
        return token

    @property
    def tokens_issued(self) -> int:
        """How many tokens the token endpoints have handed out."""
        return self._issued

    def count(self, operation: str) -> int:
        """How many requests of ``operation`` arrived."""
        return sum(1 for r in self.requests if r.operation == operation)


async def _read_object(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _error(400, "Invalid request body", "body is not JSON")
    if not isinstance(body, dict):
        return _error(400, "Invalid request body", "body must be a JSON object")
    return body


async def _read_valid_body(
    request: web.Request, *, creating: bool
) -> dict[str, Any] | web.Response:
    body = await _read_object(request)
    if isinstance(body, web.Response):
        return body
    problem = _validate(body, creating=creating)
    return body if problem is None else _error(400, "Invalid request body", problem)


def _validate(body: dict[str, Any], *, creating: bool) -> str | None:
    """What is wrong with a create/update body, or None; values are never echoed."""
    meta, spec = body.get("meta"), body.get("spec")
    if not isinstance(meta, dict):
        return "meta is required"
    if not isinstance(spec, dict):
        return "spec is required"
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return "meta.name is required and must not be empty"
    description = meta.get("description")
    if description is not None and (
        not isinstance(description, str) or not 1 <= len(description) <= 250
    ):
        return "meta.description must be 1 to 250 characters"
    scope = meta.get("scope")
    if creating and (not isinstance(scope, str) or scope not in _SCOPES):
        return "meta.scope must be one of " + ", ".join(sorted(_SCOPES))
    for key in ("url", "user", "password"):
        value = spec.get(key)
        if not isinstance(value, str) or not value:
            return f"spec.{key} is required and must not be empty"
    if spec.get("credentialKind", "password") != "password":
        return "spec.credentialKind must be 'password'"
    return None
