"""What the fulfilment use cases need: storage of whole orders with their shipments."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from orderly.modules.fulfilment.domain.model import FulfilmentOrder


class FulfilmentRepository(Protocol):
    async def add(self, order: FulfilmentOrder) -> bool:
        """Insert; False if fulfilment already follows this order (nothing written)."""
        ...

    async def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> FulfilmentOrder | None: ...

    async def order_of_shipment(self, shipment_id: uuid.UUID) -> uuid.UUID | None: ...

    async def save(self, order: FulfilmentOrder) -> None: ...


class FulfilmentUnitOfWork(Protocol):
    @property
    def orders(self) -> FulfilmentRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


UowFactory = Callable[[], FulfilmentUnitOfWork]
