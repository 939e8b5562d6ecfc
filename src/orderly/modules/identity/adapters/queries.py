"""Read side: profiles and addresses, one query each. Ownership is part of every WHERE clause."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.identity.adapters.tables import addresses, customers, staff
from orderly.modules.identity.application.ports import AddressView, CustomerView, StaffView


class SqlIdentityQueries:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def customer(self, customer_id: uuid.UUID) -> CustomerView | None:
        query = select(customers.c.id, customers.c.email, customers.c.name, customers.c.created_at).where(
            customers.c.id == customer_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            return None
        return CustomerView(id=row.id, email=row.email, name=row.name, created_at=row.created_at)

    async def staff(self, staff_id: uuid.UUID) -> StaffView | None:
        query = select(staff.c.id, staff.c.email, staff.c.role, staff.c.created_at).where(
            staff.c.id == staff_id
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        if row is None:
            return None
        return StaffView(id=row.id, email=row.email, role=row.role, created_at=row.created_at)

    async def addresses(self, customer_id: uuid.UUID) -> list[AddressView]:
        query = select(addresses).where(addresses.c.customer_id == customer_id).order_by(addresses.c.id)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_address(row) for row in rows]

    async def address(self, *, customer_id: uuid.UUID, address_id: uuid.UUID) -> AddressView | None:
        query = select(addresses).where(addresses.c.id == address_id, addresses.c.customer_id == customer_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        return _address(row) if row is not None else None


def _address(row: Row[Any]) -> AddressView:
    return AddressView(
        id=row.id,
        customer_id=row.customer_id,
        recipient=row.recipient,
        line1=row.line1,
        line2=row.line2,
        city=row.city,
        postal_code=row.postal_code,
        region=row.region,
        country=row.country,
        phone=row.phone,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )
