"""The real app (``create_app``) puts every unsafe route of every module behind the key."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.api import create_app
from orderly.entrypoints.bootstrap import build_container
from orderly.modules.identity.module import IdentityModule
from orderly.platform.idempotency.keys import fingerprint
from orderly.platform.idempotency.tables import idempotency_keys
from orderly.platform.settings import Settings


def _add_probe_route(app: FastAPI) -> None:
    # Added after create_app, like any module router: the middleware covers it too.
    @app.post("/test-only/probes", status_code=201)
    async def create_probe() -> dict[str, str]:
        return {"id": uuid.uuid4().hex}


@pytest.fixture
async def orderly_app(settings: Settings, database_url: str, engine: AsyncEngine) -> AsyncIterator[FastAPI]:
    app = create_app(build_container(settings, database_url=database_url), run_background=False)
    _add_probe_route(app)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        yield app


@pytest.fixture
async def client(orderly_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=orderly_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://orderly.test") as client:
        yield client


async def test_a_retried_post_is_replayed_with_the_request_id_of_the_retry(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    first = await client.post("/test-only/probes", headers={"Idempotency-Key": "wired-1"})
    retry = await client.post("/test-only/probes", headers={"Idempotency-Key": "wired-1"})

    assert first.status_code == retry.status_code == 201
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    # RequestContextMiddleware wraps the idempotency layer: even a replay carries its own id.
    assert retry.headers["x-request-id"] not in ("", first.headers["x-request-id"])
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(idempotency_keys)) == 1


async def test_the_layers_own_refusals_are_problems_with_the_request_id(client: httpx.AsyncClient) -> None:
    await client.post("/test-only/probes", headers={"Idempotency-Key": "wired-2"})
    reused = await client.post("/test-only/probes?again=1", headers={"Idempotency-Key": "wired-2"})
    assert reused.status_code == 422
    assert reused.json()["request_id"] == reused.headers["x-request-id"]


async def test_every_unsafe_operation_documents_the_header(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    unsafe = {
        (path, method): operation
        for path, path_item in paths.items()
        for method, operation in path_item.items()
        if method in {"post", "put", "patch", "delete"}
    }
    assert len(unsafe) > 1, "the modules' own write routes are in the document"
    for (path, _), operation in unsafe.items():
        names = [parameter["name"] for parameter in operation.get("parameters", [])]
        # OAuth endpoints issue single-use credentials and never replay an answer.
        documented = not path.startswith("/oauth/")
        assert ("Idempotency-Key" in names) is documented, operation.get("operationId")


async def _token(app: FastAPI, *, subject: str, client_id: str = "cli_idempotency-test") -> str:
    """An access token signed by the identity module running in this app."""
    container = app.state.container
    identity = next(module for module in container.modules if isinstance(module, IdentityModule))
    now = int(time.time())
    claims = {
        "iss": container.settings.identity_issuer,
        "aud": container.settings.auth_audience,
        "sub": subject,
        "client_id": client_id,
        "scope": "",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    return await identity.keys.sign(claims)


async def _scopes(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(idempotency_keys.c.scope))).scalars())


class TestKeysAreScopedToTheVerifiedCaller:
    async def test_a_refreshed_token_of_the_same_caller_finds_its_key(
        self, orderly_app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        first_token = await _token(orderly_app, subject="customer-1")
        refreshed_token = await _token(orderly_app, subject="customer-1")
        assert first_token != refreshed_token

        first = await client.post(
            "/test-only/probes", headers={"Idempotency-Key": "k", "Authorization": f"Bearer {first_token}"}
        )
        retry = await client.post(
            "/test-only/probes",
            headers={"Idempotency-Key": "k", "Authorization": f"Bearer {refreshed_token}"},
        )

        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.content == first.content
        assert await _scopes(engine) == {"sub:customer-1"}

    async def test_callers_with_the_same_key_do_not_see_each_others_answers(
        self, orderly_app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
    ) -> None:
        service = await _token(orderly_app, subject="cli_backoffice", client_id="cli_backoffice")
        callers = [
            {"Authorization": f"Bearer {await _token(orderly_app, subject='customer-1')}"},
            {"Authorization": f"Bearer {await _token(orderly_app, subject='customer-2')}"},
            {"Authorization": f"Bearer {service}"},
            {"Authorization": "Bearer not-a-token"},
            {},
        ]
        answers = [
            await client.post("/test-only/probes", headers={"Idempotency-Key": "same", **caller})
            for caller in callers
        ]

        assert all("idempotent-replayed" not in answer.headers for answer in answers)
        assert len({answer.content for answer in answers}) == len(callers)
        scopes = await _scopes(engine)
        assert {"sub:customer-1", "sub:customer-2", "client:cli_backoffice", "anonymous"} < scopes
        assert not any("not-a-token" in scope for scope in scopes), "raw credentials are never stored"


class TestKeyedFingerprints:
    async def test_stored_fingerprints_are_keyed_by_the_configured_secret(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        secret = "fingerprint-secret-" + "x" * 20
        keyed = settings.model_copy(update={"idempotency_fingerprint_key": SecretStr(secret)})
        app = create_app(build_container(keyed, database_url=database_url), run_background=False)
        _add_probe_route(app)
        key = f"fp-{uuid.uuid4()}"
        body = b'{"probe": "a body that could hold a password"}'
        async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://orderly.test") as client:
                headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
                first = await client.post("/test-only/probes", content=body, headers=headers)
                again = await client.post("/test-only/probes", content=body, headers=headers)
                other = await client.post("/test-only/probes", content=b"{}", headers=headers)
        assert first.status_code == 201, first.text
        assert again.content == first.content
        assert other.status_code == 422
        async with engine.connect() as conn:
            stored = await conn.scalar(
                select(idempotency_keys.c.fingerprint).where(idempotency_keys.c.key == key)
            )
        probe = functools.partial(
            fingerprint, method="POST", path=b"/test-only/probes", query=b"", content_type="application/json"
        )
        assert stored == probe(body=body, secret=secret.encode())
        assert stored != probe(body=body)

    def test_production_refuses_to_start_without_the_secret(
        self, settings: Settings, database_url: str
    ) -> None:
        production = settings.model_copy(update={"env": "production"})
        # The catalog alone: the identity and payments modules have production checks of their own.
        container = build_container(production, database_url=database_url, module_names=["catalog"])
        with pytest.raises(RuntimeError, match="ORDERLY_IDEMPOTENCY_FINGERPRINT_KEY"):
            create_app(container, run_background=False)
