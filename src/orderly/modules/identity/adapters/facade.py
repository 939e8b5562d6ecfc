"""In-process implementation of the identity facade."""

from __future__ import annotations

import uuid

from orderly.modules.identity.api import AddressSnapshot, CustomerSummary
from orderly.modules.identity.application.ports import IdentityQueries


class SqlIdentityApi:
    def __init__(self, queries: IdentityQueries) -> None:
        self._queries = queries

    async def customer(self, customer_id: uuid.UUID) -> CustomerSummary | None:
        view = await self._queries.customer(customer_id)
        return CustomerSummary(id=view.id, email=view.email, name=view.name) if view else None

    async def address(self, *, customer_id: uuid.UUID, address_id: uuid.UUID) -> AddressSnapshot | None:
        view = await self._queries.address(customer_id=customer_id, address_id=address_id)
        if view is None:
            return None
        return AddressSnapshot(
            id=view.id,
            customer_id=view.customer_id,
            recipient=view.recipient,
            line1=view.line1,
            line2=view.line2,
            city=view.city,
            postal_code=view.postal_code,
            region=view.region,
            country=view.country,
            phone=view.phone,
        )
