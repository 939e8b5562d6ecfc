"""Fulfilment follows ordering: confirmed orders become shippable, cancelled ones stop being."""

from __future__ import annotations

import uuid

from orderly.modules.fulfilment.adapters.repository import FulfilmentSqlUnitOfWork
from orderly.modules.fulfilment.application.handlers import follow_confirmed_order, stop_following
from orderly.modules.ordering.contracts import OrderCancelled, OrderConfirmed
from orderly.platform.events import Message, from_message
from orderly.platform.messaging.port import PoisonMessage

ORDER_INTAKE = "fulfilment.order-intake"
ORDER_EVENTS: tuple[str, ...] = (OrderConfirmed.event_type, OrderCancelled.event_type)


async def on_order_event(message: Message, uow: FulfilmentSqlUnitOfWork) -> None:
    if message.event_type == OrderConfirmed.event_type:
        confirmed = from_message(OrderConfirmed, message)
        lines: dict[str, int] = {}
        for line in confirmed.lines:
            lines[line.sku] = lines.get(line.sku, 0) + line.quantity
        await follow_confirmed_order(order_id=_id(confirmed.order_id), lines=lines, uow=uow)
    elif message.event_type == OrderCancelled.event_type:
        cancelled = from_message(OrderCancelled, message)
        await stop_following(order_id=_id(cancelled.order_id), uow=uow)


def _id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise PoisonMessage(f"not an order id: {value!r}") from None
