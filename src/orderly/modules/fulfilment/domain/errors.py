"""Why fulfilment refuses an operation. Each has a stable ``code`` (the problem type)."""

from __future__ import annotations

import uuid

from orderly.shared_kernel.errors import Conflict, InvalidInput, NotFound


class OrderNotShippable(Conflict):
    """Unknown to fulfilment (not confirmed, or not yet heard of) or cancelled."""

    code = "order-not-shippable"

    def __init__(self, order_id: uuid.UUID, *, why: str) -> None:
        super().__init__(f"order {order_id} cannot be shipped: {why}", order_id=str(order_id))


class NothingToShip(Conflict):
    code = "nothing-to-ship"

    def __init__(self, order_id: uuid.UUID) -> None:
        super().__init__("every line of this order is already in a shipment", order_id=str(order_id))


class TooMuchShipped(InvalidInput):
    code = "shipment-exceeds-order"

    def __init__(self, *, sku: str, requested: int, remaining: int, index: int) -> None:
        super().__init__(
            f"only {remaining} of '{sku}' are left to ship ({requested} requested)",
            sku=sku,
            remaining=remaining,
            field=f"lines.{index}.quantity",
        )


class ShipmentNotFound(NotFound):
    code = "shipment-not-found"

    def __init__(self, shipment_id: uuid.UUID) -> None:
        super().__init__("no shipment with this id", shipment_id=str(shipment_id))


class IllegalShipmentTransition(Conflict):
    code = "shipment-illegal-transition"

    def __init__(self, shipment_id: uuid.UUID, *, status: str, action: str) -> None:
        super().__init__(
            f"a {status} shipment cannot be {action}", shipment_id=str(shipment_id), shipment_status=status
        )
