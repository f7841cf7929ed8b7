"""Builds a client's request pipeline from its arguments, checking each one first."""

from __future__ import annotations

import ssl as ssl_module
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import aiohttp

from .._secrets import Secret
from ._auth import Auth, auth_flow
from ._coalescing import SharedGets
from ._deadline import checked_timeout
from ._limiter import RateLimiter
from ._ratelimit import Pacer
from ._request import Counters, Settings
from ._requester import Requester
from ._retry import NO_RETRY, RetryBudget, RetryPolicy
from ._telemetry import Telemetry
from ._transport import Transport
from ._urls import checked_base_url

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from ..events import EventHook


def build_requester(
    base_url: str,
    *,
    secret_token: Secret[str] | None,
    auth: Auth | None,
    session: aiohttp.ClientSession | None,
    timeout: float,
    retry: RetryPolicy | None,
    ssl: ssl_module.SSLContext | None,
    allow_insecure_http: bool,
    max_connections: int,
    max_response_bytes: int,
    max_item_bytes: int,
    coalesce: bool,
    cache_ttl: float | None,
    proxy: str | None,
    trust_env: bool,
    max_per_second: float | None,
    burst: int | None,
    adaptive_rate: bool,
    headers: Mapping[str, str] | None,
    event_hooks: Iterable[EventHook] | None,
    tracer_provider: TracerProvider | None,
    meter_provider: MeterProvider | None,
    propagate_context: bool,
) -> Requester:
    """The pipeline of a ``RegistryClient`` (its arguments are documented there); a
    bad argument raises ``ValueError`` before anything is opened."""
    if secret_token is None and auth is None and session is None:
        # Every call would fail with a 401, long after the mistake.
        raise ValueError(
            "no credentials: pass token= or auth= (a server that needs none: borrow "
            "a session= whose requests it accepts)"
        )
    if ssl is not None and not isinstance(ssl, ssl_module.SSLContext):
        raise ValueError("ssl must be an ssl.SSLContext")
    if max_connections < 1:
        raise ValueError("max_connections must be at least 1")
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ValueError("retry must be a RetryPolicy or None")
    _check_size(max_response_bytes, "max_response_bytes")
    _check_size(max_item_bytes, "max_item_bytes")
    if cache_ttl is not None:
        checked_timeout(cache_ttl, "cache_ttl")
    if max_per_second is not None:
        RateLimiter(max_per_second, 1 if burst is None else burst)  # checks both
    transport = Transport(
        checked_base_url(base_url, allow_insecure_http=allow_insecure_http),
        session=session,
        ssl=ssl,
        max_connections=max_connections,
        max_response_bytes=max_response_bytes,
        proxy=proxy,
        trust_env=trust_env,
        allow_insecure_http=allow_insecure_http,
        headers=headers,
    )
    telemetry = Telemetry.build(
        transport.base_url,
        hooks=event_hooks,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        propagate_context=bool(propagate_context),
    )
    settings = Settings(
        timeout=checked_timeout(timeout),
        retry=retry or NO_RETRY,
        max_item_bytes=max_item_bytes,
        base_path=transport.base_path,
    )
    counters, budget = Counters(), RetryBudget()
    pacer = Pacer(
        max_per_second,
        burst=burst,
        adaptive=bool(adaptive_rate),
        max_pause=settings.retry.max_delay,  # no longer than a retry would wait
    )
    if telemetry is not None and telemetry.otel is not None:
        telemetry.otel.observe_send_rate(pacer)
    return Requester(
        settings,
        transport,
        auth_flow(
            secret_token,
            auth,
            transport,
            timeout=settings.timeout,
            retry=settings.retry,
            budget=budget,
            on_retry=counters.count_retry,
            telemetry=telemetry,
        ),
        counters=counters,
        budget=budget,
        pacer=pacer,
        sharing=SharedGets(coalesce=bool(coalesce), ttl=cache_ttl)
        if coalesce or cache_ttl is not None
        else None,
        telemetry=telemetry,
    )


def _check_size(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
        raise ValueError(f"{name} must be an int of at least 1024 (bytes), got {value!r}")
