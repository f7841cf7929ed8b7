"""OpenTelemetry: the spans and instruments a client records, and the trace context it
sends. Imported only when ``opentelemetry-api`` is installed (the ``otel`` extra); the
pipeline reaches it through ``_telemetry``, never directly.

Names and attributes follow OpenTelemetry's HTTP client semantic conventions: one
``INTERNAL`` span per operation, one ``CLIENT`` span per HTTP request below it,
``http.client.request.duration`` for each request.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from .._secrets import Secret
from .._version import __version__

SCOPE = "runai_registry_async"

# Reading the global providers costs an environment lookup each: done this often at most.
_RECHECK = 1.0
# The global providers before the application sets its own: no-ops.
_UNCONFIGURED_TRACING = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
_UNCONFIGURED_METRICS: tuple[type, ...] = (metrics.NoOpMeterProvider,)
try:
    from opentelemetry.metrics._internal import _ProxyMeterProvider

    _UNCONFIGURED_METRICS += (_ProxyMeterProvider,)
except ImportError:  # moved: then it counts as configured, which costs time, not data
    pass

# OpenTelemetry's advice for http.client.request.duration.
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)

Attributes = dict[str, Any]


class RateSource(Protocol):
    @property
    def rate(self) -> float: ...


class Otel:
    """A client's tracer and instruments, from the providers given or the global ones
    (no-op until the application configures an SDK)."""

    __slots__ = (
        "tracer",
        "propagates",
        "duration",
        "retries",
        "throttled",
        "token_fetches",
        "server",
        "_meter",
        "_tracer_provider",
        "_meter_provider",
        "_configured",
        "_checked_at",
    )

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None,
        meter_provider: metrics.MeterProvider | None,
        propagate_context: bool,
        server: Attributes,
    ) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._configured = tracer_provider is not None or meter_provider is not None
        self._checked_at = -math.inf
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider=tracer_provider)
        meter = self._meter = metrics.get_meter(SCOPE, __version__, meter_provider=meter_provider)
        self.propagates = propagate_context
        self.server = server  # server.address, server.port, url.scheme
        self.duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.retries = meter.create_counter(
            "runai_registry.client.retries", unit="{retry}", description="Tries retried."
        )
        self.throttled = meter.create_counter(
            "runai_registry.client.throttled",
            unit="{response}",
            description="429 answers, and 503 answers with Retry-After.",
        )
        self.token_fetches = meter.create_counter(
            "runai_registry.client.token_fetches",
            unit="{fetch}",
            description="Bearer tokens fetched (error.type set when the fetch failed).",
        )

    def configured(self) -> bool:
        """Whether an SDK would record anything: a provider was given, or the application
        has set a global one. Until then every span and measure is a no-op, and the
        client skips them all. The application may set one up after the client is built:
        looked for again once a second (a global provider, once set, stays)."""
        if self._configured:
            return True
        now = time.monotonic()
        if now - self._checked_at < _RECHECK:
            return False
        self._checked_at = now
        self._configured = not isinstance(
            trace.get_tracer_provider(), _UNCONFIGURED_TRACING
        ) or not isinstance(metrics.get_meter_provider(), _UNCONFIGURED_METRICS)
        return self._configured

    def observe_send_rate(self, source: RateSource) -> None:
        """Report ``source.rate`` (requests a second, ``inf`` while unlimited) as the
        gauge ``runai_registry.client.send_rate``, for as long as ``source`` lives."""
        _send_rates(self._meter).add(source, self.server)

    def request_attributes(self, method: str, route: str) -> Attributes:
        """What a request's span and its duration share: method, server, URL template."""
        return {"http.request.method": method, **self.server, "url.template": route}

    def operation_span(self, name: str) -> Span:
        """The span of one public operation, below the caller's current span."""
        return self.tracer.start_span(name, kind=SpanKind.INTERNAL)

    def request_span(
        self, parent: Span | None, name: str, attributes: Attributes, *, internal: bool = False
    ) -> Span:
        """The span of one HTTP request (or a token fetch), below ``parent`` when given,
        else below the current span."""
        context = None if parent is None else trace.set_span_in_context(parent)
        kind = SpanKind.INTERNAL if internal else SpanKind.CLIENT
        return self.tracer.start_span(name, context, kind=kind, attributes=attributes)

    def with_trace_context(
        self, span: Span, headers: Secret[Mapping[str, str]]
    ) -> Secret[Mapping[str, str]]:
        """``headers`` plus ``traceparent`` (and ``tracestate``) for ``span``, when it is
        part of a trace and propagation is on; else ``headers`` as they are."""
        if not self.propagates or not span.get_span_context().is_valid:
            return headers
        context: dict[str, str] = {}
        propagate.inject(context, trace.set_span_in_context(span))
        return Secret({**headers.value, **context})

    @staticmethod
    def activate(span: Span) -> object:
        """Make ``span`` the current one; ``deactivate`` with what this returns."""
        return otel_context.attach(trace.set_span_in_context(span))

    @staticmethod
    def deactivate(token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    @staticmethod
    def end(span: Span, error_type: str | None, attributes: Attributes | None = None) -> None:
        """End ``span``, failed with ``error_type`` if it is not None."""
        if attributes:
            span.set_attributes(attributes)
        if error_type is not None:
            span.set_attribute("error.type", error_type)
            span.set_status(Status(StatusCode.ERROR, error_type))
        span.end()

    @staticmethod
    def add_event(span: Span, name: str, attributes: Attributes) -> None:
        span.add_event(name, attributes)


class _SendRates:
    """The send-rate gauge of one meter, fed by every live client that uses the meter
    (an instrument is created once per meter; a client must not keep itself alive by
    being in it). Clients of one server report the lowest of their rates."""

    def __init__(self, meter: metrics.Meter) -> None:
        self._sources: list[tuple[weakref.ref[RateSource], Attributes]] = []
        meter.create_observable_gauge(
            "runai_registry.client.send_rate",
            callbacks=[self._observe],
            unit="{request}/s",
            description="The send rate the client keeps to, found from the server's throttling.",
        )

    def add(self, source: RateSource, server: Attributes) -> None:
        self._sources.append((weakref.ref(source), server))

    def _observe(self, _: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        lowest: dict[tuple[Any, ...], tuple[float, Attributes]] = {}
        live = []
        for ref, server in self._sources:
            source = ref()
            if source is None:
                continue  # its client is gone
            live.append((ref, server))
            value = source.rate
            key = tuple(sorted(server.items()))
            if math.isfinite(value) and (key not in lowest or value < lowest[key][0]):
                lowest[key] = (value, server)
        self._sources = live
        return [metrics.Observation(value, server) for value, server in lowest.values()]


_GAUGES: weakref.WeakKeyDictionary[Any, _SendRates] = weakref.WeakKeyDictionary()


def _send_rates(meter: metrics.Meter) -> _SendRates:
    gauge = _GAUGES.get(meter)
    if gauge is None:
        gauge = _GAUGES[meter] = _SendRates(meter)
    return gauge
