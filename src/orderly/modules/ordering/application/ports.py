"""What the ordering use cases need from the outside: storage, other modules' facades, a clock."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from orderly.modules.cart.api import CartApi
from orderly.modules.catalog.api import CatalogApi
from orderly.modules.identity.api import IdentityApi
from orderly.modules.inventory.api import InventoryApi
from orderly.modules.ordering.domain.order import Order
from orderly.modules.ordering.domain.pricing import PricingRules
from orderly.modules.ordering.domain.saga import SagaPolicy, SagaStep
from orderly.modules.payments.api import PaymentsApi
from orderly.shared_kernel.domain import utcnow


class OrderRepository(Protocol):
    async def add(self, order: Order) -> bool:
        """Insert a new order; False if its checkout reference is already taken (nothing written)."""
        ...

    async def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None: ...

    async def get_by_checkout_reference(
        self, reference: str, *, for_update: bool = False
    ) -> Order | None: ...

    async def save(self, order: Order) -> None: ...

    async def awaiting_reservation(self, skus: list[str]) -> dict[str, int]:
        """Units of each SKU in orders placed but not yet reserved (their saga's first step)."""
        ...

    async def claim_overdue(self, *, now: datetime, limit: int) -> list[Order]:
        """Orders whose saga step is past its deadline, locked; rows another sweeper holds are skipped."""
        ...


class OrderingUnitOfWork(Protocol):
    @property
    def orders(self) -> OrderRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def already_processed(self, consumer: str, message_id: uuid.UUID) -> bool: ...

    async def claim_message(self, consumer: str, message_id: uuid.UUID) -> bool: ...


UowFactory = Callable[[], OrderingUnitOfWork]


async def _no_crash(step: SagaStep) -> None:
    return None


@dataclass(frozen=True)
class OrderingDeps:
    """Everything the use cases are wired with (one place: ``OrderingModule``)."""

    uow_factory: UowFactory
    catalog: CatalogApi
    inventory: InventoryApi
    payments: PaymentsApi
    # Looked up on use: the cart module may be built after ordering, or not at all.
    cart: Callable[[], CartApi | None]
    pricing: PricingRules
    policy: SagaPolicy
    # Looked up on use, like carts: customer accounts (saved addresses, e-mail)
    # may be served by another deployment, and then this process has none.
    identity: Callable[[], IdentityApi | None]
    clock: Callable[[], datetime] = field(default=utcnow)
    # Runs between a step's calls to other modules and the commit that records
    # their outcome: the reliability tests crash the process there.
    after_step_effects: Callable[[SagaStep], Awaitable[None]] = field(default=_no_crash)
