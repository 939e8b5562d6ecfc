"""The middleware's edges, on a fake in-memory store (the real one is tested on PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from orderly.platform.http.problems import install_problem_handlers
from orderly.platform.idempotency import IdempotencyConfig, IdempotencyMiddleware, OptionalIdempotencyKey
from orderly.platform.idempotency.routes import IdempotencyNotInstalled
from orderly.platform.idempotency.state import (
    Execute,
    KeyRecord,
    KeyState,
    StoredResponse,
    decide,
)
from orderly.platform.idempotency.store import BeginResult, Claim


@dataclass
class FakeStore:
    """Keeps keys in a dict and applies the same state machine as the real store."""

    records: dict[tuple[str, str], tuple[KeyRecord, uuid.UUID | None]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    fail_on_complete: bool = False

    async def begin(
        self, *, scope: str, key: str, fingerprint: str, method: str, path: str, lease: timedelta
    ) -> BeginResult:
        self.calls.append("begin")
        now = datetime.now(UTC)
        existing = self.records.get((scope, key))
        decision = decide(existing[0] if existing else None, fingerprint=fingerprint, now=now)
        if not isinstance(decision, Execute):
            return decision
        token = uuid.uuid4()
        record = KeyRecord(fingerprint, KeyState.IN_FLIGHT, now + lease, decision.attempt, None)
        self.records[(scope, key)] = (record, token)
        return Claim(
            scope=scope, key=key, lease_token=token, attempt=decision.attempt, took_over=decision.took_over
        )

    async def renew(self, claim: Claim, *, lease: timedelta) -> bool:
        return True

    async def complete(self, claim: Claim, response: StoredResponse) -> bool:
        self.calls.append("complete")
        if self.fail_on_complete:
            raise ConnectionError("database unreachable")
        record, _ = self.records[(claim.scope, claim.key)]
        self.records[(claim.scope, claim.key)] = (
            KeyRecord(record.fingerprint, KeyState.COMPLETED, None, record.attempts, response),
            None,
        )
        return True

    async def release(self, claim: Claim) -> None:
        self.calls.append("release")
        del self.records[(claim.scope, claim.key)]


def build(store: FakeStore, *, with_middleware: bool = True) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    if with_middleware:
        app.add_middleware(IdempotencyMiddleware, store=store)

    @app.post("/things", status_code=201)
    async def create(key: OptionalIdempotencyKey) -> dict[str, str]:
        return {"id": uuid.uuid4().hex, "key": key.key if key else ""}

    @app.get("/things")
    async def read() -> dict[str, str]:
        return {"id": uuid.uuid4().hex}

    return app


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
async def client(store: FakeStore) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build(store), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


class TestWhatTheMiddlewareLeavesAlone:
    async def test_safe_methods_never_touch_the_store(
        self, client: httpx.AsyncClient, store: FakeStore
    ) -> None:
        first = await client.get("/things", headers={"Idempotency-Key": "k"})
        second = await client.get("/things", headers={"Idempotency-Key": "k"})
        assert first.content != second.content
        assert store.calls == []

    async def test_requests_without_a_key_never_touch_the_store(
        self, client: httpx.AsyncClient, store: FakeStore
    ) -> None:
        await client.post("/things")
        assert store.calls == []


class TestWhenTheStoreFails:
    async def test_the_answer_still_reaches_the_client_if_it_cannot_be_stored(
        self, client: httpx.AsyncClient, store: FakeStore
    ) -> None:
        store.fail_on_complete = True
        response = await client.post("/things", headers={"Idempotency-Key": "k"})
        assert response.status_code == 201
        assert response.json()["key"] == "k"
        assert store.calls == ["begin", "complete"]


class TestWiringMistakes:
    async def test_a_key_reaching_a_route_without_the_middleware_fails_loudly(self, store: FakeStore) -> None:
        transport = httpx.ASGITransport(app=build(store, with_middleware=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            with pytest.raises(IdempotencyNotInstalled):
                await client.post("/things", headers={"Idempotency-Key": "k"})

    def test_a_retention_under_24_hours_is_refused(self) -> None:
        with pytest.raises(ValueError):
            IdempotencyConfig(retention=timedelta(hours=23))

    def test_a_lease_too_short_to_survive_ordinary_latency_is_refused(self) -> None:
        with pytest.raises(ValueError):
            IdempotencyConfig(lease=timedelta(seconds=1))


class TestClientGoingAway:
    async def test_a_client_that_disconnects_before_its_body_is_complete_claims_nothing(
        self, store: FakeStore
    ) -> None:
        app = build(store)
        sent: list[Message] = []
        incoming: list[Message] = [
            {"type": "http.request", "body": b'{"na', "more_body": True},
            {"type": "http.disconnect"},
        ]

        async def receive() -> Message:
            return incoming.pop(0)

        async def send(message: Message) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/things",
            "raw_path": b"/things",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"idempotency-key", b"k"), (b"host", b"test")],
            "server": ("test", 80),
            "client": ("127.0.0.1", 1234),
        }
        await app(scope, receive, send)
        assert store.calls == []
        assert sent == []
