"""An in-memory emulator of the Run:ai Registry API and token endpoints, on aiohttp.web.

This module is the HTTP face; the data lives in ``_store``, the faults in ``_faults``
and the token endpoints' logic in ``_tokens``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import ssl
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from attrs import define

from ._admin import ADMIN_PREFIX, add_admin_routes
from ._faults import Fault, FaultPlan
from ._store import UUID, RegistryStore, StoredRegistry, invalid_body
from ._tokens import TokenIssuer

if TYPE_CHECKING:
    from typing_extensions import Self

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
logger = logging.getLogger("runai_registry_async.testing")


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
    #: The ``User-Agent`` and W3C ``traceparent`` headers it carried, if any.
    user_agent: str | None = None
    traceparent: str | None = None


def _error(status: int, message: str, details: str | None = None) -> web.Response:
    body: dict[str, Any] = {"code": status, "message": message}
    if details:
        body["details"] = details
    return _json(body, status)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


class RunaiEmulator(RegistryStore, FaultPlan):
    """The seven Registry operations and ``POST /api/v{1,2}/token``, in memory.

    Faithful to the spec: camelCase bodies, 201 on create, 204 on delete, 400 with an
    Error body for invalid bodies, 401 without a valid bearer token, 404 for unknown
    ids, 409 for a duplicate name, server-set read-only fields. The token endpoints
    answer as the 2.24 control plane does (see ``_tokens``), so the official SDK logs in.

    Data: ``add_registry``, ``add_repository``, ``push_tags``,
    ``delete_tags``, ``seed``; change ``registries`` directly as well (no
    answer is cached). Faults for
    resilience tests, per operation and optionally per registry: ``fail_next``,
    ``reset_next``, ``flaky``, ``delay``, ``rate_limit``,
    ``expire_tokens``. ``requests`` logs what arrived; ``max_in_flight``
    and ``max_in_flight_per_registry`` record concurrency.

    Args:
        token: The static bearer token it accepts (``emulator.token``).
        client_id: The client id its token endpoints accept.
        client_secret: The client secret its token endpoints accept.
        token_lifetime: The lifetime, in seconds, of the tokens it issues.
        require_auth: Answer 401 to a request without a valid bearer token.
        host: The address to serve on (loopback by default).
        port: The port (0: an ephemeral one; ``base_url`` says which).
        ssl_context: Serve HTTPS with this server context.
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
        RegistryStore.__init__(self)
        FaultPlan.__init__(self)
        self.token = token
        self.client_id = client_id
        self.client_secret = client_secret
        self.require_auth = require_auth
        self._tokens = TokenIssuer(token, client_id, client_secret, token_lifetime)
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self.requests: list[RecordedRequest] = []
        self.record_requests = True
        self.in_flight = 0
        self.max_in_flight = 0
        self._in_flight_by_registry: dict[str, int] = defaultdict(int)
        self.max_in_flight_per_registry: dict[str, int] = defaultdict(int)
        #: Requests whose client went away before the answer (cancelled or reset).
        self.disconnects = 0
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def __repr__(self) -> str:
        return f"<RunaiEmulator {self.base_url or 'stopped'} registries={len(self.registries)}>"

    # --- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _make_app(self) -> web.Application:
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
        add_admin_routes(app, self, self._authorized)
        return app

    async def start(self) -> None:
        """Listen on ``host`` (127.0.0.1) at ``port`` (0: any free one); sets ``base_url``.

        With ``ssl_context`` it serves HTTPS (``base_url`` starts with ``https://``).
        """
        # A client that goes away cancels its handler, as in a real server: a delayed
        # answer nobody waits for does not hold up shutdown.
        self._runner = web.AppRunner(
            self._make_app(), access_log=None, handle_signals=False, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, ssl_context=self._ssl_context)
        await site.start()
        port = self._runner.addresses[0][1]
        scheme = "https" if self._ssl_context is not None else "http"
        # Listening on every address: clients here reach it on loopback.
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(self._host, self._host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        self.base_url = f"{scheme}://{host}:{port}"

    async def close(self) -> None:
        """Stop serving (``async with`` does it on leaving)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- tokens ------------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Make every token issued so far, the static one included, invalid."""
        self._tokens.expire_all()

    @property
    def tokens_issued(self) -> int:
        """How many access tokens the token endpoints have handed out."""
        return self._tokens.issued

    def count(self, operation: str) -> int:
        """How many requests of ``operation`` arrived.

        Args:
            operation: An operation's name, as in ``OPERATIONS`` (``"list_tags"``).
        """
        return sum(1 for r in self.requests if r.operation == operation)

    # --- request handling ------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(ADMIN_PREFIX):
            return await handler(request)  # not part of the API: no record, fault or limit
        route = request.match_info.route
        name = getattr(route.handler, "__name__", "").lstrip("_")
        operation = "token" if name.startswith("token_") else name
        asset_id = request.match_info.get("id")
        authorized = self._authorized(request)
        record = RecordedRequest(
            operation,
            request.method,
            request.path,
            {k: v for k, v in request.query.items()},
            authorized,
            asset_id=asset_id,
            user_agent=request.headers.get("User-Agent"),
            traceparent=request.headers.get("traceparent"),
        )
        if self.record_requests:
            self.requests.append(record)
        self._enter(asset_id)
        try:
            response = await self._serve(request, handler, operation, authorized, asset_id)
        except asyncio.CancelledError:
            self.disconnects += 1
            raise
        finally:
            self._leave(asset_id)
        record.status = response.status
        return response

    async def _serve(
        self,
        request: web.Request,
        handler: Handler,
        operation: str,
        authorized: bool,
        asset_id: str | None,
    ) -> web.StreamResponse:
        delay = self._delay_for(operation)
        if delay:
            await asyncio.sleep(delay)
        fault = self._next_fault(operation, asset_id)
        if fault is not None:
            answer = _faulty_answer(request, fault)
            if answer is not None:
                return answer
        client = request.headers.get("Authorization", "")
        wait = self._rate_limit_wait(client, asset_id)
        response: web.StreamResponse
        if wait is not None:
            response = _error(
                429, "Too many requests", f"at most {self.rate_limit_per_second:g} a second"
            )
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        elif operation != "token" and self.require_auth and not authorized:
            response = _error(401, "Unauthorized", "missing, invalid or expired bearer token")
        else:
            latency = self._upstream_latency_for(operation)
            if latency:
                await asyncio.sleep(latency)
            response = await handler(request)
        if not response.prepared:  # a stream has sent its headers already
            response.headers.update(self._advertised_fields(client, asset_id))
        return response

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and self._tokens.is_valid(header[7:])

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
        if not UUID.fullmatch(asset_id):
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
        registry = self._store_registry(meta, spec, str(uuid.uuid4()))
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
        self._replace_stored(found, body)
        return _json(found.to_json())

    async def _delete_registry(self, request: web.Request) -> web.Response:
        found = self._lookup(request)
        if isinstance(found, web.Response):
            return found
        self._remove_stored(found)
        return web.Response(status=204)

    async def _list_repositories(self, request: web.Request) -> web.Response:
        found = self._lookup(request)
        if isinstance(found, web.Response):
            return found
        body = self._repositories_body(found, request.query.get("searchName"))
        return web.Response(body=body, content_type="application/json")

    async def _list_tags(self, request: web.Request) -> web.Response:
        found = self._lookup(request)
        if isinstance(found, web.Response):
            return found
        repository = request.query.get("repository")
        if not repository:
            return _error(400, "Missing query parameter", "repository is required")
        if repository not in found.repositories:
            return _error(404, "Repository not found", f"no repository {repository!r}")
        body = self._tags_body(found, repository, request.query.get("searchName"))
        return web.Response(body=body, content_type="application/json")

    async def _token_v1(self, request: web.Request) -> web.Response:
        status, answer = self._tokens.answer_v1(await request.read())
        return _json(answer, status)

    async def _token_v2(self, request: web.Request) -> web.Response:
        status, answer = self._tokens.answer_v2(await request.read(), request.content_type)
        response = _json(answer, status)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Basic realm="runai"'
        return response


def _faulty_answer(request: web.Request, fault: Fault) -> web.Response | None:
    """The answer a fault gives instead of the real one (None: serve normally)."""
    if fault.reset:
        assert request.transport is not None
        request.transport.abort()
        return web.Response(status=500)
    if fault.status is None:
        return None
    if fault.body is not None:
        response = web.Response(status=fault.status, body=fault.body)
    else:
        response = _error(fault.status, "injected fault")
    if fault.retry_after is not None:
        response.headers["Retry-After"] = fault.retry_after
    return response


async def _read_valid_body(
    request: web.Request, *, creating: bool
) -> dict[str, Any] | web.Response:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _error(400, "Invalid request body", "body is not JSON")
    if not isinstance(body, dict):
        return _error(400, "Invalid request body", "body must be a JSON object")
    problem = invalid_body(body, creating=creating)
    return body if problem is None else _error(400, "Invalid request body", problem)
