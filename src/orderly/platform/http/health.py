"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import orjson
from fastapi import APIRouter
from starlette.responses import Response

Check = Callable[[], Awaitable[None]]


def health_router(checks: Mapping[str, Check], *, timeout_s: float = 2.0) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        """The process is up and serving. It checks no dependency, on purpose:
        a database outage must not get every replica restarted."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness",
        responses={503: {"description": "A dependency is unavailable"}},
    )
    async def readyz() -> Response:
        """Whether this instance can serve traffic: database, broker and Redis,
        each reported as `ok` or with the reason it failed."""

        async def run(name: str, check: Check) -> tuple[str, str]:
            try:
                await asyncio.wait_for(check(), timeout=timeout_s)
            except TimeoutError:
                return name, "timeout"
            except Exception as exc:
                return name, f"error: {type(exc).__name__}"
            return name, "ok"

        results = dict(await asyncio.gather(*(run(n, c) for n, c in checks.items())))
        ready = all(v == "ok" for v in results.values())
        return Response(
            content=orjson.dumps({"status": "ok" if ready else "unavailable", "checks": results}),
            status_code=200 if ready else 503,
            media_type="application/json",
        )

    return router
