"""The warehouse endpoints: create, list, read, change (with ``If-Match``).

Changing a warehouse follows the catalog's product ``PATCH``: the version is
the ``ETag``, ``If-Match`` is required (428 without it), and a stale one is
412 with ``current_version`` and nothing written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from orderly.modules.inventory.adapters.http import (
    INVENTORY_READ,
    INVENTORY_WRITE,
    READER,
    WRITER,
    WarehouseCode,
)
from orderly.modules.inventory.application.commands import ChangeWarehouse, CreateWarehouse
from orderly.modules.inventory.application.handlers import UowFactory, change_warehouse, create_warehouse
from orderly.modules.inventory.application.queries import InventoryQueries, WarehouseView
from orderly.modules.inventory.application.retry import RetryPolicy
from orderly.modules.inventory.domain.errors import StaleWarehouseVersion, WarehouseNotFound
from orderly.modules.inventory.domain.warehouse import CODE_PATTERN, MAX_NAME, MAX_PRIORITY, Warehouse
from orderly.platform.http.preconditions import PreconditionProblem, etag, expected_version, stale
from orderly.platform.http.problems import problem_responses, scope_problems
from orderly.platform.http.types import WHOLE_FLOATS, SafeStr, null_refused

CodePath = Annotated[str, Path(pattern=CODE_PATTERN.pattern)]
Name = Annotated[SafeStr, StringConstraints(min_length=1, max_length=MAX_NAME)]
# strict: a priority is a JSON integer and a flag a JSON boolean, never "5" or "true".
Priority = Annotated[int, Field(strict=True, ge=0, le=MAX_PRIORITY), WHOLE_FLOATS]
Active = Annotated[bool, Field(strict=True)]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=64,
        description='The warehouse\'s `ETag` as last read (`"3"`), or `*`. A stale version answers 412.',
    ),
]


class WarehouseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: WarehouseCode = Field(examples=["AMS-1"], description="Upper-case, 1-32 characters; never changes.")
    name: Name
    priority: Priority = Field(default=100, description="Allocation rank: 0 is drawn from before 1.")
    active: bool = Field(
        default=True, description="Inactive warehouses keep their stock but are never allocated."
    )


class WarehousePatch(BaseModel):
    """Fields to change; absent fields stay as they are. At least one is needed."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    name: Name | None = Field(default=None, json_schema_extra=null_refused)
    priority: Priority | None = Field(
        default=None, description="Allocation rank: 0 is drawn from before 1.", json_schema_extra=null_refused
    )
    active: Active | None = Field(
        default=None,
        json_schema_extra=null_refused,
        description="false: new reservations stop drawing from it and its stock stops counting as "
        "available; existing reservations there can still be confirmed or released.",
    )

    @field_validator("name", "priority", "active", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null; leave the field out to keep it")
        return value

    @model_validator(mode="after")
    def _changes_something(self) -> WarehousePatch:
        if not self.model_fields_set:
            raise ValueError("send at least one of name, priority, active")
        return self


class WarehouseOut(BaseModel):
    code: str
    name: str
    priority: int
    active: bool
    created_at: datetime
    version: int = Field(description="Grows with every change; the `ETag` is this number.")


def _out(warehouse: WarehouseView | Warehouse) -> WarehouseOut:
    return WarehouseOut(
        code=warehouse.code,
        name=warehouse.name,
        priority=warehouse.priority,
        active=warehouse.active,
        created_at=warehouse.created_at,
        version=warehouse.version,
    )


def build_warehouse_router(
    *, uow_factory: UowFactory, retry: RetryPolicy, queries: InventoryQueries
) -> APIRouter:
    router = APIRouter(tags=["inventory"])

    @router.post(
        "/v1/warehouses",
        status_code=status.HTTP_201_CREATED,
        summary="Create a warehouse",
        response_model=WarehouseOut,
        responses={**problem_responses(400, 409, 422), **scope_problems(INVENTORY_WRITE)},
        dependencies=WRITER,
    )
    async def create(body: WarehouseIn, response: Response) -> WarehouseOut:
        """Create a warehouse. Codes are unique (409 `duplicate-warehouse`)."""
        warehouse = await create_warehouse(
            CreateWarehouse(code=body.code, name=body.name, priority=body.priority, active=body.active),
            uow=uow_factory(),
        )
        response.headers["Location"] = f"/v1/warehouses/{warehouse.code}"
        response.headers["ETag"] = etag(warehouse.version)
        return _out(warehouse)

    @router.get(
        "/v1/warehouses",
        response_model=list[WarehouseOut],
        summary="List warehouses",
        responses=scope_problems(INVENTORY_READ),
        dependencies=READER,
    )
    async def list_warehouses() -> list[WarehouseOut]:
        """Every warehouse, in allocation order (priority, then code), active or not."""
        return [_out(view) for view in await queries.warehouses()]

    @router.get(
        "/v1/warehouses/{code}",
        response_model=WarehouseOut,
        summary="Get a warehouse",
        responses={**problem_responses(404, 422), **scope_problems(INVENTORY_READ)},
        dependencies=READER,
    )
    async def get(code: CodePath, response: Response) -> WarehouseOut:
        """A warehouse; the `ETag` is its version, for `If-Match` on `PATCH`."""
        view = await queries.warehouse(code)
        if view is None:
            raise WarehouseNotFound(code)
        response.headers["ETag"] = etag(view.version)
        return _out(view)

    @router.patch(
        "/v1/warehouses/{code}",
        response_model=WarehouseOut,
        summary="Change a warehouse",
        responses={**problem_responses(400, 404, 409, 412, 422, 428), **scope_problems(INVENTORY_WRITE)},
        dependencies=WRITER,
    )
    async def patch(
        code: CodePath, body: WarehousePatch, response: Response, if_match: IfMatch = None
    ) -> WarehouseOut | Response:
        """Rename a warehouse, change its allocation `priority`, or stop and restart
        allocating from it (`active`). Absent fields stay. `If-Match` with the `ETag`
        from the last read is required (428 without it); if the warehouse changed
        since, the answer is 412 with `current_version` and nothing is written.

        Deactivating takes effect for every reservation that starts after this
        answer: no new reservation draws from the warehouse, and its stock stops
        counting as available (`inventory.stock_level_changed.v1` is published for
        each SKU with stock there, so the storefront follows). Reservations already
        holding stock there stay valid and can be confirmed or released, and stock
        can still be adjusted there (a stock count). Reactivating reverses it."""
        try:
            expected = expected_version(if_match, required=True, resource="warehouse")
            warehouse = await change_warehouse(
                ChangeWarehouse(
                    code=code,
                    expected_version=expected,
                    name=body.name,
                    priority=body.priority,
                    active=body.active,
                ),
                uow_factory=uow_factory,
                retry=retry,
            )
        except PreconditionProblem as problem:
            return problem.response
        except StaleWarehouseVersion as exc:
            return stale(exc.message, current_version=exc.current)
        response.headers["ETag"] = etag(warehouse.version)
        return _out(warehouse)

    return router
