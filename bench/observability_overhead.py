"""What the HTTP metrics and spans cost per request, against a constant endpoint.

Three shapes of the same small app (a templated GET route answering constant
JSON behind the production RequestContextMiddleware):

- ``baseline``: no HttpObservabilityMiddleware;
- ``metrics``: the middleware with tracing off (the default);
- ``traced``: tracing on, every span sampled and handed to a batch processor
  whose exporter drops it (so the export itself costs nothing here);
- ``traced+parent``: the same with an incoming ``traceparent`` on every request;
- ``sampled-10%``: tracing on with ``ORDERLY_OTEL_SAMPLE_RATIO=0.1`` (nine
  requests in ten get a non-recording span).

Two measurements, each reported as a ratio to the baseline of the same run:

1. in-process: the ASGI app called directly, N requests per shape, rounds
   interleaved; microseconds per request;
2. over a socket: uvicorn (one worker, pinned to CPU 0) loaded by wrk (pinned
   to CPU 1) on 127.0.0.1 for a few seconds per shape; requests per second.

    uv run python bench/observability_overhead.py            # about 40 s
    uv run python bench/observability_overhead.py --skip-wrk # in-process only, ~10 s
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from starlette.types import Message

from harness import free_port
from orderly.platform.http.middleware import RequestContextMiddleware
from orderly.platform.logging import configure_logging
from orderly.platform.observability.http import HttpObservabilityMiddleware
from orderly.platform.observability.tracing import use_tracer_provider

SHAPES = ("baseline", "metrics", "sampled-10%", "traced", "traced+parent")
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class DroppingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def build_app(shape: str) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/ping/{item_id}")
    async def ping(item_id: int) -> dict[str, Any]:
        return {"id": item_id, "ok": True}

    app.add_middleware(RequestContextMiddleware, max_body_bytes=1_048_576)
    if shape != "baseline":
        app.add_middleware(HttpObservabilityMiddleware, routes=app.router.routes)
    if shape.startswith("traced") or shape.startswith("sampled"):
        sampler = ParentBased(TraceIdRatioBased(0.1)) if shape.startswith("sampled") else None
        provider = TracerProvider(sampler=sampler)
        provider.add_span_processor(BatchSpanProcessor(DroppingExporter()))
        use_tracer_provider(provider)
    else:
        use_tracer_provider(None)
    return app


async def in_process(shape: str, requests: int) -> float:
    """Microseconds per request, calling the ASGI app directly."""
    app = build_app(shape)
    headers = [(b"host", b"bench"), (b"accept", b"*/*")]
    if shape == "traced+parent":
        headers.append((b"traceparent", TRACEPARENT.encode()))

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    def scope(n: int) -> dict[str, Any]:
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": f"/v1/ping/{n % 100}",
            "raw_path": f"/v1/ping/{n % 100}".encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }

    for n in range(500):  # warm-up: routes compiled, label children created
        await app(scope(n), receive, send)
    started = time.perf_counter()
    for n in range(requests):
        await app(scope(n), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


def serve(shape: str, port: int) -> None:
    import uvicorn

    configure_logging(level="WARNING", json=True)
    uvicorn.run(build_app(shape), host="127.0.0.1", port=port, log_config=None, access_log=False)


def wait_listening(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on {port} never listened")


def over_socket(shape: str, seconds: int) -> float:
    """Requests per second of uvicorn (CPU 0) under wrk (CPU 1)."""
    port = free_port()
    server = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, __file__, "serve", shape, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port)
        args = ["taskset", "-c", "1", "wrk", "-t1", "-c32", "--latency"]
        if shape == "traced+parent":
            args += ["-H", f"traceparent: {TRACEPARENT}"]
        url = f"http://127.0.0.1:{port}/v1/ping/7"
        subprocess.run([*args, "-d1s", url], capture_output=True, check=True)
        run = subprocess.run([*args, f"-d{seconds}s", url], capture_output=True, text=True, check=True)
        match = re.search(r"Requests/sec:\s+([\d.]+)", run.stdout)
        if match is None:
            raise RuntimeError(run.stdout + run.stderr)
        return float(match.group(1))
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=20_000, help="in-process requests per shape and round"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4, help="wrk duration per shape and round")
    parser.add_argument("--skip-wrk", action="store_true")
    args = parser.parse_args()
    configure_logging(level="WARNING", json=True)
    # The SDK warns "queue full" when a tight loop outruns its export thread.
    logging.getLogger("opentelemetry").setLevel(logging.ERROR)

    per_request: dict[str, list[float]] = {shape: [] for shape in SHAPES}
    for _ in range(args.rounds):
        for shape in SHAPES:
            per_request[shape].append(asyncio.run(in_process(shape, args.requests)))
    base = statistics.median(per_request["baseline"])
    print(f"in-process, {args.requests} requests x {args.rounds} rounds (median):")
    for shape in SHAPES:
        median = statistics.median(per_request[shape])
        print(f"  {shape:14} {median:7.1f} us/request  x{median / base:.2f}  (+{median - base:.1f} us)")

    if args.skip_wrk or shutil.which("wrk") is None or (os.cpu_count() or 1) < 2:
        return
    rates: dict[str, list[float]] = {shape: [] for shape in SHAPES}
    for _ in range(2):
        for shape in SHAPES:
            rates[shape].append(over_socket(shape, args.seconds))
    base = statistics.median(rates["baseline"])
    print(f"uvicorn on CPU 0, wrk -c32 on CPU 1, {args.seconds} s x 2 rounds (median):")
    for shape in SHAPES:
        median = statistics.median(rates[shape])
        print(f"  {shape:14} {median:8.0f} req/s  x{median / base:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
