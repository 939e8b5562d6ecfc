"""Idempotency-Key through HTTP, on the real middleware and PostgreSQL.

The endpoints count their executions in a table, so "replayed" and "ran
again" are told apart by the database, not by the answer alone.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.idempotency import IdempotencyConfig, PostgresIdempotencyStore
from orderly.platform.idempotency.keys import KEY_PATTERN, fingerprint
from orderly.platform.idempotency.scope import ANONYMOUS
from orderly.platform.idempotency.state import StoredResponse
from orderly.platform.idempotency.store import Claim
from orderly.platform.idempotency.tables import idempotency_keys
from tests.integration.platform.idempotency_app import (
    build_app,
    client_for,
    create_executions_table,
    executions,
)

PROBLEM = "urn:orderly:problem:"
JSON = {"content-type": "application/json"}


@pytest.fixture
async def app(engine: AsyncEngine) -> FastAPI:
    await create_executions_table(engine)
    app, _ = build_app(engine)
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as client:
        yield client


def keyed(key: str, **extra: str) -> dict[str, str]:
    return {"Idempotency-Key": key, **JSON, **extra}


def body(name: str = "mug", sleep_ms: int = 0) -> bytes:
    return json.dumps({"name": name, "sleep_ms": sleep_ms}).encode()


class TestRetryWithTheSameRequest:
    async def test_replays_the_first_answer_byte_for_byte_and_runs_once(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        first = await client.post("/things", content=body(), headers=keyed("k-1"))
        retry = await client.post("/things", content=body(), headers=keyed("k-1"))

        assert first.status_code == retry.status_code == 201
        assert retry.content == first.content
        for header in ("content-type", "content-length", "location", "etag"):
            assert retry.headers[header] == first.headers[header]
        assert retry.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        # Per-request headers are not part of the answer a key remembers.
        assert "x-per-request" not in retry.headers
        assert retry.headers["x-request-id"] != first.headers["x-request-id"]
        assert await executions(engine, "things") == 1

    async def test_a_quoted_key_is_the_same_key_as_its_bare_spelling(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        first = await client.post("/things", content=body(), headers=keyed("k-1"))
        retry = await client.post("/things", content=body(), headers=keyed('"k-1"'))
        assert retry.content == first.content
        assert await executions(engine, "things") == 1

    async def test_put_is_covered_like_post(self, client: httpx.AsyncClient, engine: AsyncEngine) -> None:
        first = await client.put("/things/7", content=body(), headers=keyed("k-put"))
        retry = await client.put("/things/7", content=body(), headers=keyed("k-put"))
        assert first.status_code == 200
        assert retry.content == first.content
        assert await executions(engine, "replace") == 1

    async def test_without_a_key_every_request_runs(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        await client.post("/things", content=body(), headers=JSON)
        await client.post("/things", content=body(), headers=JSON)
        assert await executions(engine, "things") == 2


class TestKeyReusedForAnotherRequest:
    async def test_another_body_is_refused_with_422_and_does_not_run(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        await client.post("/things", content=body("mug"), headers=keyed("k-1"))
        other = await client.post("/things", content=body("plate"), headers=keyed("k-1"))

        assert other.status_code == 422
        assert other.headers["content-type"] == "application/problem+json"
        assert other.json()["type"] == PROBLEM + "idempotency-key-reused"
        assert await executions(engine, "things") == 1

    async def test_another_path_is_refused(self, client: httpx.AsyncClient, engine: AsyncEngine) -> None:
        await client.put("/things/1", content=body(), headers=keyed("k-1"))
        other = await client.put("/things/2", content=body(), headers=keyed("k-1"))
        assert other.json()["type"] == PROBLEM + "idempotency-key-reused"
        assert await executions(engine, "replace") == 1


class TestConcurrentDuplicates:
    async def test_parallel_duplicates_run_once_the_others_get_409_or_the_replay(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        responses = await asyncio.gather(
            *(client.post("/things", content=body(sleep_ms=300), headers=keyed("k-par")) for _ in range(8))
        )

        executed = [r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers]
        in_flight = [r for r in responses if r.status_code == 409]
        replayed = [r for r in responses if r.headers.get("idempotent-replayed") == "true"]
        assert len(executed) == 1
        assert len(in_flight) + len(replayed) == 7
        assert in_flight, "with the endpoint sleeping, some duplicates must meet it in flight"
        for conflict in in_flight:
            assert conflict.json()["type"] == PROBLEM + "idempotency-key-in-flight"
            assert int(conflict.headers["retry-after"]) >= 1
        assert all(r.content == executed[0].content for r in replayed)
        assert await executions(engine, "things") == 1

    async def test_a_request_outliving_its_lease_keeps_its_key(self, engine: AsyncEngine) -> None:
        await create_executions_table(engine)
        app, _ = build_app(engine, config=IdempotencyConfig(lease=timedelta(seconds=3)))
        async with client_for(app) as client:
            slow = asyncio.create_task(
                client.post("/things", content=body(sleep_ms=4200), headers=keyed("k-slow"))
            )
            await asyncio.sleep(3.6)  # past the first lease: only renewal keeps the key
            duplicate = await client.post("/things", content=body(sleep_ms=4200), headers=keyed("k-slow"))
            first = await slow

        assert duplicate.status_code == 409
        assert first.status_code == 201
        assert await executions(engine, "things") == 1


class TestFailures:
    async def test_a_500_is_stored_and_replayed(self, client: httpx.AsyncClient, engine: AsyncEngine) -> None:
        first = await client.post("/explode", headers={"Idempotency-Key": "k-500"})
        retry = await client.post("/explode", headers={"Idempotency-Key": "k-500"})

        assert first.status_code == retry.status_code == 500
        assert first.json()["type"] == PROBLEM + "internal-error"
        # The replay is the first answer, down to the request id it quotes.
        assert retry.content == first.content
        assert retry.headers["idempotent-replayed"] == "true"
        assert await executions(engine, "explode") == 1

    async def test_a_503_is_not_stored_so_the_retry_runs(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        busy = await client.post("/flaky", headers={"Idempotency-Key": "k-503"})
        retry = await client.post("/flaky", headers={"Idempotency-Key": "k-503"})
        replay = await client.post("/flaky", headers={"Idempotency-Key": "k-503"})

        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1", "the live answer keeps the endpoint's headers"
        assert retry.status_code == 201
        assert replay.headers["idempotent-replayed"] == "true"
        assert await executions(engine, "flaky") == 2

    async def test_validation_errors_are_not_stored(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        invalid = await client.post("/things", content=b'{"name": ""}', headers=keyed("k-fix"))
        fixed = await client.post("/things", content=body(), headers=keyed("k-fix"))

        assert invalid.status_code == 422
        assert invalid.json()["type"] == PROBLEM + "validation-error"
        assert fixed.status_code == 201
        assert "idempotent-replayed" not in fixed.headers
        assert await executions(engine, "things") == 1

    async def test_malformed_json_is_not_stored(self, client: httpx.AsyncClient, engine: AsyncEngine) -> None:
        malformed = await client.post("/things", content=b'{"name": ', headers=keyed("k-json"))
        fixed = await client.post("/things", content=body(), headers=keyed("k-json"))
        assert malformed.status_code == 400
        assert fixed.status_code == 201

    async def test_an_unknown_route_does_not_use_up_the_key(self, client: httpx.AsyncClient) -> None:
        typo = await client.post("/thingz", content=body(), headers=keyed("k-typo"))
        fixed = await client.post("/things", content=body(), headers=keyed("k-typo"))
        assert typo.status_code == 404
        assert fixed.status_code == 201


class TestRoutesThatRequireAKey:
    async def test_a_missing_key_is_400_and_nothing_runs(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        response = await client.post("/checkouts")
        assert response.status_code == 400
        assert response.json()["type"] == PROBLEM + "idempotency-key-missing"
        assert await executions(engine) == 0

    async def test_a_router_can_require_the_key_for_all_its_routes(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        missing = await client.post("/payments")
        first = await client.post("/payments", headers={"Idempotency-Key": "k-pay"})
        retry = await client.post("/payments", headers={"Idempotency-Key": "k-pay"})
        assert missing.json()["type"] == PROBLEM + "idempotency-key-missing"
        assert retry.content == first.content
        # The handler read the key from the context variable, not from a parameter.
        async with engine.connect() as conn:
            keys = list((await conn.execute(text("SELECT key FROM idempotency_test.executions"))).scalars())
        assert keys == ["k-pay"]

    @pytest.mark.parametrize("key", [b"", b"k" * 256, "caf\u00e9".encode()], ids=["empty", "long", "utf8"])
    async def test_an_invalid_key_is_400_and_nothing_runs(
        self, client: httpx.AsyncClient, engine: AsyncEngine, key: bytes
    ) -> None:
        response = await client.post("/checkouts", headers={b"Idempotency-Key": key})
        assert response.status_code == 400
        assert response.json()["type"] == PROBLEM + "idempotency-key-invalid"
        assert await executions(engine) == 0

    async def test_the_handler_gets_the_key_and_derives_the_same_identity_on_replay(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await client.post("/checkouts", headers={"Idempotency-Key": "k-order"})
        other = await client.post("/checkouts", headers={"Idempotency-Key": "k-order-2"})
        assert first.status_code == 201
        assert first.json()["attempt"] == 1
        assert first.json()["order_ref"] != other.json()["order_ref"]

    async def test_the_openapi_document_shows_the_header_required_there_and_optional_elsewhere(
        self, client: httpx.AsyncClient
    ) -> None:
        paths = (await client.get("/openapi.json")).json()["paths"]

        def key_parameter(path: str, method: str) -> dict[str, object]:
            parameters = paths[path][method]["parameters"]
            return next(p for p in parameters if p["name"] == "Idempotency-Key")

        assert key_parameter("/checkouts", "post")["required"] is True
        assert key_parameter("/payments", "post")["required"] is True
        assert "400" in paths["/payments"]["post"]["responses"]
        assert key_parameter("/things", "post")["required"] is False
        assert key_parameter("/explode", "post")["required"] is False
        assert key_parameter("/flaky", "post")["schema"] == {
            "type": "string",
            "minLength": 1,
            "maxLength": 257,
            "pattern": KEY_PATTERN,
        }

    async def test_every_unsafe_operation_documents_what_the_key_can_answer(
        self, client: httpx.AsyncClient
    ) -> None:
        # Found by tests/e2e/test_api_contract.py: a malformed key was an undocumented 400.
        document = (await client.get("/openapi.json")).json()
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}:
                    assert {"400", "409", "422"} <= operation["responses"].keys(), (method, path)
        assert "Problem" in document["components"]["schemas"]


class TestCallerScope:
    async def test_keys_of_different_callers_do_not_collide(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        alice = await client.post(
            "/things", content=body(), headers=keyed("k-1", Authorization="Bearer alice")
        )
        bob = await client.post("/things", content=body(), headers=keyed("k-1", Authorization="Bearer bob"))
        anonymous = await client.post("/things", content=body(), headers=keyed("k-1"))
        alice_again = await client.post(
            "/things", content=body(), headers=keyed("k-1", Authorization="Bearer alice")
        )

        assert len({alice.json()["id"], bob.json()["id"], anonymous.json()["id"]}) == 3
        assert alice_again.content == alice.content
        assert await executions(engine, "things") == 3
        async with engine.connect() as conn:
            scopes = set((await conn.execute(select(idempotency_keys.c.scope))).scalars())
        assert ANONYMOUS in scopes
        assert not any("alice" in scope or "bob" in scope for scope in scopes), "credentials are never stored"


class TestCrashInPhaseTwo:
    """A process that dies mid-request leaves its key in flight with a lease nobody renews."""

    async def _abandoned_claim(
        self, engine: AsyncEngine, *, key: str, content: bytes, lease_left_s: float
    ) -> Claim:
        store = PostgresIdempotencyStore(engine)
        claim = await store.begin(
            scope=ANONYMOUS,
            key=key,
            fingerprint=fingerprint(
                method="POST", path=b"/things", query=b"", content_type="application/json", body=content
            ),
            method="POST",
            path="/things",
            lease=timedelta(seconds=30),
        )
        assert isinstance(claim, Claim)
        async with engine.begin() as conn:
            await conn.execute(
                update(idempotency_keys)
                .where(idempotency_keys.c.key == key)
                .values(locked_until=func.now() + text(f"interval '{lease_left_s} seconds'"))
            )
        return claim

    async def test_a_retry_takes_over_once_the_lease_has_lapsed(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        await self._abandoned_claim(engine, key="k-crash", content=body(), lease_left_s=-1)

        retry = await client.post("/things", content=body(), headers=keyed("k-crash"))
        again = await client.post("/things", content=body(), headers=keyed("k-crash"))

        assert retry.status_code == 201
        assert retry.json()["attempt"] == 2, "the handler is told it re-executes an abandoned request"
        assert again.content == retry.content
        assert again.headers["idempotent-replayed"] == "true"
        assert await executions(engine, "things") == 1

    async def test_parallel_retries_of_an_abandoned_key_take_it_over_once(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        content = body(sleep_ms=200)
        await self._abandoned_claim(engine, key="k-crash", content=content, lease_left_s=-1)

        responses = await asyncio.gather(
            *(client.post("/things", content=content, headers=keyed("k-crash")) for _ in range(16))
        )

        assert sorted({r.status_code for r in responses}) in ([201], [201, 409])
        assert await executions(engine, "things") == 1

    async def test_a_retry_while_the_lease_is_live_gets_409(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        await self._abandoned_claim(engine, key="k-crash", content=body(), lease_left_s=20)
        retry = await client.post("/things", content=body(), headers=keyed("k-crash"))
        assert retry.status_code == 409
        assert retry.headers["retry-after"] == "1"
        assert await executions(engine, "things") == 0

    async def test_the_dead_executions_late_answer_cannot_overwrite_the_takeover(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        stale = await self._abandoned_claim(engine, key="k-crash", content=body(), lease_left_s=-1)
        retry = await client.post("/things", content=body(), headers=keyed("k-crash"))

        late = StoredResponse(status=201, headers=(), body=b"stale")
        assert await PostgresIdempotencyStore(engine).complete(stale, late) is False
        replay = await client.post("/things", content=body(), headers=keyed("k-crash"))
        assert replay.content == retry.content


class TestPruning:
    async def _age(self, engine: AsyncEngine, keys: list[str], *, hours: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(
                update(idempotency_keys)
                .where(idempotency_keys.c.key.in_(keys))
                .values(created_at=func.now() - text(f"interval '{hours} hours'"))
            )

    async def _keys(self, engine: AsyncEngine) -> set[str]:
        async with engine.connect() as conn:
            return set((await conn.execute(select(idempotency_keys.c.key))).scalars())

    async def test_keys_past_retention_are_pruned_in_batches_and_younger_or_running_ones_kept(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        for index in range(7):
            await client.post("/things", content=body(), headers=keyed(f"old-{index}"))
        await client.post("/things", content=body(), headers=keyed("young"))
        await client.post("/things", content=body(), headers=keyed("day-minus-an-hour"))
        await self._age(engine, [f"old-{index}" for index in range(7)], hours=25)
        await self._age(engine, ["day-minus-an-hour"], hours=23)
        # An old key whose execution still holds a live lease is not pruned.
        store = PostgresIdempotencyStore(engine)
        await store.begin(
            scope=ANONYMOUS,
            key="old-running",
            fingerprint="f" * 64,
            method="POST",
            path="/x",
            lease=timedelta(minutes=5),
        )
        await self._age(engine, ["old-running"], hours=30)

        _, pruner = build_app(engine, config=IdempotencyConfig(prune_batch_size=3))
        assert await pruner.prune_once() == 7

        assert await self._keys(engine) == {"young", "day-minus-an-hour", "old-running"}
        # A pruned key is free again: the same request now runs anew.
        again = await client.post("/things", content=body(), headers=keyed("old-0"))
        assert "idempotent-replayed" not in again.headers

    async def test_pruners_in_several_processes_share_the_work(
        self, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        keys = [f"old-{index}" for index in range(40)]
        for key in keys:
            await client.post("/things", content=body(), headers=keyed(key))
        await self._age(engine, keys, hours=48)

        pruners = [build_app(engine, config=IdempotencyConfig(prune_batch_size=5))[1] for _ in range(3)]
        started = time.perf_counter()
        deleted = await asyncio.gather(*(pruner.prune_once() for pruner in pruners))

        assert sum(deleted) == 40
        assert await self._keys(engine) == set()
        assert time.perf_counter() - started < 10
