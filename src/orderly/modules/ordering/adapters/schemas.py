"""Request and response documents of the ordering API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from orderly.modules.ordering.adapters.queries import HistoryItem, OrderSummary
from orderly.modules.ordering.domain.address import FIELDS
from orderly.modules.ordering.domain.order import Order
from orderly.platform.http.types import SafeStr

EMAIL_PATTERN = r"^[^@\s\x00]{1,64}@[^@\s\x00]+\.[^@\s\x00]+$"
# The saga's current step: what the order is waiting for.
PROGRESS_DESCRIPTION = (
    "`reserve_stock`, `authorize_payment`, `confirm_stock`, `capture_payment` while checkout runs; "
    "`compensate` while stock and payment are given back; `refund` while a refund is paid out; `done`."
)


# The same bounds as the domain's ShippingAddress (FIELDS), checked at the edge
# so that every offending field is listed in one 422.
Line200 = Annotated[SafeStr, StringConstraints(min_length=1, max_length=FIELDS["line1"][1])]
OptionalLine200 = Annotated[SafeStr, StringConstraints(max_length=FIELDS["line2"][1])]
City = Annotated[SafeStr, StringConstraints(min_length=1, max_length=FIELDS["city"][1])]
PostalCode = Annotated[SafeStr, StringConstraints(min_length=1, max_length=FIELDS["postal_code"][1])]
Region = Annotated[SafeStr, StringConstraints(max_length=FIELDS["region"][1])]
Phone = Annotated[SafeStr, StringConstraints(min_length=1, max_length=FIELDS["phone"][1])]


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient: Line200
    line1: Line200
    line2: OptionalLine200 = ""
    city: City
    postal_code: PostalCode
    region: Region = ""
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        description="ISO 3166-1 alpha-2, in capitals.", examples=["DE"]
    )
    phone: Phone | None = None


class CheckoutIn(BaseModel):
    """Where the order goes is given exactly one way: ``shipping_address`` typed in, or
    ``shipping_address_id`` naming a saved one."""

    model_config = ConfigDict(extra="forbid")

    cart_id: Annotated[SafeStr, StringConstraints(min_length=1, max_length=100)]
    email: Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN)] | None = Field(
        default=None,
        description="Where order updates go. Required for guests; a signed-in customer may leave it "
        "out to use their account's e-mail.",
        examples=["ada@example.com"],
    )
    # Declared before ``shipping_address`` so that its validator sees both.
    shipping_address_id: uuid.UUID | None = Field(
        default=None,
        description="Signed-in customers only, instead of `shipping_address`: one of their saved "
        "addresses (`/v1/me/addresses`), copied into the order as it is now; later edits or its "
        "removal do not change the order. It passes the same checks as a typed address (required "
        "fields such as `postal_code`, a country shipped to), and a refusal names this field. An id "
        "that is not one of the customer's addresses is 422 `no such address`, whether or not it "
        "exists. A guest sending it is 422 too, not 403: guests may check out, it is only this "
        "field that needs an account.",
    )
    shipping_address: AddressIn | None = Field(
        default=None,
        validate_default=True,
        description="The address typed in at checkout. Send it or `shipping_address_id`, not both.",
    )

    @field_validator("shipping_address")
    @classmethod
    def _one_destination(cls, address: AddressIn | None, info: ValidationInfo) -> AddressIn | None:
        """Both or neither is one 422 naming ``shipping_address``; an id that failed its own
        validation has been reported already."""
        if "shipping_address_id" not in info.data:
            return address
        saved = info.data["shipping_address_id"] is not None
        if address is not None and saved:
            raise PydanticCustomError(
                "both_destinations", "send shipping_address or shipping_address_id, not both"
            )
        if address is None and not saved:
            raise PydanticCustomError(
                "missing_destination", "send shipping_address, or shipping_address_id for a saved address"
            )
        return address


class LineOut(BaseModel):
    sku: str
    product_id: uuid.UUID
    quantity: int
    unit_price: str
    line_total: str


class RefundOut(BaseModel):
    id: uuid.UUID
    amount: str
    reason: str
    status: str = Field(description="requested, succeeded or failed.")
    requested_at: datetime
    settled_at: datetime | None


class ProgressOut(BaseModel):
    step: str = Field(description=PROGRESS_DESCRIPTION)
    attempt: int
    deadline: datetime | None


class OrderOut(BaseModel):
    id: uuid.UUID
    status: str = Field(
        description="pending, awaiting_payment, confirmed, partially_fulfilled, fulfilled, delivered; "
        "or cancelled, payment_failed, rejected, expired, partially_refunded, refunded."
    )
    status_reason: str | None
    email: str
    customer_id: uuid.UUID | None
    currency: str
    lines: list[LineOut]
    subtotal: str
    shipping: str
    tax_rate: str
    tax: str
    total: str
    captured: str
    refunded: str
    fulfilment: str = Field(description="none, partially_fulfilled, fulfilled or delivered.")
    shipping_address: dict[str, str | None]
    refunds: list[RefundOut]
    progress: ProgressOut
    placed_at: datetime
    updated_at: datetime
    expires_at: datetime = Field(description="When the order expires if it is still unpaid.")


class CheckoutOut(OrderOut):
    access_token: str | None = Field(
        default=None,
        description="Guest checkouts only: send it as `X-Order-Token` to read or cancel this order. "
        "Shown once.",
    )


class OrderSummaryOut(BaseModel):
    id: uuid.UUID
    status: str
    customer_id: uuid.UUID | None
    email: str
    currency: str
    total: str
    fulfilment: str
    placed_at: datetime
    updated_at: datetime


class OrderPageOut(BaseModel):
    items: list[OrderSummaryOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class HistoryItemOut(BaseModel):
    id: int
    kind: str
    status: str
    data: dict[str, Any]
    occurred_at: datetime


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[SafeStr, StringConstraints(min_length=1, max_length=500)] = "requested"


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[str, StringConstraints(pattern=r"^\d{1,15}(\.\d{1,4})?$")] = Field(
        description="Decimal string in the order's currency, e.g. `12.50`.", examples=["12.50"]
    )
    reason: Annotated[SafeStr, StringConstraints(min_length=1, max_length=500)]


def order_out(order: Order) -> dict[str, Any]:
    return {
        "id": order.id,
        "status": order.status.value,
        "status_reason": order.status_reason,
        "email": order.email,
        "customer_id": order.customer_id,
        "currency": order.currency,
        "lines": [
            {
                "sku": line.sku,
                "product_id": line.product_id,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price.quantized()),
                "line_total": str(line.line_total.quantized()),
            }
            for line in order.lines
        ],
        "subtotal": str(order.subtotal.quantized()),
        "shipping": str(order.shipping.quantized()),
        "tax_rate": str(order.tax_rate),
        "tax": str(order.tax.quantized()),
        "total": str(order.total.quantized()),
        "captured": str(order.captured.quantized()),
        "refunded": str(order.refunded.quantized()),
        "fulfilment": order.fulfilment.value,
        "shipping_address": order.address.to_dict(),
        "refunds": [
            {
                "id": r.id,
                "amount": str(r.amount.quantized()),
                "reason": r.reason,
                "status": r.status.value,
                "requested_at": r.requested_at,
                "settled_at": r.settled_at,
            }
            for r in order.refunds
        ],
        "progress": {
            "step": order.saga.step.value,
            "attempt": order.saga.attempt,
            "deadline": order.saga.deadline,
        },
        "placed_at": order.placed_at,
        "updated_at": order.updated_at,
        "expires_at": order.expires_at,
    }


def summary_out(summary: OrderSummary) -> OrderSummaryOut:
    return OrderSummaryOut(
        id=summary.id,
        status=summary.status,
        customer_id=summary.customer_id,
        email=summary.email,
        currency=summary.currency,
        total=str(summary.total),
        fulfilment=summary.fulfilment,
        placed_at=summary.placed_at,
        updated_at=summary.updated_at,
    )


def history_out(item: HistoryItem) -> HistoryItemOut:
    return HistoryItemOut(
        id=item.id, kind=item.kind, status=item.status, data=item.data, occurred_at=item.occurred_at
    )
