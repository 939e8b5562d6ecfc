"""The inventory's REST endpoints: stock, adjustments, reservations (warehouses: http_warehouses).

All of them are back-office: staff and services with ``inventory:read`` read,
with ``inventory:write`` change stock and hold it. Shoppers never call these;
checkout reserves stock through the inventory facade, in process.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from orderly.modules.inventory.adapters.facade import to_result
from orderly.modules.inventory.api import ReservationResult, ReservationStatusName
from orderly.modules.inventory.application.commands import (
    AdjustStock,
    ConfirmReservation,
    ReleaseReservation,
    ReserveStock,
)
from orderly.modules.inventory.application.handlers import (
    UowFactory,
    adjust_stock,
    confirm_reservation,
    release_reservation,
    reserve_stock,
)
from orderly.modules.inventory.application.queries import InventoryQueries
from orderly.modules.inventory.application.retry import RetryPolicy
from orderly.modules.inventory.domain.errors import ReservationNotFound, SkuNotFound
from orderly.modules.inventory.domain.reservation import (
    MAX_LINE_QUANTITY,
    MAX_LINES,
    MAX_TTL,
    MIN_TTL,
    REFERENCE_PATTERN,
    Line,
)
from orderly.modules.inventory.domain.stock import MAX_ADJUSTMENT, AdjustmentReason
from orderly.modules.inventory.domain.warehouse import CODE_PATTERN
from orderly.platform.auth import requires
from orderly.platform.http.pagination import decode_cursor, encode_cursor
from orderly.platform.http.problems import problem_response, problem_responses, scope_problems
from orderly.platform.http.types import WHOLE_FLOATS, SafeStr

INVENTORY_READ = "inventory:read"
INVENTORY_WRITE = "inventory:write"
READER = (Depends(requires(INVENTORY_READ)),)
WRITER = (Depends(requires(INVENTORY_WRITE)),)

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# Not on SafeStr (its pattern would be missing from the document); the pattern admits no NUL.
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
WarehouseCode = Annotated[str, StringConstraints(pattern=CODE_PATTERN.pattern)]
Reference = Annotated[str, StringConstraints(pattern=REFERENCE_PATTERN.pattern)]
# strict: a quantity is a JSON integer, never "5", 5.0 or true.
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_LINE_QUANTITY), WHOLE_FLOATS]
ReferencePath = Annotated[str, Path(pattern=REFERENCE_PATTERN.pattern)]
SkuPath = Annotated[str, Path(pattern=SKU_PATTERN)]


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    warehouse: WarehouseCode
    delta: Annotated[int, Field(strict=True, ge=-MAX_ADJUSTMENT, le=MAX_ADJUSTMENT), WHOLE_FLOATS] = Field(
        description="Units added (positive) or removed (negative); never zero."
    )
    reason: AdjustmentReason = Field(
        description="`received`, `returned`, `found` add; `damaged`, `lost` remove; `correction` either."
    )
    note: Annotated[SafeStr, StringConstraints(max_length=500)] | None = None


class LevelOut(BaseModel):
    warehouse: str
    priority: int
    active: bool
    on_hand: int
    reserved: int
    available: int


class StockOut(BaseModel):
    sku: str
    on_hand: int
    reserved: int
    available: int = Field(description="Unreserved stock in active warehouses: what can be reserved now.")
    warehouses: list[LevelOut]


class MovementOut(BaseModel):
    id: uuid.UUID
    sku: str
    warehouse: str
    kind: str = Field(description="adjustment, reservation, release, expiry or deduction.")
    reason: str | None
    on_hand_delta: int
    reserved_delta: int
    on_hand_after: int
    reserved_after: int
    reference: str | None
    note: str | None
    occurred_at: datetime


class AdjustmentOut(BaseModel):
    movement: MovementOut
    on_hand: int
    reserved: int
    available: int


class MovementPageOut(BaseModel):
    items: list[MovementOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last."
    )


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: Quantity


class ReservationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reference: Reference = Field(examples=["order-0193"], description="The caller's id (an order); unique.")
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)
    ttl_seconds: Annotated[
        int,
        Field(strict=True, ge=int(MIN_TTL.total_seconds()), le=int(MAX_TTL.total_seconds())),
        WHOLE_FLOATS,
    ] = Field(default=900, description="How long the stock is held unless confirmed or released.")


class LineOut(BaseModel):
    sku: str
    quantity: int


class AllocationOut(BaseModel):
    sku: str
    warehouse: str
    quantity: int


class ShortfallOut(BaseModel):
    sku: str
    requested: int
    available: int


class ReservationOut(BaseModel):
    reference: str
    status: ReservationStatusName
    lines: list[LineOut]
    allocations: list[AllocationOut]
    shortfalls: list[ShortfallOut]
    created_at: datetime
    expires_at: datetime | None
    closed_at: datetime | None


def _reservation_out(result: ReservationResult) -> ReservationOut:
    return ReservationOut(
        reference=result.reference,
        status=result.status,
        lines=[LineOut(sku=line.sku, quantity=line.quantity) for line in result.lines],
        allocations=[
            AllocationOut(sku=a.sku, warehouse=a.warehouse, quantity=a.quantity) for a in result.allocations
        ],
        shortfalls=[
            ShortfallOut(sku=s.sku, requested=s.requested, available=s.available) for s in result.shortfalls
        ],
        created_at=result.created_at,
        expires_at=result.expires_at,
        closed_at=result.closed_at,
    )


def build_router(*, uow_factory: UowFactory, retry: RetryPolicy, queries: InventoryQueries) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/v1/inventory/adjustments",
        summary="Adjust stock",
        status_code=status.HTTP_201_CREATED,
        response_model=AdjustmentOut,
        responses={**problem_responses(400, 409, 422), **scope_problems(INVENTORY_WRITE)},
        dependencies=WRITER,
        tags=["inventory"],
    )
    async def adjust(body: AdjustmentIn) -> AdjustmentOut:
        """Add or remove stock in one warehouse, for a reason; recorded in the
        SKU's movement history. Removing stock that is reserved is refused (409
        `insufficient-stock`); an unknown SKU or warehouse is 422."""
        adjusted = await adjust_stock(
            AdjustStock(
                sku=body.sku, warehouse=body.warehouse, delta=body.delta, reason=body.reason, note=body.note
            ),
            uow_factory=uow_factory,
            retry=retry,
        )
        m = adjusted.movement
        return AdjustmentOut(
            movement=MovementOut(
                id=m.id,
                sku=m.sku,
                warehouse=m.warehouse,
                kind=m.kind.value,
                reason=m.reason.value if m.reason else None,
                on_hand_delta=m.on_hand_delta,
                reserved_delta=m.reserved_delta,
                on_hand_after=m.on_hand_after,
                reserved_after=m.reserved_after,
                reference=m.reference,
                note=m.note,
                occurred_at=m.occurred_at,
            ),
            on_hand=adjusted.totals.on_hand,
            reserved=adjusted.totals.reserved,
            available=adjusted.totals.available,
        )

    @router.get(
        "/v1/inventory/{sku}",
        summary="Stock of a SKU",
        response_model=StockOut,
        responses={**problem_responses(404, 422), **scope_problems(INVENTORY_READ)},
        dependencies=READER,
        tags=["inventory"],
    )
    async def stock(sku: SkuPath) -> StockOut:
        """Stock of one SKU per warehouse and in total."""
        view = await queries.stock(sku)
        if view is None:
            raise SkuNotFound(sku)
        return StockOut(
            sku=view.sku,
            on_hand=view.on_hand,
            reserved=view.reserved,
            available=view.available,
            warehouses=[LevelOut(**asdict(level)) for level in view.levels],
        )

    @router.get(
        "/v1/inventory/{sku}/movements",
        summary="Movement history of a SKU",
        response_model=MovementPageOut,
        responses={**problem_responses(404, 422), **scope_problems(INVENTORY_READ)},
        dependencies=READER,
        tags=["inventory"],
    )
    async def movements(
        sku: SkuPath,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Query(max_length=512)] = None,
    ) -> MovementPageOut:
        """The SKU's movement history, newest first, a page at a time (keyset
        pagination: stable while new movements are appended)."""
        before = decode_cursor(cursor) if cursor else None
        page = await queries.movements(sku, limit=limit, before=before)
        if page is None:
            raise SkuNotFound(sku)
        next_cursor = encode_cursor(page.last_id) if page.has_more and page.last_id else None
        return MovementPageOut(items=[MovementOut(**asdict(m)) for m in page.items], next_cursor=next_cursor)

    @router.post(
        "/v1/reservations",
        summary="Reserve stock",
        status_code=status.HTTP_201_CREATED,
        response_model=ReservationOut,
        responses={**problem_responses(400, 409, 422), **scope_problems(INVENTORY_WRITE)},
        dependencies=WRITER,
        tags=["reservations"],
    )
    async def reserve(body: ReservationIn) -> ReservationOut | Response:
        """Hold stock of several SKUs for a reference (an order) until confirmed,
        released or expired. All or nothing: if a line cannot be covered nothing
        is held and the answer is 409 `reservation-rejected` listing the
        `shortfalls`. Idempotent per reference: the same request again returns
        the first outcome; other lines under a used reference are 409
        `reservation-reference-reused`. Unknown SKUs are 422 `unknown-sku`."""
        reservation = await reserve_stock(
            ReserveStock(
                reference=body.reference,
                lines=tuple(Line(sku=line.sku, quantity=line.quantity) for line in body.lines),
                ttl=timedelta(seconds=body.ttl_seconds),
            ),
            uow_factory=uow_factory,
            retry=retry,
        )
        result = to_result(reservation)
        if not result.reserved:
            return problem_response(
                409,
                "reservation-rejected",
                "Not enough stock",
                detail="Nothing was reserved: "
                + ", ".join(f"'{s.sku}' has {s.available} of {s.requested}" for s in result.shortfalls),
                reference=result.reference,
                shortfalls=[
                    {"sku": s.sku, "requested": s.requested, "available": s.available}
                    for s in result.shortfalls
                ],
            )
        return _reservation_out(result)

    @router.get(
        "/v1/reservations/{reference}",
        summary="Get a reservation",
        response_model=ReservationOut,
        responses={**problem_responses(404, 422), **scope_problems(INVENTORY_READ)},
        dependencies=READER,
        tags=["reservations"],
    )
    async def get_reservation(reference: ReferencePath) -> ReservationOut:
        """A reservation with its lines, where its stock is held, and its status."""
        result = await queries.reservation(reference)
        if result is None:
            raise ReservationNotFound(reference)
        return _reservation_out(result)

    @router.post(
        "/v1/reservations/{reference}/confirm",
        summary="Confirm a reservation",
        response_model=ReservationOut,
        responses={**problem_responses(404, 409, 422), **scope_problems(INVENTORY_WRITE)},
        dependencies=WRITER,
        tags=["reservations"],
    )
    async def confirm(reference: ReferencePath) -> ReservationOut:
        """Turn the held stock into a deduction (on hand and reserved both go
        down). Idempotent; after release or expiry it is refused (409
        `reservation-not-active`)."""
        reservation = await confirm_reservation(
            ConfirmReservation(reference=reference), uow_factory=uow_factory, retry=retry
        )
        return _reservation_out(to_result(reservation))

    @router.post(
        "/v1/reservations/{reference}/release",
        summary="Release a reservation",
        response_model=ReservationOut,
        responses={**problem_responses(404, 409, 422), **scope_problems(INVENTORY_WRITE)},
        dependencies=WRITER,
        tags=["reservations"],
    )
    async def release(reference: ReferencePath) -> ReservationOut:
        """Give the held stock back. Idempotent, also after expiry; refused once
        confirmed (409 `reservation-not-active`)."""
        reservation = await release_reservation(
            ReleaseReservation(reference=reference), uow_factory=uow_factory, retry=retry
        )
        return _reservation_out(to_result(reservation))

    return router
