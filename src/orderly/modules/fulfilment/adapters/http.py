"""The fulfilment API (staff and services): create shipments of confirmed orders, ship, deliver.

Writes need ``orders:write``, reads ``orders:read``, on a staff or service
token; customers follow their order's ``fulfilment`` on the order itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.params import Depends as DependsParam
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.exceptions import HTTPException

from orderly.modules.fulfilment.application.handlers import (
    CreateShipment,
    ShipShipment,
    create_shipment,
    deliver,
    ship,
    shipment_of,
    shipments_of,
)
from orderly.modules.fulfilment.application.ports import UowFactory
from orderly.modules.fulfilment.domain.model import Shipment
from orderly.platform.auth import Principal, requires
from orderly.platform.http.problems import problem_responses
from orderly.platform.http.types import WHOLE_FLOATS, SafeStr

ORDERS_READ = "orders:read"
ORDERS_WRITE = "orders:write"
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def staff(scope: str) -> DependsParam:
    inner = requires(scope)

    async def dependency(principal: Principal = Depends(inner)) -> Principal:
        if principal.kind == "customer":
            raise HTTPException(403, "Shipments are handled by staff.")
        return principal

    marker: DependsParam = Depends(dependency)
    return marker


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
    quantity: Annotated[int, Field(strict=True, ge=1, le=100_000), WHOLE_FLOATS]


class ShipmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: uuid.UUID
    lines: list[LineIn] | None = Field(
        default=None,
        max_length=100,
        description="What goes in this parcel; omitted: everything of the order not yet in a shipment.",
    )


class ShipIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tracking_number: Annotated[SafeStr, StringConstraints(min_length=1, max_length=64)]
    carrier: Annotated[SafeStr, StringConstraints(min_length=1, max_length=100)] | None = None


class LineOut(BaseModel):
    sku: str
    quantity: int


class ShipmentOut(BaseModel):
    id: uuid.UUID
    order_id: uuid.UUID
    status: str = Field(description="pending, shipped, delivered, or cancelled (with its order).")
    lines: list[LineOut]
    carrier: str | None
    tracking_number: str | None
    created_at: datetime
    shipped_at: datetime | None
    delivered_at: datetime | None


def _out(order_id: uuid.UUID, shipment: Shipment) -> ShipmentOut:
    return ShipmentOut(
        id=shipment.id,
        order_id=order_id,
        status=shipment.status.value,
        lines=[LineOut(sku=sku, quantity=qty) for sku, qty in sorted(shipment.lines.items())],
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        created_at=shipment.created_at,
        shipped_at=shipment.shipped_at,
        delivered_at=shipment.delivered_at,
    )


def build_router(*, uow_factory: UowFactory) -> APIRouter:
    router = APIRouter(tags=["fulfilment"])

    @router.post(
        "/v1/shipments",
        status_code=status.HTTP_201_CREATED,
        response_model=ShipmentOut,
        responses=problem_responses(401, 403, 409, 422),
        dependencies=[staff(ORDERS_WRITE)],
        summary="Create a shipment",
    )
    async def create(body: ShipmentIn, response: Response) -> ShipmentOut:
        """Start a shipment of a confirmed order: some lines and quantities (partial
        fulfilment) or, without `lines`, everything not yet in a shipment. More than
        is left to ship is 422 `shipment-exceeds-order`; an order fulfilment does not
        know as confirmed, or that was cancelled, is 409 `order-not-shippable`."""
        lines: dict[str, int] | None = None
        if body.lines is not None:
            lines = {}
            for line in body.lines:
                lines[line.sku] = lines.get(line.sku, 0) + line.quantity
        shipment = await create_shipment(
            CreateShipment(order_id=body.order_id, lines=lines), uow_factory=uow_factory
        )
        response.headers["Location"] = f"/v1/shipments/{shipment.id}"
        return _out(body.order_id, shipment)

    @router.post(
        "/v1/shipments/{shipment_id}/ship",
        response_model=ShipmentOut,
        responses=problem_responses(401, 403, 404, 409, 422),
        dependencies=[staff(ORDERS_WRITE)],
        summary="Mark a shipment shipped",
    )
    async def mark_shipped(shipment_id: uuid.UUID, body: ShipIn) -> ShipmentOut:
        """The parcel left with a carrier under `tracking_number`. Sending the same
        tracking number again changes nothing; a shipped or delivered shipment cannot
        be shipped under another (409 `shipment-illegal-transition`)."""
        shipment = await ship(
            ShipShipment(shipment_id=shipment_id, tracking_number=body.tracking_number, carrier=body.carrier),
            uow_factory=uow_factory,
        )
        order_id, _ = await shipment_of(shipment_id, uow_factory=uow_factory)
        return _out(order_id, shipment)

    @router.post(
        "/v1/shipments/{shipment_id}/deliver",
        response_model=ShipmentOut,
        responses=problem_responses(401, 403, 404, 409, 422),
        dependencies=[staff(ORDERS_WRITE)],
        summary="Mark a shipment delivered",
    )
    async def mark_delivered(shipment_id: uuid.UUID) -> ShipmentOut:
        """The carrier delivered the parcel. Only a shipped shipment can be delivered;
        delivering it again changes nothing. Once every line of the order is delivered,
        the order becomes `delivered`."""
        shipment = await deliver(shipment_id, uow_factory=uow_factory)
        order_id, _ = await shipment_of(shipment_id, uow_factory=uow_factory)
        return _out(order_id, shipment)

    @router.get(
        "/v1/shipments/{shipment_id}",
        response_model=ShipmentOut,
        responses=problem_responses(401, 403, 404, 422),
        dependencies=[staff(ORDERS_READ)],
        summary="One shipment",
    )
    async def get(shipment_id: uuid.UUID) -> ShipmentOut:
        """A shipment with its lines and tracking."""
        order_id, shipment = await shipment_of(shipment_id, uow_factory=uow_factory)
        return _out(order_id, shipment)

    @router.get(
        "/v1/shipments",
        response_model=list[ShipmentOut],
        responses=problem_responses(401, 403, 422),
        dependencies=[staff(ORDERS_READ)],
        summary="An order's shipments",
    )
    async def list_for_order(order_id: Annotated[uuid.UUID, Query()]) -> list[ShipmentOut]:
        """Every shipment of one order, oldest first."""
        return [_out(order_id, s) for s in await shipments_of(order_id, uow_factory=uow_factory)]

    return router
