"""Test data for ordering: policies, pricing rules, addresses, orders in any saga state, wiring."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from orderly.modules.ordering.application.ports import OrderingDeps
from orderly.modules.ordering.domain.address import ShippingAddress
from orderly.modules.ordering.domain.order import CheckoutDraft, Order, OrderLine
from orderly.modules.ordering.domain.pricing import PriceableLine, PricingRules
from orderly.modules.ordering.domain.saga import SagaPolicy
from orderly.shared_kernel.money import Money
from tests.unit.ordering.fakes import (
    FakeCatalog,
    FakeIdentity,
    FakeInventory,
    FakePayments,
    InMemoryCarts,
    InMemoryOrders,
)

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = SagaPolicy(step_timeout=timedelta(seconds=30), max_attempts=3, unpaid_ttl=timedelta(minutes=15))
RULES = PricingRules(
    shipping_rates={"*": {"EUR": Decimal("9.90"), "JPY": Decimal("1200")}, "DE": {"EUR": Decimal("4.90")}},
    tax_rates={"DE": Decimal("0.19"), "*": Decimal("0")},
)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def address(**overrides: str) -> ShippingAddress:
    values = {
        "recipient": "Ada Lovelace",
        "line1": "Unter den Linden 1",
        "city": "Berlin",
        "postal_code": "10117",
        "country": "DE",
    }
    values.update(overrides)
    return ShippingAddress(**values)


def draft(
    lines: list[tuple[str, int, str]] | None = None,
    *,
    customer_id: uuid.UUID | None = None,
    country: str = "DE",
) -> CheckoutDraft:
    lines = lines if lines is not None else [("MUG-1", 2, "12.50")]
    totals = RULES.price(
        [PriceableLine(sku, qty, eur(price)) for sku, qty, price in lines], country=country, currency="EUR"
    )
    return CheckoutDraft(
        order_id=uuid.uuid4(),
        checkout_reference=str(uuid.uuid4()),
        customer_id=customer_id,
        email="ada@example.com",
        cart_id="cart-1",
        cart_version=1,
        address=address(country=country),
        lines=tuple(
            OrderLine(line.sku, uuid.uuid4(), line.quantity, line.unit_price, line.line_total)
            for line in totals.lines
        ),
        totals=totals,
    )


def placed(**kwargs: object) -> Order:
    order = Order.place(draft(**kwargs), now=T0, policy=POLICY)  # type: ignore[arg-type]
    order.collect_events()
    return order


def reserved() -> Order:
    order = placed()
    order.stock_reserved(now=T0, policy=POLICY)
    return order


def authorized() -> Order:
    order = reserved()
    order.payment_authorized(now=T0, policy=POLICY)
    return order


def stock_taken() -> Order:
    order = authorized()
    order.stock_confirmed_at_inventory(now=T0, policy=POLICY)
    return order


def confirmed() -> Order:
    order = stock_taken()
    order.payment_captured(amount=order.total, now=T0, policy=POLICY)
    order.collect_events()
    return order


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    """Ordering wired to fakes, with a controllable clock."""

    store: InMemoryOrders = field(default_factory=InMemoryOrders)
    catalog: FakeCatalog = field(default_factory=FakeCatalog)
    inventory: FakeInventory = field(default_factory=FakeInventory)
    payments: FakePayments = field(default_factory=FakePayments)
    carts: InMemoryCarts = field(default_factory=InMemoryCarts)
    identity: FakeIdentity = field(default_factory=FakeIdentity)
    clock: Clock = field(default_factory=Clock)
    pricing: PricingRules = RULES
    carts_served: bool = True
    identity_served: bool = True

    def deps(self) -> OrderingDeps:
        return OrderingDeps(
            uow_factory=self.store.uow,
            catalog=self.catalog,
            inventory=self.inventory,
            payments=self.payments,
            cart=lambda: self.carts if self.carts_served else None,
            identity=lambda: self.identity if self.identity_served else None,
            pricing=self.pricing,
            policy=POLICY,
            clock=self.clock,
        )

    def product(self, sku: str, price: str, stock: int, *, published: bool = True) -> None:
        self.catalog.sell(sku, price, published=published)
        self.inventory.stock(sku, stock)
