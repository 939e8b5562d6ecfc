"""A small app on the real idempotency layer and PostgreSQL, whose endpoints
count their executions in a table so tests can tell a replay from a re-run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.http.middleware import RequestContextMiddleware
from orderly.platform.http.problems import install_problem_handlers, problem_response
from orderly.platform.idempotency import (
    IdempotencyConfig,
    Idempotent,
    KeyPruner,
    OptionalIdempotencyKey,
    RequiredIdempotencyKey,
    current_idempotency_key,
    install_idempotency,
)
from orderly.platform.idempotency.keys import IdempotencyKey

BASE_URL = "http://idempotency.test"


async def create_executions_table(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("CREATE SCHEMA IF NOT EXISTS idempotency_test"))
        await conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS idempotency_test.executions ("
                " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                " route text NOT NULL, scope text, key text, attempt int, name text)"
            )
        )
        await conn.execute(text("TRUNCATE idempotency_test.executions"))


async def executions(engine: AsyncEngine, route: str | None = None) -> int:
    query = "SELECT count(*) FROM idempotency_test.executions"
    async with engine.connect() as conn:
        if route is None:
            return int(await conn.scalar(text(query)) or 0)
        return int(await conn.scalar(text(query + " WHERE route = :route"), {"route": route}) or 0)


class ThingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    sleep_ms: int = Field(default=0, ge=0, le=10_000)


def build_app(engine: AsyncEngine, *, config: IdempotencyConfig | None = None) -> tuple[FastAPI, KeyPruner]:
    """Wired like the real app: problem handlers, then idempotency, then the request context outside."""
    app = FastAPI()
    install_problem_handlers(app)
    pruner = install_idempotency(app, engine=engine, config=config)
    app.add_middleware(RequestContextMiddleware)

    async def record(route: str, key: IdempotencyKey | None, name: str | None = None) -> int:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO idempotency_test.executions (route, scope, key, attempt, name)"
                    " VALUES (:route, :scope, :key, :attempt, :name)"
                ),
                {
                    "route": route,
                    "scope": key.scope if key else None,
                    "key": key.key if key else None,
                    "attempt": key.attempt if key else None,
                    "name": name,
                },
            )
            count = await conn.scalar(
                text("SELECT count(*) FROM idempotency_test.executions WHERE route = :route"),
                {"route": route},
            )
        return int(count or 0)

    @app.post("/things", status_code=201)
    async def create_thing(body: ThingIn, response: Response, key: OptionalIdempotencyKey) -> dict[str, Any]:
        await record("things", key, body.name)
        if body.sleep_ms:
            await asyncio.sleep(body.sleep_ms / 1000)
        thing_id = uuid.uuid4()
        response.headers["Location"] = f"/things/{thing_id}"
        response.headers["ETag"] = f'"{uuid.uuid4().hex}"'
        response.headers["X-Per-Request"] = uuid.uuid4().hex
        return {"id": str(thing_id), "name": body.name, "attempt": key.attempt if key else None}

    @app.put("/things/{thing_id}")
    async def replace_thing(thing_id: str, body: ThingIn, key: OptionalIdempotencyKey) -> dict[str, Any]:
        await record("replace", key, body.name)
        return {"id": thing_id, "name": body.name, "version": uuid.uuid4().hex}

    @app.post("/explode")
    async def explode(key: OptionalIdempotencyKey) -> None:
        await record("explode", key)
        raise RuntimeError("the endpoint failed after its effect")

    @app.post("/checkouts", status_code=201)
    async def checkout(key: RequiredIdempotencyKey) -> dict[str, Any]:
        """A route that demands a key and derives its effect's identity from it."""
        await record("checkouts", key)
        return {"order_ref": str(key.derive("order")), "attempt": key.attempt}

    @app.post("/flaky", status_code=201)
    async def flaky(key: OptionalIdempotencyKey) -> Response:
        # The first call answers "come back later", the next ones succeed.
        if await record("flaky", key) == 1:
            return problem_response(503, "service-unavailable", "Busy", headers={"Retry-After": "1"})
        return Response(content=b'{"ok":true}', status_code=201, media_type="application/json")

    # Required at router level, the way a module would mark all its writes.
    payments = APIRouter(prefix="/payments", dependencies=[Depends(Idempotent(required=True))])

    @payments.post("", status_code=201)
    async def pay() -> dict[str, str]:
        await record("payments", current_idempotency_key.get())
        return {"payment": uuid.uuid4().hex}

    app.include_router(payments)
    return app, pruner


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, timeout=30) as client:
        yield client
