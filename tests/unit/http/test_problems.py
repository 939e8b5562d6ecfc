"""Domain errors become problem documents: status by family, details as extension members."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from orderly.platform.http.middleware import RequestContextMiddleware
from orderly.platform.http.problems import install_problem_handlers
from orderly.shared_kernel.errors import (
    ConcurrencyConflict,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    Unavailable,
)


async def _answer_to(error: DomainError) -> httpx.Response:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)

    async def refuse() -> None:
        raise error

    app.add_api_route("/refuse", refuse)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://unit.test") as client:
        return await client.get("/refuse")


class TestDomainErrorsAsProblems:
    @pytest.mark.parametrize(
        ("error", "status", "slug"),
        [
            (NotFound("gone"), 404, "not-found"),
            (Conflict("taken"), 409, "conflict"),
            (ConcurrencyConflict("stale"), 409, "concurrent-modification"),
            (InvalidInput("bad"), 422, "invalid-input"),
            (DomainError("no"), 400, "domain-error"),
            (Unavailable("down"), 503, "unavailable"),
        ],
    )
    async def test_each_family_has_its_status_and_its_code_as_type(
        self, error: DomainError, status: int, slug: str
    ) -> None:
        response = await _answer_to(error)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"
        body: dict[str, Any] = response.json()
        assert body["type"] == f"urn:orderly:problem:{slug}"
        assert body["detail"] == error.message

    async def test_an_unavailable_dependency_says_when_to_retry(self) -> None:
        response = await _answer_to(Unavailable("the store is down"))
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"

    async def test_details_become_extension_members_even_when_named_like_a_parameter(self) -> None:
        # "slug" once collided with problem_response's own parameter: a 500.
        response = await _answer_to(Conflict("slug 'mug' is taken", slug="mug", title="Mug", version=3))
        assert response.status_code == 409
        body = response.json()
        assert (body["slug"], body["version"]) == ("mug", 3)
        assert body["title"] == "Conflict"

    async def test_a_detail_never_replaces_a_member_of_the_problem_itself(self) -> None:
        error = Conflict("real detail", status="200", type="urn:evil", detail="fake", request_id="forged")
        response = await _answer_to(error)
        body = response.json()
        assert (response.status_code, body["status"], body["type"]) == (
            409,
            409,
            "urn:orderly:problem:conflict",
        )
        assert body["detail"] == "real detail"
        assert body["request_id"] == response.headers["x-request-id"]

    async def test_an_invalid_input_names_its_field_and_where_it_was(self) -> None:
        response = await _answer_to(InvalidInput("no such page", field="cursor", location="query"))
        body = response.json()
        assert body["errors"] == [{"name": "cursor", "reason": "no such page", "location": "query"}]
        assert "location" not in body
        assert "field" not in body
