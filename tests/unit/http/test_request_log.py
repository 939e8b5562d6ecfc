"""The per-request log line names the route template, never the raw path."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from orderly.platform.http import middleware
from orderly.platform.http.middleware import RequestContextMiddleware


class _RecordingLog:
    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **fields})

    def exception(self, event: str, **fields: Any) -> None:
        self.lines.append({"event": event, **fields})


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/carts/{cart_id}")
    async def show(cart_id: str) -> dict[str, str]:
        return {"id": cart_id}

    app.add_middleware(RequestContextMiddleware, max_body_bytes=1024)
    return app


async def test_capability_ids_in_paths_never_reach_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    recording = _RecordingLog()
    monkeypatch.setattr(middleware, "log", recording)
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        await client.get("/v1/carts/guest-secret-123")
        await client.get("/elsewhere/guest-secret-456")

    lines = [line for line in recording.lines if line["event"] == "request"]
    assert [line["route"] for line in lines] == ["/v1/carts/{cart_id}", "unmatched"]
    assert "guest-secret" not in repr(recording.lines)
