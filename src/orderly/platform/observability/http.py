"""RED metrics and server spans for every HTTP request (pure ASGI middleware)."""

from __future__ import annotations

from collections.abc import Sequence
from time import perf_counter

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from prometheus_client import Counter, Histogram
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderly.platform.observability import tracing
from orderly.platform.observability.metrics import (
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS,
    UNMATCHED_ROUTE,
    method_label,
    status_class,
)

# Probes and scrapes would fill the trace store with nothing worth reading;
# they are still counted.
_UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def route_template(route: object) -> str | None:
    """The path template a route was declared with (``/v1/products/{product_id}``)."""
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else None


class HttpObservabilityMiddleware:
    """Count and time each request by method, route template and status class,
    and, while tracing is on, wrap it in a server span that continues the
    caller's W3C trace (``traceparent``). The trace and span ids go on every
    log line of the request.

    Added as the outermost user middleware, so the request-id middleware's
    log line and its last-resort 500 answer are inside the span and counted.
    ``routes`` lets requests that were answered before routing (an
    idempotent replay) still be labelled with their route.
    """

    def __init__(self, app: ASGIApp, *, routes: Sequence[BaseRoute] = ()) -> None:
        self.app = app
        self._routes = routes
        # Label children resolved once per (method, route, class): labels()
        # takes a lock and builds a tuple, which the hot path can skip.
        self._series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        self._propagation_headers = frozenset(
            name.encode("latin-1") for name in propagate.get_global_textmap().fields
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        carrier = self._carrier(scope)
        tracer = tracing.tracer()
        if tracer is None and carrier is None:
            status = 500

            async def send_counted(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await self.app(scope, receive, send_counted)
            finally:
                self._record(scope, status, perf_counter() - started)
            return
        await self._traced(scope, receive, send, tracer=tracer, carrier=carrier, started=started)

    async def _traced(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        tracer: trace.Tracer | None,
        carrier: dict[str, str] | None,
        started: float,
    ) -> None:
        parent = propagate.extract(carrier) if carrier is not None else None
        span: trace.Span | None = None
        ctx: Context | None = parent
        if tracer is not None and scope["path"] not in _UNTRACED_PATHS:
            span = tracer.start_span(
                scope["method"],
                context=parent,
                kind=trace.SpanKind.SERVER,
                # No url.path: paths carry capability ids (a guest cart's id
                # opens that cart), which have no place in a trace store.
                # http.route, set once routed, says what was called.
                attributes={
                    "http.request.method": method_label(scope["method"]),
                    "url.scheme": scope.get("scheme", "http"),
                },
            )
            ctx = trace.set_span_in_context(span, parent)
        # Without a span of ours this passes the caller's context through, so
        # the messages the request writes still carry its traceparent.
        attached = otel_context.attach(ctx) if ctx is not None else None
        log_tokens = tracing.bind_to_logs(ctx)
        status = 500
        request_id: bytes | None = None

        async def send_observed(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"x-request-id":
                        request_id = value
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            route = self._record(scope, status, perf_counter() - started)
            if span is not None:
                span.update_name(f"{scope['method']} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if request_id is not None:
                    span.set_attribute("orderly.request_id", request_id.decode("latin-1"))
                if status >= 500:
                    span.set_status(trace.StatusCode.ERROR)
                span.end()
            tracing.unbind_from_logs(log_tokens)
            if attached is not None:
                otel_context.detach(attached)

    def _carrier(self, scope: Scope) -> dict[str, str] | None:
        carrier: dict[str, str] | None = None
        for name, value in scope["headers"]:
            if name in self._propagation_headers:
                if carrier is None:
                    carrier = {}
                carrier[name.decode("latin-1")] = value.decode("latin-1")
        return carrier

    def _record(self, scope: Scope, status: int, duration_s: float) -> str:
        route = route_template(scope.get("route"))
        if route is None:
            route = self._match(scope) if status != 404 else UNMATCHED_ROUTE
        key = (method_label(scope["method"]), route, status_class(status))
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (HTTP_REQUESTS.labels(*key), HTTP_REQUEST_DURATION.labels(*key))
        series[0].inc()
        series[1].observe(duration_s)
        return route

    def _match(self, scope: Scope) -> str:
        """Route a request the router never saw (answered by a middleware)."""
        for candidate in self._routes:
            match, _ = candidate.matches(scope)
            if match is not Match.NONE:
                return route_template(candidate) or UNMATCHED_ROUTE
        return UNMATCHED_ROUTE
