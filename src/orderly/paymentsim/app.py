"""The simulator's HTTP API (its own error format, as a third party would have).

Mutating calls require an ``Idempotency-Key`` header; errors are
``{"error": {"code": ..., "message": ...}}``. The ``/v1/_sim`` routes are the
simulator's control panel (faults, statistics, redelivery) and are not part of
the imitated provider's API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import orjson
from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from orderly.paymentsim.config import SimulatorConfig
from orderly.paymentsim.engine import Outcome, Simulator, error, fingerprint
from orderly.paymentsim.webhooks import WebhookSender

IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)]


class CreateIntentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, le=10**15, description="Minor units (cents).")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    reference: str = Field(min_length=1, max_length=255, description="The merchant's own id for it.")
    customer: str | None = Field(default=None, max_length=255)
    metadata: dict[str, str] = Field(default_factory=dict, max_length=20)


class CaptureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(default=None, gt=0, le=10**15)


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(gt=0, le=10**15)
    reference: str | None = Field(default=None, max_length=255)


class FaultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: int | None = Field(default=None, ge=0, le=60_000)
    decline_rate: float | None = Field(default=None, ge=0, le=1)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    timeout_rate: float | None = Field(default=None, ge=0, le=1)
    charge_then_error_rate: float | None = Field(default=None, ge=0, le=1)
    timeout_delay_s: float | None = Field(default=None, ge=0, le=600)


@dataclass
class SimulatorService:
    """The simulator with its webhook sender, as one thing to start and stop."""

    simulator: Simulator
    webhooks: WebhookSender

    async def start(self) -> None:
        await self.webhooks.start()

    async def close(self) -> None:
        await self.webhooks.close()


def build_service(
    config: SimulatorConfig | None = None, *, webhook_client: httpx.AsyncClient | None = None
) -> SimulatorService:
    """``webhook_client`` lets a host deliver webhooks another way (in-process, in tests)."""
    config = config or SimulatorConfig()
    webhooks = WebhookSender(config.webhooks, client=webhook_client)
    simulator = Simulator(config, on_event=webhooks.enqueue)
    return SimulatorService(simulator=simulator, webhooks=webhooks)


def _json(body: Any, status: int = 200) -> Response:
    return Response(content=orjson.dumps(body), status_code=status, media_type="application/json")


def _answer(outcome: Outcome) -> Response:
    return _json(outcome.body, outcome.status)


def _router(service: SimulatorService) -> APIRouter:
    sim = service.simulator
    router = APIRouter()

    async def run(request: Request, operation: str, key: str, work: Any) -> Response:
        body = await request.body()
        outcome = await sim.execute(
            operation=operation,
            idempotency_key=key,
            fingerprint=fingerprint(request.method, request.url.path, body),
            work=work,
        )
        return _answer(outcome)

    @router.post("/v1/payment_intents")
    async def authorize(request: Request, body: CreateIntentIn, key: IdempotencyKey) -> Response:
        """Create a payment intent and authorize it (201), or decline it (402)."""
        return await run(
            request,
            "authorize",
            key,
            lambda: sim.authorize(
                reference=body.reference,
                amount=body.amount,
                currency=body.currency,
                customer=body.customer,
                metadata=body.metadata,
            ),
        )

    @router.post("/v1/payment_intents/{intent_id}/capture")
    async def capture(
        request: Request, intent_id: str, key: IdempotencyKey, body: CaptureIn | None = None
    ) -> Response:
        """Capture an authorized intent (all of it unless ``amount`` is given)."""
        amount = body.amount if body is not None else None
        return await run(request, "capture", key, lambda: sim.capture(intent_id, amount=amount))

    @router.post("/v1/payment_intents/{intent_id}/void")
    async def void(request: Request, intent_id: str, key: IdempotencyKey) -> Response:
        """Release an authorization that was not captured."""
        return await run(request, "void", key, lambda: sim.void(intent_id))

    @router.post("/v1/payment_intents/{intent_id}/refunds")
    async def refund(request: Request, intent_id: str, body: RefundIn, key: IdempotencyKey) -> Response:
        """Refund part or all of what was captured."""
        return await run(
            request,
            "refund",
            key,
            lambda: sim.refund(intent_id, amount=body.amount, reference=body.reference),
        )

    @router.get("/v1/payment_intents/{intent_id}")
    async def get(intent_id: str) -> Response:
        intent = sim.get(intent_id)
        if intent is None:
            return _answer(error(404, "intent_not_found", "no such payment intent"))
        return _json(intent.as_json())

    @router.get("/v1/payment_intents/{intent_id}/captures")
    async def captures(intent_id: str) -> Response:
        """Every capture of one intent: tests count these to prove no double charge."""
        intent = sim.get(intent_id)
        if intent is None:
            return _answer(error(404, "intent_not_found", "no such payment intent"))
        items = intent.as_json()["captures"]
        return _json({"intent": intent_id, "count": len(items), "data": items})

    @router.get("/v1/payment_intents")
    async def search(reference: Annotated[str | None, Query(max_length=255)] = None) -> Response:
        """Intents, all of them or the one with this merchant reference."""
        return _json({"data": [i.as_json() for i in sim.find(reference=reference)]})

    @router.get("/v1/_sim/stats")
    async def stats() -> Response:
        return _json({**sim.stats(), "webhooks": service.webhooks.stats(), "faults": vars(sim.faults)})

    @router.patch("/v1/_sim/faults")
    async def set_faults(body: FaultsIn) -> Response:
        """Change the injected faults at run time (only the fields given)."""
        changes = body.model_dump(exclude_none=True)
        try:
            sim.faults = sim.faults.with_changes(**changes)
        except ValueError as exc:
            return _answer(error(400, "faults_invalid", str(exc)))
        return _json(vars(sim.faults))

    @router.post("/v1/_sim/events/{event_id}/redeliver")
    async def redeliver(event_id: str) -> Response:
        if not service.webhooks.redeliver(event_id):
            return _answer(error(404, "event_not_found", "no such event, or webhooks are off"))
        return _json({"redelivering": event_id}, 202)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return router


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = [".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()]
    return _answer(error(400, "invalid_request", "the request is invalid", fields=fields))


def create_app(service: SimulatorService) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.close()

    app = FastAPI(title="Orderly payment simulator", lifespan=lifespan, docs_url="/docs")
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(_router(service))
    app.state.service = service
    return app
