"""Wires ordering: tables, unit of work, pricing rules, the saga's consumers and sweep, routes.

Ordering calls the catalog, inventory and payments facades in-process, so a
process running ordering also runs those modules. The cart and identity
facades are looked up on use: carts may be served by a module built after
this one, and a process without identity still takes checkouts with a typed
address and e-mail (saved addresses then answer 503).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar, cast

from fastapi import APIRouter

from orderly.modules.cart.api import CartApi
from orderly.modules.catalog.api import CatalogApi
from orderly.modules.identity.api import IdentityApi
from orderly.modules.inventory.api import InventoryApi
from orderly.modules.ordering.adapters import tables
from orderly.modules.ordering.adapters.consumers import (
    FULFILMENT_EVENTS,
    FULFILMENT_PROGRESS,
    PAYMENT_EVENTS,
    PAYMENT_RESULTS,
    SAGA_EVENTS,
    fulfilment_handler,
    payment_results_handler,
    saga_handler,
)
from orderly.modules.ordering.adapters.http import build_router
from orderly.modules.ordering.adapters.queries import SqlOrderQueries
from orderly.modules.ordering.adapters.repository import OrderingSqlUnitOfWork
from orderly.modules.ordering.adapters.sweeper import SagaSweeper
from orderly.modules.ordering.application.ports import OrderingDeps
from orderly.modules.ordering.application.saga import SAGA_CONSUMER
from orderly.modules.ordering.domain.pricing import PricingRules
from orderly.modules.ordering.domain.saga import SagaPolicy
from orderly.modules.payments.api import PaymentsApi
from orderly.platform.messaging.port import Subscription
from orderly.platform.modules import BackgroundTask, ModuleContext

REQUIRED_FACADES = ("catalog", "inventory", "payments")


class OrderingModule:
    name: ClassVar[str] = "ordering"
    metadata = tables.metadata
    outbox = tables.outbox
    consumes: ClassVar[Sequence[tuple[str, tuple[str, ...]]]] = (
        (SAGA_CONSUMER, SAGA_EVENTS),
        (PAYMENT_RESULTS, PAYMENT_EVENTS),
        (FULFILMENT_PROGRESS, FULFILMENT_EVENTS),
    )

    def __init__(self, ctx: ModuleContext) -> None:
        missing = [name for name in REQUIRED_FACADES if ctx.facades.get(name) is None]
        if missing:
            raise RuntimeError(f"ordering needs the {', '.join(missing)} module(s) in the same process")
        self._ctx = ctx
        self._cart_override: CartApi | None = None
        settings = ctx.settings
        self.deps = OrderingDeps(
            uow_factory=self.unit_of_work,
            catalog=cast(CatalogApi, ctx.facades["catalog"]),
            inventory=cast(InventoryApi, ctx.facades["inventory"]),
            payments=cast(PaymentsApi, ctx.facades["payments"]),
            cart=self._cart,
            identity=self._identity,
            pricing=PricingRules(
                shipping_rates=settings.ordering_shipping_rates, tax_rates=settings.ordering_tax_rates
            ),
            policy=SagaPolicy(
                step_timeout=timedelta(seconds=settings.ordering_step_timeout_s),
                max_attempts=settings.ordering_step_max_attempts,
                unpaid_ttl=timedelta(seconds=settings.ordering_unpaid_order_ttl_s),
            ),
        )
        self.queries = SqlOrderQueries(ctx.engine)
        self.sweeper = SagaSweeper(
            deps=self.deps,
            interval_s=settings.ordering_sweep_interval_s,
            batch_size=settings.ordering_sweep_batch_size,
        )

    def unit_of_work(self) -> OrderingSqlUnitOfWork:
        # READ COMMITTED with row locks: every change to an order locks its row
        # (FOR UPDATE) first, so a saga step, an event and a person acting on
        # one order are serialised; different orders never wait on each other.
        return OrderingSqlUnitOfWork(
            self._ctx.engine,
            outbox=tables.outbox,
            inbox=tables.inbox,
            partitions=self._ctx.settings.outbox_partitions,
            isolation_level="READ COMMITTED",
        )

    def use_cart(self, cart: CartApi) -> None:
        """Serve carts from ``cart`` instead of the cart module's facade (tests, other wiring)."""
        self._cart_override = cart

    def _cart(self) -> CartApi | None:
        if self._cart_override is not None:
            return self._cart_override
        found: Any = self._ctx.facades.get("cart")
        return cast(CartApi | None, found)

    def _identity(self) -> IdentityApi | None:
        found: Any = self._ctx.facades.get("identity")
        return cast(IdentityApi | None, found)

    def facade(self) -> None:
        return None

    def routers(self) -> Sequence[APIRouter]:
        return [build_router(deps=self.deps, queries=self.queries)]

    def subscriptions(self) -> Sequence[Subscription]:
        return [
            Subscription(consumer=SAGA_CONSUMER, event_types=SAGA_EVENTS, handler=saga_handler(self.deps)),
            Subscription(
                consumer=PAYMENT_RESULTS,
                event_types=PAYMENT_EVENTS,
                handler=payment_results_handler(self.deps),
            ),
            Subscription(
                consumer=FULFILMENT_PROGRESS,
                event_types=FULFILMENT_EVENTS,
                handler=fulfilment_handler(self.deps),
            ),
        ]

    def background_tasks(self) -> Sequence[BackgroundTask]:
        return [self.sweeper.run_forever]
