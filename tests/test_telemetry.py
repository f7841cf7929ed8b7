"""OpenTelemetry, through the real SDK (in-memory exporter and metric reader), against the
emulator: the spans, span events and metrics each call leaves, and the trace context
it sends. Event hooks: tests/test_events.py."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from runai_registry_async import ClientCredentials, RegistryClient, RetryPolicy, crawl_tags
from runai_registry_async.testing import RunaiEmulator

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)
TAGS_ROUTE = "/api/v1/asset/registries/{AssetId}/repositories/tags"


class Telemetry:
    """An SDK of its own per test (the global providers stay untouched)."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def client(self, url: str, **kwargs: Any) -> RegistryClient:
        kwargs.setdefault("token", "emulator-token")
        return RegistryClient(
            url,
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            **kwargs,
        )

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        found = list(self.exporter.get_finished_spans())
        return [s for s in found if name is None or s.name == name]

    def metrics(self) -> dict[str, list[Any]]:
        """Each metric's data points, by name."""
        data = self.reader.get_metrics_data()
        points: dict[str, list[Any]] = {}
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points.setdefault(metric.name, []).extend(metric.data.data_points)
        return points


@pytest.fixture
def otel() -> Iterator[Telemetry]:
    telemetry = Telemetry()
    yield telemetry
    telemetry.tracer_provider.shutdown()
    telemetry.meter_provider.shutdown()


@pytest.fixture
def registry_id(emulator: RunaiEmulator) -> str:
    registry = emulator.add_registry("hub", password="registry-password-42")
    emulator.add_repository(registry.id, "team/app", tags=["1.0", "1.1"])
    return registry.id


async def test_a_503_then_a_200_is_one_operation_span_with_two_request_spans(
    emulator: RunaiEmulator, registry_id: str, otel: Telemetry
) -> None:
    emulator.fail_next("list_tags", status=503)
    async with otel.client(emulator.base_url, retry=FAST) as client:
        assert (await client.list_tags(registry_id, "team/app")).tags == ["1.0", "1.1"]

    (operation,) = otel.spans("list_tags")
    assert operation.kind is SpanKind.INTERNAL
    assert operation.status.status_code is not StatusCode.ERROR
    requests = otel.spans(f"GET {TAGS_ROUTE}")
    assert [s.kind for s in requests] == [SpanKind.CLIENT, SpanKind.CLIENT]
    assert all(s.parent is not None for s in requests)
    assert {s.parent.span_id for s in requests if s.parent} == {operation.context.span_id}
    first, second = sorted(requests, key=lambda s: s.start_time or 0)
    assert first.attributes is not None
    assert second.attributes is not None
    assert first.attributes["http.response.status_code"] == 503
    assert first.attributes["error.type"] == "503"
    assert first.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in first.attributes
    assert second.attributes["http.response.status_code"] == 200
    assert second.attributes["http.request.resend_count"] == 1
    assert "error.type" not in second.attributes
    (retry,) = [e for e in operation.events if e.name == "retry"]
    assert retry.attributes is not None
    assert retry.attributes["reason"] == "HTTP 503"


async def test_request_spans_carry_the_http_client_conventions(
    emulator: RunaiEmulator, registry_id: str, otel: Telemetry
) -> None:
    async with otel.client(emulator.base_url) as client:
        await client.list_tags(registry_id, "team/app", search_name="1")
    (span,) = otel.spans(f"GET {TAGS_ROUTE}")
    port = int(emulator.base_url.rsplit(":", 1)[1])
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": port,
        "url.scheme": "http",
        "url.full": f"{emulator.base_url}/api/v1/asset/registries/{registry_id}"
        "/repositories/tags?repository=team/app&searchName=1",
        "url.template": TAGS_ROUTE,
        "http.response.status_code": 200,
    }


async def test_each_request_is_measured_and_each_retry_counted(
    emulator: RunaiEmulator, registry_id: str, otel: Telemetry
) -> None:
    emulator.fail_next("get_registry", status=503)
    async with otel.client(emulator.base_url, retry=FAST) as client:
        await client.get_registry(registry_id)
    metrics = otel.metrics()
    durations = metrics["http.client.request.duration"]
    statuses = sorted(p.attributes["http.response.status_code"] for p in durations)
    assert statuses == [200, 503]
    assert all(p.count == 1 and p.sum > 0 for p in durations)
    failed = next(p for p in durations if p.attributes["http.response.status_code"] == 503)
    assert failed.attributes["error.type"] == "503"
    assert "url.full" not in failed.attributes  # unbounded: not a metric attribute
    assert failed.attributes["url.template"] == "/api/v1/asset/registries/{AssetId}"
    (retries,) = metrics["runai_registry.client.retries"]
    assert retries.value == 1
    assert retries.attributes == {"runai_registry.operation": "get_registry"}


async def test_throttled_answers_are_counted_and_the_send_rate_is_a_gauge(
    emulator: RunaiEmulator, registry_id: str, otel: Telemetry
) -> None:
    emulator.fail_next("get_registry", status=429, retry_after="0")
    async with otel.client(emulator.base_url, retry=FAST) as client:
        await client.get_registry(registry_id)
        metrics = otel.metrics()
    (throttled,) = metrics["runai_registry.client.throttled"]
    assert throttled.value == 1
    assert throttled.attributes == {"http.response.status_code": 429}
    (rate,) = metrics["runai_registry.client.send_rate"]
    assert 0 < rate.value < 1000  # the throttle made the client keep to a finite rate


async def test_the_trace_context_travels_with_each_request_unless_turned_off(
    emulator: RunaiEmulator, registry_id: str, otel: Telemetry
) -> None:
    async with otel.client(emulator.base_url) as client:
        await client.get_registry(registry_id)
    async with otel.client(emulator.base_url, propagate_context=False) as client:
        await client.get_registry(registry_id)
    propagated, kept = emulator.requests
    (span, _) = otel.spans("GET /api/v1/asset/registries/{AssetId}")
    context = span.get_span_context()
    assert context is not None
    assert propagated.traceparent is not None
    _version, trace_id, span_id, flags = propagated.traceparent.split("-")
    assert (trace_id, span_id) == (f"{context.trace_id:032x}", f"{context.span_id:016x}")
    assert int(flags, 16) & 1  # sampled
    assert kept.traceparent is None


async def test_operations_are_children_of_the_callers_span(
    emulator: RunaiEmulator, registry_id: str, otel: Telemetry
) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    async with otel.client(emulator.base_url) as client:
        with tracer.start_as_current_span("handler") as handler:
            await client.get_registry(registry_id)
    (operation,) = otel.spans("get_registry")
    assert operation.parent is not None
    assert operation.parent.span_id == handler.get_span_context().span_id
    assert operation.context.trace_id == handler.get_span_context().trace_id


async def test_a_stream_is_one_span_from_its_first_read_to_its_close(
    emulator: RunaiEmulator, registry_id: str, otel: Telemetry
) -> None:
    async with otel.client(emulator.base_url) as client:
        stream = client.iter_tags(registry_id, "team/app")
        assert otel.spans() == []  # nothing sent before the iteration
        tags = [tag async for tag in stream]
    assert tags == ["1.0", "1.1"]
    (operation,) = otel.spans("iter_tags")
    (request,) = otel.spans(f"GET {TAGS_ROUTE}")
    assert request.parent is not None
    assert request.parent.span_id == operation.context.span_id
    assert operation.end_time is not None
    assert request.end_time is not None
    assert operation.end_time >= request.end_time


async def test_a_stream_left_early_is_not_a_failure_and_a_bad_one_is(
    emulator: RunaiEmulator, registry_id: str, otel: Telemetry
) -> None:
    async with otel.client(emulator.base_url, retry=None) as client:
        async for _ in client.iter_tags(registry_id, "team/app"):
            break
        emulator.fail_next("list_tags", status=500)
        with pytest.raises(Exception, match="HTTP 500"):
            async for _ in client.iter_tags(registry_id, "team/app"):
                pass
    left, failed = sorted(otel.spans("iter_tags"), key=lambda s: s.start_time or 0)
    assert left.status.status_code is not StatusCode.ERROR
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "500"


async def test_a_crawl_is_one_span_over_its_requests_with_its_counts(
    emulator: RunaiEmulator, otel: Telemetry
) -> None:
    emulator.seed(registries=2, repositories=3, tags=4)
    async with otel.client(emulator.base_url) as client:
        results = [result async for result in crawl_tags(client, concurrency=4)]
    assert len(results) == 6
    (crawl,) = otel.spans("crawl_tags")
    assert crawl.attributes is not None
    assert crawl.attributes["runai_registry.crawl.registries"] == 2
    assert crawl.attributes["runai_registry.crawl.repositories"] == 6
    assert crawl.attributes["runai_registry.crawl.tags"] == 24
    assert crawl.attributes["runai_registry.crawl.errors"] == 0
    assert crawl.attributes["runai_registry.crawl.requests"] == 9  # 1 + 2 + 6
    operations = [s for s in otel.spans() if s.kind is SpanKind.INTERNAL and s is not crawl]
    assert sorted(s.name for s in operations) == (
        ["list_registries"] + ["list_repositories"] * 2 + ["list_tags"] * 6
    )
    children = [s for s in operations if s.name != "list_registries"]
    assert {s.parent.span_id if s.parent else None for s in children} == {crawl.context.span_id}


async def test_a_token_fetch_is_its_own_span_below_the_operation_that_needed_it(
    emulator: RunaiEmulator, registry_id: str, otel: Telemetry
) -> None:
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    async with otel.client(emulator.base_url, token=None, auth=credentials) as client:
        await client.get_registry(registry_id)
    (token,) = otel.spans("POST /api/v1/token")
    (operation,) = otel.spans("get_registry")
    assert token.kind is SpanKind.CLIENT
    assert token.parent is not None
    assert token.parent.span_id == operation.context.span_id
    assert token.attributes is not None
    assert token.attributes["url.full"] == f"{emulator.base_url}/api/v1/token"
    (fetches,) = otel.metrics()["runai_registry.client.token_fetches"]
    assert fetches.value == 1
    assert fetches.attributes == {}


def exported_text(otel: Telemetry) -> str:
    """Every span (names, attributes, events, status) and metric point, as text."""
    spans = [json.loads(span.to_json()) for span in otel.spans()]
    points = {
        name: [str(getattr(p, "attributes", "")) + str(getattr(p, "value", "")) for p in found]
        for name, found in otel.metrics().items()
    }
    return json.dumps({"spans": spans, "metrics": points})


async def test_no_secret_reaches_a_span_an_event_or_a_metric(
    emulator: RunaiEmulator, registry_id: str, otel: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued: list[str] = []
    issue = emulator._tokens._issue_access

    def issue_recorded() -> str:
        issued.append(issue())
        return issued[-1]

    monkeypatch.setattr(emulator._tokens, "_issue_access", issue_recorded)
    credentials = ClientCredentials(emulator.client_id, emulator.client_secret)
    emulator.fail_next("token", status=503)
    emulator.fail_next("get_registry", status=503)
    async with otel.client(emulator.base_url, token=None, auth=credentials, retry=FAST) as c:
        registry = await c.get_registry(registry_id)
        emulator.expire_tokens()  # a 401, a new token, the same request again
        await c.list_tags(registry_id, "team/app")
        emulator.fail_next("list_tags", count=2, status=401)
        with pytest.raises(Exception, match="401"):
            await c.list_tags(registry_id, "team/app", retry=None)
    text = exported_text(otel)
    assert "POST /api/v1/token" in text
    assert "resend_count" in text
    assert len(issued) >= 3
    assert registry.meta.name == "hub"
    for secret in (emulator.client_secret, "registry-password-42", "Bearer", *issued):
        assert secret not in text


def test_providers_without_opentelemetry_installed_are_refused() -> None:
    script = """
import sys
sys.modules["opentelemetry"] = None  # as if not installed
from runai_registry_async import RegistryClient
try:
    RegistryClient("http://127.0.0.1:1", token="t", tracer_provider=object())
except ValueError as exc:
    print("refused:", exc)
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert "refused: tracer_provider and meter_provider need opentelemetry-api" in run.stdout


def test_without_opentelemetry_a_client_imports_none_of_it_and_works() -> None:
    script = """
import asyncio, sys
sys.modules["opentelemetry"] = None  # as if not installed
from runai_registry_async import RegistryClient
from runai_registry_async.testing import RunaiEmulator

async def main():
    async with RunaiEmulator() as emulator:
        emulator.seed(registries=1, repositories=1, tags=1)
        async with RegistryClient(emulator.base_url, token=emulator.token) as client:
            registries = await client.list_registries()
            print("telemetry:", client._requester.telemetry)
            print("registries:", len(registries))

asyncio.run(main())
loaded = [name for name, module in sys.modules.items() if module]
print("imported:", sorted(name for name in loaded if name.startswith("opentelemetry")))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.stdout.splitlines() == ["telemetry: None", "registries: 1", "imported: []"], (
        run.stderr
    )


def test_the_global_providers_are_used_when_none_is_given() -> None:
    # In a child: the global providers can be set once per process.
    script = """
import asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from runai_registry_async import RegistryClient
from runai_registry_async.testing import RunaiEmulator

exporter = InMemorySpanExporter()
async def main():
    async with RunaiEmulator() as emulator:
        # Built before the application configures the SDK, as a module-level client is.
        client = RegistryClient(emulator.base_url, token=emulator.token)
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        async with client:
            await client.list_registries()
asyncio.run(main())
print(sorted(span.name for span in exporter.get_finished_spans()))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.stdout.strip() == "['GET /api/v1/asset/registries', 'list_registries']", run.stderr


async def test_a_wait_for_the_send_rate_is_an_event_of_the_call_that_waited(
    emulator: RunaiEmulator, registry_id: str, otel: Telemetry
) -> None:
    async with otel.client(emulator.base_url, max_per_second=2, burst=1) as client:
        await client.get_registry(registry_id)  # at once
        await client.get_registry(registry_id)  # half a second after the first
    first, second = sorted(otel.spans("get_registry"), key=lambda s: s.start_time or 0)
    assert [e.name for e in first.events] == []
    (wait,) = second.events
    assert wait.name == "wait"
    assert wait.attributes is not None
    assert wait.attributes["reason"] == "the send rate"
    assert 0.1 < float(wait.attributes["wait.seconds"]) < 1  # type: ignore[arg-type]
