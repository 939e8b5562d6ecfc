"""Liveness and readiness probes."""

from __future__ import annotations

import httpx

from orderly.platform.settings import Settings
from tests.support.http import app_client


class TestLiveness:
    async def test_healthz_answers_200_while_the_process_serves(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


class TestReadiness:
    async def test_readyz_reports_database_broker_and_redis_ready(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {
            "status": "ok",
            "checks": {"database": "ok", "broker": "ok", "redis": "ok"},
        }

    async def test_readyz_is_503_naming_the_database_when_it_is_unreachable(self, settings: Settings) -> None:
        # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        unreachable = "postgresql://postgres@127.0.0.1:9/orderly"
        async with app_client(settings, unreachable, run_background=False) as client:
            response = await client.get("/readyz")
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unavailable"
            assert body["checks"]["database"].startswith("error")
            assert body["checks"]["broker"] == "ok"
            assert body["checks"]["redis"] == "ok"
            # Liveness does not depend on the database, on purpose.
            assert (await client.get("/healthz")).status_code == 200
