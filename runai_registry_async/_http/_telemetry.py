"""What the pipeline tells the outside: event hooks, and OpenTelemetry when installed.

The pipeline reports moments (a call began, a request went out, an answer came, a retry
is due, a wait, a token) to one ``Telemetry``; this module turns each into the
hook events of ``runai_registry_async.events`` and, through ``_otel``, into spans,
span events and metrics. A client with no hooks and without ``opentelemetry-api``
has no ``Telemetry`` at all, and the pipeline skips every report.

Nothing here sees a secret: URLs are built from the base URL (which may not carry
credentials) and the request's path; headers are handed through, never read.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from yarl import URL

from ..events import (
    CrawlProgress,
    Event,
    EventHook,
    TokenFetched,
)
from ._call_telemetry import Call, error_type

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from ._otel import Otel
    from ._request import Request

R = TypeVar("R")
log = logging.getLogger("runai_registry_async")


def checked_hooks(hooks: Iterable[EventHook] | None) -> tuple[EventHook, ...]:
    """The hooks, refused now if one cannot be called as a hook."""
    if hooks is None:
        return ()
    if callable(hooks) or isinstance(hooks, (str, bytes)):
        raise ValueError("event_hooks must be a list of functions, not a single one")
    checked = tuple(hooks)
    for hook in checked:
        if not callable(hook):
            raise ValueError(f"each event hook must be callable, not {type(hook).__name__}")
        if inspect.iscoroutinefunction(hook):
            raise ValueError(
                "event hooks are called synchronously, on the event loop; an async hook "
                "would never run: schedule async work from a plain function instead "
                "(asyncio.create_task)"
            )
    return checked


class Telemetry:
    """One client's event hooks and OpenTelemetry instruments."""

    __slots__ = ("hooks", "otel", "base_url", "_failed_hooks")

    def __init__(self, hooks: tuple[EventHook, ...], otel: Otel | None, base_url: str) -> None:
        self.hooks = hooks
        self.otel = otel
        self.base_url = base_url
        self._failed_hooks: set[int] = set()

    @classmethod
    def build(
        cls,
        base_url: str,
        *,
        hooks: Iterable[EventHook] | None,
        tracer_provider: TracerProvider | None,
        meter_provider: MeterProvider | None,
        propagate_context: bool,
    ) -> Telemetry | None:
        """A client's telemetry, or None when it has nothing to report to."""
        checked = checked_hooks(hooks)
        otel = _otel_for(base_url, tracer_provider, meter_provider, propagate_context)
        if otel is None and (tracer_provider is not None or meter_provider is not None):
            raise ValueError(
                "tracer_provider and meter_provider need opentelemetry-api: "
                "pip install 'runai-registry-async[otel]'"
            )
        if otel is None and not checked:
            return None
        return cls(checked, otel, base_url)

    def emit(self, event: Event) -> None:
        """Call every hook with ``event``; a hook that raises is logged (with its
        traceback, the first time) and the request goes on."""
        for hook in self.hooks:
            try:
                hook(event)
            except Exception:
                first = id(hook) not in self._failed_hooks
                self._failed_hooks.add(id(hook))
                log.warning(
                    "event hook %r raised on %s", hook, type(event).__name__, exc_info=first
                )

    def listening(self) -> bool:
        """Whether anybody hears a report now: a hook, or a configured OpenTelemetry SDK."""
        return bool(self.hooks) or (self.otel is not None and self.otel.configured())

    def call(self, request: Request[Any]) -> Call | None:
        """The telemetry of one call, from its start to ``Call.end``; None when
        nobody is ``listening``."""
        return Call(self, request) if self.listening() else None

    def fetching_token(
        self, fetch: Callable[[], Awaitable[R]], *, url: str | None
    ) -> Callable[[], Awaitable[R]]:
        """``fetch`` (a token fetch, retries included) reported as one span, a
        ``TokenFetched`` event and a count. ``url``: the token endpoint, if HTTP."""

        async def fetch_reported() -> R:
            otel, span = self.otel, None
            if otel is not None:
                if url is None:  # an auth= callable: no HTTP request of ours
                    span = otel.request_span(None, "token", {}, internal=True)
                else:
                    route = URL(url).path
                    attributes = {**otel.request_attributes("POST", route), "url.full": url}
                    span = otel.request_span(None, f"POST {route}", attributes)
            started = time.perf_counter()
            error: str | None = None
            try:
                return await fetch()
            except BaseException as exc:
                error = error_type(exc)
                raise
            finally:
                if otel is not None and span is not None:
                    otel.end(span, error)
                    otel.token_fetches.add(1, {"error.type": error} if error else {})
                self.emit(
                    TokenFetched(
                        operation="token", elapsed=time.perf_counter() - started, error=error
                    )
                )

        return fetch_reported

    def crawl_context(self) -> tuple[contextvars.Context | None, CrawlTrace | None]:
        """A context for a crawl's tasks, where the crawl's span is the current one (so
        each request of the crawl is a child of it), and the crawl's own telemetry;
        (None, None) when there is nobody to tell."""
        if not self.listening():
            return None, None
        crawl = CrawlTrace(self)
        context = contextvars.copy_context()
        if crawl.span is not None and self.otel is not None:
            context.run(self.otel.activate, crawl.span)
        return context, crawl


class CrawlTrace:
    """A crawl's span (its counts set at the end) and its progress events."""

    __slots__ = ("telemetry", "span")

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry
        otel = telemetry.otel
        self.span: Span | None = None if otel is None else otel.operation_span("crawl_tags")

    def progress(self, stats: Any) -> None:
        if not self.telemetry.hooks:
            return
        self.telemetry.emit(
            CrawlProgress(
                registries=stats.registries,
                repositories_found=stats.repositories_found,
                repositories_done=stats.repositories_done,
                tags=stats.tags,
                errors=stats.errors,
                requests=stats.requests,
                elapsed=stats.elapsed,
            )
        )

    def end(self, stats: Any, exc: BaseException | None) -> None:
        otel = self.telemetry.otel
        if otel is None or self.span is None:
            return
        counts = {
            "runai_registry.crawl.registries": stats.registries,
            "runai_registry.crawl.repositories": stats.repositories,
            "runai_registry.crawl.tags": stats.tags,
            "runai_registry.crawl.errors": stats.errors,
            "runai_registry.crawl.requests": stats.requests,
            "runai_registry.crawl.retries": stats.retries,
            "runai_registry.crawl.throttled": stats.throttled,
        }
        otel.end(self.span, None if exc is None else error_type(exc), counts)
        self.span = None


def _otel_for(
    base_url: str,
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
    propagate_context: bool,
) -> Otel | None:
    try:
        from ._otel import Otel
    except ImportError:
        return None
    url = URL(base_url)
    server: dict[str, Any] = {"server.address": url.host or "", "url.scheme": url.scheme}
    if url.port is not None:
        server["server.port"] = url.port
    return Otel(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        propagate_context=propagate_context,
        server=server,
    )
