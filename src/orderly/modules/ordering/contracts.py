"""Integration events the ordering module publishes (versioned; add fields, never change them).

Amounts are decimal strings in the order's currency. ``aggregate_id`` is the
order id, so one order's events keep their order per partition; consumers
that may see them out of order (competing consumers) should rely on the
fields, not on arrival order (``OrderStatusChanged`` names both states).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from orderly.shared_kernel.domain import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class OrderLineSnapshot:
    sku: str
    product_id: str
    quantity: int
    unit_price: str
    line_total: str


@dataclass(frozen=True, kw_only=True)
class OrderEvent(IntegrationEvent):
    aggregate_type: ClassVar[str] = "order"

    order_id: str


@dataclass(frozen=True, kw_only=True)
class OrderPlaced(OrderEvent):
    """A checkout became an order; the saga now reserves stock and takes payment."""

    event_type: ClassVar[str] = "ordering.order_placed.v1"

    customer_id: str | None
    email: str
    currency: str
    total: str
    lines: tuple[OrderLineSnapshot, ...]


@dataclass(frozen=True, kw_only=True)
class OrderConfirmed(OrderEvent):
    """Stock is deducted and the payment captured: the order can be fulfilled.

    Carries everything fulfilment needs, so it never reads ordering's tables.
    """

    event_type: ClassVar[str] = "ordering.order_confirmed.v1"

    customer_id: str | None
    email: str
    currency: str
    total: str
    lines: tuple[OrderLineSnapshot, ...]
    shipping_address: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class OrderStatusChanged(OrderEvent):
    """Every change of an order's status (``reason`` says why, for terminal ones)."""

    event_type: ClassVar[str] = "ordering.order_status_changed.v1"

    from_status: str
    to_status: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(OrderEvent):
    """The order will not be fulfilled.

    ``restock`` lists the quantities whose stock had already been deducted
    (the order was confirmed) and that are still in the warehouse: inventory
    should put them back. It is empty when the stock was only reserved (the
    saga released it).
    """

    event_type: ClassVar[str] = "ordering.order_cancelled.v1"

    reason: str
    cancelled_by: str  # customer | staff | system
    restock: tuple[OrderLineSnapshot, ...] = ()


@dataclass(frozen=True, kw_only=True)
class OrderRefunded(OrderEvent):
    """``amount`` went back to the customer; ``total_refunded`` is the running total."""

    event_type: ClassVar[str] = "ordering.order_refunded.v1"

    refund_id: str
    amount: str
    currency: str
    total_refunded: str
    fully_refunded: bool


ORDER_EVENT_TYPES: tuple[str, ...] = (
    OrderPlaced.event_type,
    OrderConfirmed.event_type,
    OrderStatusChanged.event_type,
    OrderCancelled.event_type,
    OrderRefunded.event_type,
)
