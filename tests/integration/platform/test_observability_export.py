"""What leaves the process: OTLP spans to a collector, and the entrypoints' metrics listener."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from orderly.entrypoints.bootstrap import build_container
from orderly.entrypoints.cli import start_observability
from orderly.platform.observability.tracing import build_tracer_provider
from orderly.platform.settings import Settings
from tests.support.observability import scraped, value


class Collector:
    """A stand-in OTLP/HTTP collector on 127.0.0.1 that keeps every export request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, self.headers["Content-Type"], body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector()
    collector.thread.start()
    try:
        yield collector
    finally:
        collector.server.shutdown()
        collector.server.server_close()


def test_spans_are_exported_over_otlp_http_with_the_service_resource(
    collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    settings = Settings(otel_exporter_otlp_endpoint=collector.url, otel_service_name="orderly-test")
    provider = build_tracer_provider(settings, role="relay")
    assert provider is not None
    try:
        with provider.get_tracer("test").start_as_current_span("publish catalog"):
            pass
        assert provider.force_flush(timeout_millis=5000)
    finally:
        provider.shutdown()

    [(path, content_type, body)] = collector.requests
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    export = ExportTraceServiceRequest.FromString(body)
    [resource_spans] = export.resource_spans
    resource = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
    assert resource["service.name"] == "orderly-test"
    assert resource["orderly.role"] == "relay"
    assert [span.name for scope in resource_spans.scope_spans for span in scope.spans] == ["publish catalog"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_relay_and_worker_entrypoints_serve_metrics_on_the_configured_port(
    settings: Settings, database_url: str
) -> None:
    configured = settings.model_copy(update={"metrics_port": free_port()})
    container = build_container(configured, database_url=database_url, module_names=["catalog"])
    server = start_observability(configured, role="worker", container=container)
    assert server is not None
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(f"http://127.0.0.1:{configured.metrics_port}/metrics")
    finally:
        server.close()
        await container.close()

    assert response.status_code == 200
    samples = scraped(response.text)
    assert value(samples, "orderly_db_pool_size", pool="primary") == configured.db_pool_size
    assert any(name == "process_cpu_seconds_total" for name, _ in samples)


async def test_without_a_port_no_listener_is_started(settings: Settings, database_url: str) -> None:
    container = build_container(settings, database_url=database_url, module_names=["catalog"])
    try:
        assert start_observability(settings, role="relay", container=container) is None
    finally:
        await container.close()


# Run in a child process: OpenTelemetry's global tracer provider can be set
# only once per process, and FastAPI traces by itself as soon as one is set.
_ONLY_ORDERLYS_SPANS = """
import asyncio, httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from orderly.entrypoints.api import create_app
from orderly.entrypoints.bootstrap import build_container
from orderly.platform.observability.tracing import use_tracer_provider
from orderly.platform.settings import Settings

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)  # what configure_tracing does
use_tracer_provider(provider)
settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none")
app = create_app(build_container(settings, database_url=settings.database_url, module_names=["catalog"]),
                 run_background=False)

async def main() -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/healthz")
        await client.get("/no/such/path/018f-secret")

asyncio.run(main())
print(sorted(span.name for span in exporter.get_finished_spans()))
"""


def test_fastapis_own_spans_stay_off_so_each_request_has_one_server_span() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _ONLY_ORDERLYS_SPANS],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    # /healthz is not traced at all; the unknown path gets one span, ours, named without the path.
    assert result.stdout.strip().splitlines()[-1] == "['GET unmatched']"
