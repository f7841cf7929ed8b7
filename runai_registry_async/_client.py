"""``RegistryClient``: the seven Registry operations, plus streaming lists."""

from __future__ import annotations

import ssl as ssl_module
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp

from . import _operations
from ._converter import structure
from ._http import _urls
from ._http._auth import ClientCredentials
from ._http._pipeline import build_requester
from ._http._request import Request
from ._http._retry import USE_CLIENT_DEFAULT, RetryPolicy, UseClientDefault
from ._http._stream import DEFAULT_MAX_ITEM_BYTES, Stream
from ._http._transport import DEFAULT_MAX_RESPONSE_BYTES
from ._models import (
    Registry,
    RegistryCreationRequest,
    RegistryListResponse,
    RegistryUpdateRequest,
    Repositories,
    RepositoryTags,
)
from ._secrets import Secret

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider
    from typing_extensions import Self

    from .events import EventHook

T = TypeVar("T")

_DEFAULT_RETRY = RetryPolicy()


class RegistryClient:
    """An async client for the Registry assets of a Run:ai control plane.

    Use it as ``async with RegistryClient(base_url, token=...) as client:`` (or call
    ``aclose``). It opens its own aiohttp session unless ``session`` is given, and
    never closes a borrowed one.

    Args:
        base_url: The control plane, e.g. ``https://myorg.run.ai``. Plain ``http://`` is
            refused unless the host is loopback or ``allow_insecure_http=True``.
        token: A static bearer token.
        auth: ``ClientCredentials``, or an async callable returning a token (called
            again when the server rejects the token it gave). One of ``token`` and
            ``auth`` is required, unless ``session`` is given.
        session: An aiohttp session to borrow (one that authenticates by itself, with
            its own headers or middleware, needs neither ``token`` nor ``auth``).
        timeout: Seconds allowed per request (connect and total); each method takes a
            ``timeout=`` override. For streams it bounds each wait for data instead.
        retry: The ``RetryPolicy``, or None for no retries.
        ssl: An ``ssl.SSLContext`` (for a private CA); TLS is always verified otherwise.
        allow_insecure_http: Allow ``http://`` to a host that is not loopback.
        max_connections: Size of the owned session's connection pool.
        max_response_bytes: The most a response body may hold, counted after
            decompression (default 256 MiB, about 7 million tags); a longer one raises
            ``DecodeError``. Streams count it too.
        max_item_bytes: The most one streamed item (a tag, a registry) may take
            (default 1 MiB); streams hold at most one chunk plus one item in memory.
        coalesce: Identical GETs in flight at the same moment (the same path, timeout
            and retry policy) share one request; each caller keeps its own deadline.
        proxy: A forward proxy URL (``http://user:pass@proxy:3128``); its credentials
            never show in a repr or an error.
        trust_env: Read the proxy from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY and
            NO_PROXY (as curl, requests and httpx do) when ``proxy`` is not given; nothing
            else is read from the environment (not ``~/.netrc``), and a loopback
            ``base_url`` never takes a proxy from it. A borrowed session keeps its own
            settings. A plain ``http://`` proxy for a plain ``http://`` base URL must be
            loopback unless ``allow_insecure_http=True``: it would read the token.
        max_per_second: Start at most this many requests a second, client-wide (the
            crawl, the streams and plain calls all draw from it), in bursts of at most
            ``burst`` (default: a tenth of a second's worth, 1 to 10): a fixed ceiling,
            for a rate you know.
        burst: The most requests started at once under ``max_per_second``.
        adaptive_rate: Find the rate the server tolerates from its throttling (429, or
            503 with ``Retry-After``) and keep under it, as botocore's adaptive mode
            does; a limit the server advertises in ``RateLimit-Policy`` is kept too.
        headers: Extra headers for every request; ``User-Agent`` (by default
            ``runai-registry-async/<version> aiohttp/<version> python/<version>``) may be
            replaced, ``Authorization`` and the headers the client sets may not.
        event_hooks: Functions called with each ``events``
            event (a request sent, an answer, a retry, throttling, a token, crawl
            progress); one that raises is logged and never breaks the request.
        tracer_provider: The OpenTelemetry tracer provider for the client's spans
            (default: the global one). With ``opentelemetry-api`` installed (the
            ``otel`` extra) every operation is a span, each HTTP request a child span,
            and ``http.client.request.duration`` is recorded; without it, nothing is.
        meter_provider: The OpenTelemetry meter provider (default: the global one).
        propagate_context: Send the W3C ``traceparent`` of each request's span, when
            one is recorded, so the server's trace joins the caller's.
        cache_ttl: Keep ``get_registry``, ``list_repositories`` and ``list_tags``
            results this many seconds (at most 1,024 of them); the client's own create,
            update and delete forget them all. Shared results are the same objects:
            treat them as read-only.

    Other Parameters:
        timeout (float | None): Every method's: seconds for each attempt, or a
            stream's each wait for data (default: the client's ``timeout``).
        deadline (float | None): Every method's: seconds for the whole call (a
            stream: to its end), the token, every attempt and every wait included;
            past it, ``DeadlineExceeded``.
        retry (RetryPolicy | None): Every method's: a ``RetryPolicy`` for this call,
            or None for a single attempt (default: the client's); a stream retries
            until its first item.

    Every method raises ``ValueError`` for a bad argument (an id that is not a UUID)
    before anything is sent; ``ApiError`` for an error status (its subclass names
    it: ``NotFoundError``, ...); ``TransportError`` when no answer came (refused,
    reset, timed out), ``DeadlineExceeded`` past the deadline; ``DecodeError`` for
    an answer that does not match the spec's schema. All are ``RunaiError``, but
    ``ValueError``.
    """

    __slots__ = ("_settings", "_requester", "_defaults")

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        auth: ClientCredentials | Callable[[], Awaitable[str]] | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = _DEFAULT_RETRY,
        ssl: ssl_module.SSLContext | None = None,
        allow_insecure_http: bool = False,
        max_connections: int = 100,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES,
        coalesce: bool = False,
        cache_ttl: float | None = None,
        proxy: str | None = None,
        trust_env: bool = True,
        max_per_second: float | None = None,
        burst: int | None = None,
        adaptive_rate: bool = True,
        headers: Mapping[str, str] | None = None,
        event_hooks: Iterable[EventHook] | None = None,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        propagate_context: bool = True,
    ) -> None:
        # From here on no frame local holds the plain token (a traceback rendered with
        # its locals shows every frame's).
        secret_token = None if token is None else Secret(token)
        del token
        self._requester = requester = build_requester(
            base_url,
            secret_token=secret_token,
            auth=auth,
            session=session,
            timeout=timeout,
            retry=retry,
            ssl=ssl,
            allow_insecure_http=allow_insecure_http,
            max_connections=max_connections,
            max_response_bytes=max_response_bytes,
            max_item_bytes=max_item_bytes,
            coalesce=coalesce,
            cache_ttl=cache_ttl,
            proxy=proxy,
            trust_env=trust_env,
            max_per_second=max_per_second,
            burst=burst,
            adaptive_rate=adaptive_rate,
            headers=headers,
            event_hooks=event_hooks,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            propagate_context=propagate_context,
        )
        self._settings = settings = requester.settings
        # The options of a call that sets none: most calls.
        self._defaults = _operations.Options(settings.timeout, settings.retry, None)

    def __repr__(self) -> str:
        return f"<RegistryClient {self.base_url}>"

    @property
    def base_url(self) -> str:
        """The control plane's URL, as given (without a trailing slash)."""
        return self._requester.transport.base_url

    @property
    def requests_sent(self) -> int:
        """How many HTTP requests the client has sent, retries and token requests included."""
        return self._requester.transport.requests_sent

    @property
    def retries(self) -> int:
        """How many times a request was retried, over the client's life."""
        return self._requester.counters.retries

    @property
    def throttled(self) -> int:
        """How many 429 and 503 answers the client has received."""
        return self._requester.counters.throttled

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the session the client opened (a borrowed one stays open)."""
        await self._requester.transport.close()

    # --- the seven operations -------------------------------------------------------

    async def list_registries(
        self,
        name: str | None = None,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> list[Registry]:
        """All registries, or those whose name matches ``name``.

        Args:
            name: Only the registries of this name (the API's ``?name=`` filter).

        Returns:
            The registries, in the server's order (the API does not paginate).

        Raises:
            RunaiError: As every call (see the class).

        Example:
            ```python
            for registry in await client.list_registries():
                print(registry.meta.id, registry.meta.name, registry.spec.url)
            ```
        """
        options = self._options(timeout, deadline, retry)
        listed = await self._send(_operations.list_registries(self._settings, options, name))
        return listed.entries

    async def create_registry(
        self,
        request: RegistryCreationRequest,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Registry:
        """Create a registry; the answer is the created registry (201).

        Not retried once the request may have reached the server. After a failed create,
        list the registries by name before trying again: a 409 means it already exists.

        Args:
            request: The registry's meta (name, scope, ...) and spec (url, user,
                password); checked when it was built.

        Returns:
            The registry as created, with its id in ``meta.id``.

        Raises:
            ConflictError: A registry of that name exists (409).
            BadRequestError: The server refused the request (400).

        Example:
            ```python
            created = await client.create_registry(
                RegistryCreationRequest(
                    AssetCreationRequest("hub", Scope.TENANT),
                    RegistrySpecRequest("https://index.docker.io", user="u", password=pw),
                )
            )
            ```
        """
        options = self._options(timeout, deadline, retry)
        try:
            return await self._send(_operations.create_registry(self._settings, options, request))
        finally:
            self._requester.forget_shared()

    async def get_registry(
        self,
        asset_id: str | uuid.UUID,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Registry:
        """One registry by id.

        Args:
            asset_id: The registry's id (a UUID, as a string or ``uuid.UUID``).

        Returns:
            The registry.

        Raises:
            NotFoundError: No registry has that id (404).

        Example:
            ```python
            try:
                registry = await client.get_registry(registry_id)
            except NotFoundError:
                registry = None
            ```
        """
        options = self._options(timeout, deadline, retry)
        return await self._send(_operations.get_registry(self._settings, options, asset_id))

    async def update_registry(
        self,
        asset_id: str | uuid.UUID,
        request: RegistryUpdateRequest,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Registry:
        """Replace a registry's name, description and spec (the API wants the whole spec,
        password included); the answer is the result.

        Args:
            asset_id: The registry's id (a UUID, as a string or ``uuid.UUID``).
            request: The new meta and spec.

        Returns:
            The registry as updated.

        Raises:
            NotFoundError: No registry has that id (404).
            ConflictError: Another registry has the new name (409).

        Example:
            ```python
            updated = await client.update_registry(
                registry.meta.id,
                RegistryUpdateRequest(
                    AssetUpdateRequest("hub", description="Docker Hub, read-only"),
                    RegistrySpecRequest("https://index.docker.io", user="u", password=pw),
                ),
            )
            ```
        """
        options = self._options(timeout, deadline, retry)
        try:
            return await self._send(
                _operations.update_registry(self._settings, options, asset_id, request)
            )
        finally:
            self._requester.forget_shared()

    async def delete_registry(
        self,
        asset_id: str | uuid.UUID,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> None:
        """Delete a registry (204).

        Args:
            asset_id: The registry's id (a UUID, as a string or ``uuid.UUID``).

        Returns:
            None, once the server has deleted it.

        Raises:
            NotFoundError: No registry has that id (404), deleted already included.

        Example:
            ```python
            await client.delete_registry(registry.meta.id)
            ```
        """
        options = self._options(timeout, deadline, retry)
        try:
            await self._send(_operations.delete_registry(self._settings, options, asset_id))
        finally:
            self._requester.forget_shared()

    async def list_repositories(
        self,
        asset_id: str | uuid.UUID,
        *,
        search_name: str | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> list[str]:
        """The names of a registry's repositories (Run:ai asks the upstream registry).

        Args:
            asset_id: The registry's id (a UUID, as a string or ``uuid.UUID``).
            search_name: Only the repositories whose name contains this.

        Returns:
            The repositories' names (``library/python``), in the server's order.

        Raises:
            NotFoundError: No registry has that id (404).

        Example:
            ```python
            names = await client.list_repositories(registry_id, search_name="team/")
            ```
        """
        options = self._options(timeout, deadline, retry)
        request = _operations.list_repositories(
            self._settings, options, _urls.registry_path(asset_id), search_name
        )
        return (await self._send(request)).repositories

    async def list_tags(
        self,
        asset_id: str | uuid.UUID,
        repository: str,
        *,
        search_name: str | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> RepositoryTags:
        """The tags of one repository, in the server's order (Run:ai asks the upstream
        registry); ``sort_tags`` orders them by version.

        Args:
            asset_id: The registry's id (a UUID, as a string or ``uuid.UUID``).
            repository: The repository's name, e.g. ``library/python``.
            search_name: Only the tags that contain this.

        Returns:
            The repository's name and its tags (``.tags``, a list of strings).

        Raises:
            NotFoundError: No registry has that id (404).

        Example:
            ```python
            tags = (await client.list_tags(registry_id, "library/python")).tags
            ```
        """
        options = self._options(timeout, deadline, retry)
        return await self._send(
            _operations.list_tags(
                self._settings, options, _urls.registry_path(asset_id), repository, search_name
            )
        )

    # --- streaming ------------------------------------------------------------------

    def iter_registries(
        self,
        name: str | None = None,
        *,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Stream[Registry]:
        """Like ``list_registries``, yielding each registry as soon as it has arrived.

        Args:
            name: Only the registries of this name.

        Returns:
            A ``Stream`` of registries; the request goes out when iteration starts.

        Raises:
            RunaiError: When iterated, as ``list_registries``.

        Example:
            ```python
            async for registry in client.iter_registries():
                print(registry.meta.name)
            ```
        """
        options = self._options(timeout, deadline, retry)
        path = _urls.REGISTRIES + _urls.query(name=name)
        operation = self._settings.operation("GET", path)

        def convert(item: Any, index: int) -> Registry:
            return structure(item, Registry, operation=operation, path=f"$.entries[{index}]")

        return self._stream(
            options, path, "entries", RegistryListResponse, convert, name="iter_registries"
        )

    def iter_repositories(
        self,
        asset_id: str | uuid.UUID,
        *,
        search_name: str | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Stream[str]:
        """Like ``list_repositories``, yielding each name as soon as it has arrived.

        Args:
            asset_id: The registry's id (a UUID, as a string or ``uuid.UUID``).
            search_name: Only the repositories whose name contains this.

        Returns:
            A ``Stream`` of repository names; the request goes out when iteration
            starts.

        Raises:
            RunaiError: When iterated, as ``list_repositories``.

        Example:
            ```python
            async for name in client.iter_repositories(registry_id):
                print(name)
            ```
        """
        options = self._options(timeout, deadline, retry)
        path = _urls.repositories_path(_urls.registry_path(asset_id), search_name)
        return self._stream(
            options, path, "repositories", Repositories, None, name="iter_repositories"
        )

    def iter_tags(
        self,
        asset_id: str | uuid.UUID,
        repository: str,
        *,
        search_name: str | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        retry: RetryPolicy | UseClientDefault | None = USE_CLIENT_DEFAULT,
    ) -> Stream[str]:
        """Like ``list_tags``, yielding each tag as soon as it has arrived.

        Memory stays bounded by one network chunk plus one tag (at most
        ``max_item_bytes``) whatever the number of tags; ``.batches()`` yields lists
        of tags instead, faster for very many short tags (see ``Stream``).
        Leaving the loop early closes the response at once. Retries apply until the
        first tag is yielded; a failure after that raises (``DecodeError`` naming how
        many items were yielded) instead of starting over, which would repeat items.
        A body that ``list_tags`` would reject raises the same ``DecodeError``.

        Args:
            asset_id: The registry's id (a UUID, as a string or ``uuid.UUID``).
            repository: The repository's name.
            search_name: Only the tags that contain this.

        Returns:
            A ``Stream`` of tags; the request goes out when iteration starts.

        Raises:
            RunaiError: When iterated, as ``list_tags``.

        Example:
            ```python
            async for tag in client.iter_tags(registry_id, "team/app"):
                ...
            ```
        """
        options = self._options(timeout, deadline, retry)
        path = _urls.tags_path(_urls.registry_path(asset_id), repository, search_name)
        return self._stream(
            options,
            path,
            "tags",
            RepositoryTags,
            None,
            keep=_NAME,
            naming=_operations.naming(repository),
            name="iter_tags",
        )

    # --- sending ---------------------------------------------------------------------

    def _options(
        self,
        timeout: float | None,
        deadline: float | None,
        retry: RetryPolicy | UseClientDefault | None,
    ) -> _operations.Options:
        if timeout is None and deadline is None and retry is USE_CLIENT_DEFAULT:
            return self._defaults
        return _operations.Options.of(self._settings, timeout, deadline, retry)

    def _send(self, request: Request[T]) -> Awaitable[T]:
        """Send a request built by ``_operations``: every method's way out, and the
        crawler's way in (it builds its own, with a registry path checked once and a
        throttling signal per request)."""
        return self._requester.send(request)

    def _stream(
        self,
        options: _operations.Options,
        path: str,
        key: str,
        envelope: type,
        convert: Callable[[Any, int], Any] | None,
        *,
        name: str,
        keep: frozenset[str] = frozenset(),
        naming: str = "",
    ) -> Stream[Any]:
        """The array under ``key`` of ``GET path`` as a ``Stream``; the request
        goes out when the iteration starts. ``name``: the method's, for telemetry."""
        return self._requester.stream(
            _operations.stream_request(self._settings, options, name, path, naming),
            key,
            envelope=envelope,
            convert=convert,
            max_item_bytes=self._settings.max_item_bytes,
            keep=keep,
            deadline=options.deadline,
        )


_NAME = frozenset({"name"})
