"""HTTP metrics and server spans: labels stay bounded, traces continue the caller's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI, HTTPException
from opentelemetry import trace
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from orderly.platform import context
from orderly.platform.observability.http import HttpObservabilityMiddleware
from orderly.platform.observability.metrics import method_label, status_class
from tests.support.observability import (
    CALLER_SPAN_ID,
    CALLER_TRACE_ID,
    CALLER_TRACEPARENT,
    capturing_spans,
    sample,
    traceparent_ids,
)

REQUESTS = "orderly_http_requests_total"
DURATION_COUNT = "orderly_http_request_duration_seconds_count"


class AnswersPostsItself:
    """Stands for a middleware that answers before routing (an idempotent replay)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            await PlainTextResponse("replayed", status_code=201)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_app(prefix: str) -> FastAPI:
    """A small app under a prefix of its own, so its series belong to this test alone."""
    app = FastAPI()

    @app.get(prefix + "/items/{item_id}")
    async def item(item_id: int) -> dict[str, Any]:
        if item_id == 404:
            raise HTTPException(status_code=404)
        if item_id == 503:
            raise HTTPException(status_code=503)
        return {
            "headers": context.headers(),
            "logged": structlog.contextvars.get_contextvars(),
            "valid_span": trace.get_current_span().get_span_context().is_valid,
        }

    @app.post(prefix + "/items/{item_id}")
    async def create_item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(AnswersPostsItself)
    app.add_middleware(HttpObservabilityMiddleware, routes=app.router.routes)
    return app


@pytest.fixture
def prefix() -> str:
    return f"/t{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def http(prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(prefix), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


class TestRequestLabels:
    async def test_requests_are_labelled_with_the_route_template_not_the_raw_path(
        self, http: httpx.AsyncClient, prefix: str
    ) -> None:
        for item_id in (1, 2, 3):
            assert (await http.get(f"{prefix}/items/{item_id}")).status_code == 200

        template = f"{prefix}/items/{{item_id}}"
        assert sample(REQUESTS, method="GET", route=template, status_class="2xx") == 3
        assert sample(DURATION_COUNT, method="GET", route=template, status_class="2xx") == 3
        assert sample(REQUESTS, method="GET", route=f"{prefix}/items/1", status_class="2xx") == 0

    async def test_status_codes_are_counted_by_class(self, http: httpx.AsyncClient, prefix: str) -> None:
        for item_id in (1, 404, 404, 503, "not-a-number"):
            await http.get(f"{prefix}/items/{item_id}")

        template = f"{prefix}/items/{{item_id}}"
        counts = {
            cls: sample(REQUESTS, method="GET", route=template, status_class=cls)
            for cls in ("2xx", "4xx", "5xx")
        }
        assert counts == {"2xx": 1, "4xx": 3, "5xx": 1}

    async def test_paths_no_route_matches_share_one_series(
        self, http: httpx.AsyncClient, prefix: str
    ) -> None:
        before = sample(REQUESTS, method="GET", route="unmatched", status_class="4xx")
        for junk in ("wp-login.php", "a/b/c", f"{uuid.uuid4()}"):
            assert (await http.get(f"{prefix}/{junk}")).status_code == 404

        assert sample(REQUESTS, method="GET", route="unmatched", status_class="4xx") - before == 3
        assert sample(REQUESTS, method="GET", route=f"{prefix}/wp-login.php", status_class="4xx") == 0

    async def test_methods_outside_the_standard_set_are_counted_as_other(
        self, http: httpx.AsyncClient, prefix: str
    ) -> None:
        response = await http.request("BREW", f"{prefix}/items/1")

        assert response.status_code == 405
        template = f"{prefix}/items/{{item_id}}"
        assert sample(REQUESTS, method="OTHER", route=template, status_class="4xx") == 1
        assert sample(REQUESTS, method="BREW", route=template, status_class="4xx") == 0

    async def test_a_request_answered_before_routing_keeps_its_route(
        self, http: httpx.AsyncClient, prefix: str
    ) -> None:
        response = await http.post(f"{prefix}/items/7")

        assert response.text == "replayed"
        template = f"{prefix}/items/{{item_id}}"
        assert sample(REQUESTS, method="POST", route=template, status_class="2xx") == 1


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (101, "1xx"),
        (200, "2xx"),
        (204, "2xx"),
        (304, "3xx"),
        (429, "4xx"),
        (499, "4xx"),
        (500, "5xx"),
        (599, "5xx"),
    ],
)
def test_status_class_is_the_first_digit(status: int, expected: str) -> None:
    assert status_class(status) == expected


@pytest.mark.parametrize("status", [0, 99, 600, 999])
def test_a_status_outside_the_http_range_counts_as_a_server_error(status: int) -> None:
    assert status_class(status) == "5xx"


@pytest.mark.parametrize(
    ("method", "expected"),
    [("GET", "GET"), ("DELETE", "DELETE"), ("OPTIONS", "OPTIONS"), ("get", "OTHER"), ("PROPFIND", "OTHER")],
)
def test_method_label_is_one_of_a_fixed_set(method: str, expected: str) -> None:
    assert method_label(method) == expected


class TestServerSpans:
    async def test_no_span_is_started_while_tracing_is_off(
        self, http: httpx.AsyncClient, prefix: str
    ) -> None:
        body = (await http.get(f"{prefix}/items/1")).json()

        assert body["valid_span"] is False
        assert "traceparent" not in body["headers"]
        assert "trace_id" not in body["logged"]

    async def test_callers_traceparent_is_passed_through_to_messages_while_tracing_is_off(
        self, http: httpx.AsyncClient, prefix: str
    ) -> None:
        body = (await http.get(f"{prefix}/items/1", headers={"traceparent": CALLER_TRACEPARENT})).json()

        assert body["headers"]["traceparent"] == CALLER_TRACEPARENT
        assert body["logged"]["trace_id"] == f"{CALLER_TRACE_ID:032x}"

    async def test_server_span_continues_the_callers_trace(
        self, http: httpx.AsyncClient, prefix: str
    ) -> None:
        with capturing_spans() as spans:
            body = (await http.get(f"{prefix}/items/1", headers={"traceparent": CALLER_TRACEPARENT})).json()

        [span] = spans.all()
        assert span.kind is trace.SpanKind.SERVER
        assert span.name == f"GET {prefix}/items/{{item_id}}"
        assert span.context is not None
        assert span.context.trace_id == CALLER_TRACE_ID
        assert span.parent is not None
        assert span.parent.span_id == CALLER_SPAN_ID
        assert span.attributes is not None
        assert span.attributes["http.route"] == f"{prefix}/items/{{item_id}}"
        assert span.attributes["http.response.status_code"] == 200
        assert "/items/1" not in str(dict(span.attributes))
        # What the request writes to the outbox names this span as the parent.
        assert traceparent_ids(body["headers"]["traceparent"]) == (CALLER_TRACE_ID, span.context.span_id)

    async def test_request_without_traceparent_starts_a_new_trace(
        self, http: httpx.AsyncClient, prefix: str
    ) -> None:
        with capturing_spans() as spans:
            await http.get(f"{prefix}/items/1", headers={"traceparent": "00-not-a-trace-01"})

        [span] = spans.all()
        assert span.parent is None
        assert span.context is not None
        assert span.context.trace_id not in (0, CALLER_TRACE_ID)

    async def test_log_lines_of_a_request_carry_its_trace_and_span_ids(
        self, http: httpx.AsyncClient, prefix: str
    ) -> None:
        with capturing_spans() as spans:
            body = (await http.get(f"{prefix}/items/1")).json()

        [span] = spans.all()
        assert span.context is not None
        assert body["logged"]["trace_id"] == f"{span.context.trace_id:032x}"
        assert body["logged"]["span_id"] == f"{span.context.span_id:016x}"
        assert "trace_id" not in structlog.contextvars.get_contextvars()

    async def test_server_errors_mark_the_span_as_failed_and_client_errors_do_not(
        self, http: httpx.AsyncClient, prefix: str
    ) -> None:
        with capturing_spans() as spans:
            await http.get(f"{prefix}/items/503")
            await http.get(f"{prefix}/items/404")

        failed, missing = spans.all()
        assert failed.status.status_code is trace.StatusCode.ERROR
        assert missing.status.status_code is trace.StatusCode.UNSET

    async def test_probes_are_counted_but_not_traced(self, http: httpx.AsyncClient) -> None:
        before = sample(REQUESTS, method="GET", route="/healthz", status_class="2xx")
        with capturing_spans() as spans:
            await http.get("/healthz")

        assert spans.all() == []
        assert sample(REQUESTS, method="GET", route="/healthz", status_class="2xx") == before + 1
