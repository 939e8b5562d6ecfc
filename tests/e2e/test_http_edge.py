"""What every answer has in common: problem documents for routing errors and
crashes, and a request id on every response."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from orderly.platform.settings import Settings
from tests.support.http import app_client, assert_problem, product_body

# One app per module (see conftest); nothing here depends on what the tables hold.
pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "secret-internal-detail-4f1c"
GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


def _mount_failing_routes(app: FastAPI) -> None:
    async def crash() -> None:
        raise RuntimeError(SECRET)

    async def crash_on_lookup() -> dict[str, str]:
        settings: dict[str, str] = {}
        return {"value": settings["missing"]}

    app.add_api_route("/test/crash", crash, methods=["GET", "POST"])
    app.add_api_route("/test/key-error", crash_on_lookup)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def crashing_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=database_url, log_json=False)
    async with app_client(settings, database_url, customize=_mount_failing_routes) as http:
        yield http


class TestRoutingErrors:
    async def test_an_unknown_route_is_a_404_problem(self, shared_client: httpx.AsyncClient) -> None:
        assert_problem(await shared_client.get("/v1/nothing-here"), 404, "not-found")

    async def test_an_unknown_route_with_a_body_is_a_404_problem(
        self, shared_client: httpx.AsyncClient
    ) -> None:
        assert_problem(await shared_client.post("/v2/products", json=product_body()), 404, "not-found")

    @pytest.mark.parametrize(
        ("method", "path", "allowed"),
        [
            ("DELETE", "/v1/products", {"GET", "POST"}),
            ("PATCH", "/v1/products", {"GET", "POST"}),
            ("PUT", "/v1/products/0190f0e8-5d6e-7c6f-8b43-1a2b3c4d5e6f", {"GET"}),
            ("POST", "/healthz", {"GET"}),
        ],
    )
    async def test_a_method_the_route_does_not_take_is_a_405_with_every_allowed_method(
        self, shared_client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
    ) -> None:
        response = await shared_client.request(method, path)
        assert_problem(response, 405, "method-not-allowed")
        assert {m.strip() for m in response.headers["allow"].split(",")} >= allowed
        assert method not in response.headers["allow"]


class TestUnhandledErrors:
    @pytest.mark.parametrize("path", ["/test/crash", "/test/key-error"])
    async def test_a_crash_is_a_500_problem_without_the_trace_but_with_the_request_id(
        self, crashing_client: httpx.AsyncClient, path: str
    ) -> None:
        response = await crashing_client.get(path, headers={"X-Request-ID": "crash-123"})
        problem = assert_problem(response, 500, "internal-error")
        assert SECRET not in response.text
        assert "Traceback" not in response.text
        assert "RuntimeError" not in response.text
        assert "KeyError" not in response.text
        assert response.headers["x-request-id"] == "crash-123"
        assert problem["request_id"] == "crash-123"

    async def test_the_app_keeps_serving_after_a_crash(self, crashing_client: httpx.AsyncClient) -> None:
        assert (await crashing_client.post("/test/crash")).status_code == 500
        assert (await crashing_client.get("/healthz")).status_code == 200


class TestRequestIds:
    async def test_a_sane_incoming_request_id_is_echoed(self, shared_client: httpx.AsyncClient) -> None:
        for request_id in ["abc-123", "0190f0e8.5d6e:7c6f_8b43", "x" * 128]:
            response = await shared_client.get("/healthz", headers={"X-Request-ID": request_id})
            assert response.headers["x-request-id"] == request_id

    @pytest.mark.parametrize(
        "request_id",
        ["", "has space", "x" * 129, "semi;colon", "new\\nline", "<script>"],
    )
    async def test_an_unsafe_incoming_request_id_is_replaced_by_a_fresh_one(
        self, shared_client: httpx.AsyncClient, request_id: str
    ) -> None:
        response = await shared_client.get("/healthz", headers={"X-Request-ID": request_id})
        assert GENERATED_ID.match(response.headers["x-request-id"])

    async def test_each_request_without_an_id_gets_its_own(self, shared_client: httpx.AsyncClient) -> None:
        ids = {(await shared_client.get("/healthz")).headers["x-request-id"] for _ in range(5)}
        assert len(ids) == 5
        assert all(GENERATED_ID.match(i) for i in ids)

    async def test_every_kind_of_answer_carries_the_request_id(
        self, shared_client: httpx.AsyncClient
    ) -> None:
        answers = [
            await shared_client.get("/healthz"),
            await shared_client.get("/readyz"),
            await shared_client.post("/v1/products", json=product_body(sku=f"RID-{uuid.uuid4().hex[:12]}")),
            await shared_client.get("/v1/products"),
            await shared_client.get("/v1/products/not-a-uuid"),
            await shared_client.post(
                "/v1/products", content=b"{", headers={"content-type": "application/json"}
            ),
            await shared_client.post("/v1/products", content=b" " * (2 * 1024 * 1024)),
            await shared_client.get("/nowhere"),
            await shared_client.delete("/v1/products"),
            await shared_client.get("/openapi.json"),
        ]
        assert [a.status_code for a in answers] == [200, 200, 201, 200, 422, 400, 413, 404, 405, 200]
        for answer in answers:
            assert answer.headers.get("x-request-id"), (answer.request.url, answer.headers)

    async def test_a_problem_body_quotes_the_request_id_of_its_response(
        self, shared_client: httpx.AsyncClient
    ) -> None:
        response = await shared_client.get("/nowhere", headers={"X-Request-ID": "trace-me-1"})
        assert response.json()["request_id"] == "trace-me-1"
