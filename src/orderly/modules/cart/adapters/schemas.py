"""Request and response bodies of the cart API."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from orderly.modules.cart.application.handlers import MergeOutcome
from orderly.modules.cart.domain.cart import CART_ID_PATTERN, MAX_QUANTITY, SKU_PATTERN
from orderly.modules.cart.domain.merge import AdjustmentReason, MergeAdjustment
from orderly.modules.cart.domain.pricing import LineStatus, PricedCart, PricedLine
from orderly.platform.http.types import WHOLE_FLOATS
from orderly.shared_kernel.money import Money, is_currency

CartId = Annotated[str, StringConstraints(pattern=CART_ID_PATTERN)]
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class NewCartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: Currency | None = Field(
        default=None,
        description="ISO 4217 code the cart is priced in. Absent: the shop's default, or the "
        "customer's existing cart's currency.",
        examples=["EUR"],
    )

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str | None) -> str | None:
        if value is not None and not is_currency(value):
            raise ValueError("not an ISO 4217 currency code")
        return value


class LineQuantityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY), WHOLE_FLOATS] = Field(
        description="The line's new quantity; 0 removes the line.", examples=[2]
    )


class AddLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku = Field(examples=["MUG-1"])
    quantity: Annotated[int, Field(strict=True, ge=1, le=MAX_QUANTITY), WHOLE_FLOATS] = Field(
        description="How many to add to the line (created if absent).", examples=[1]
    )


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    guest_cart_id: CartId = Field(description="The cart the shopper filled before signing in.")


class MoneyOut(BaseModel):
    amount: str = Field(description="Decimal string with the currency's decimals.", examples=["12.50"])
    currency: str = Field(examples=["EUR"])


class CartLineOut(BaseModel):
    sku: str
    quantity: int
    status: LineStatus = Field(
        description="`not_for_sale`: the product was unpublished or archived; `unavailable`: the "
        "catalog no longer has the SKU, or no price in the cart's currency. Such lines count "
        "toward no total and cannot be checked out."
    )
    unit_price: MoneyOut | None = Field(description="The catalog's price now (null unless `ok`).")
    line_total: MoneyOut | None
    price_seen: MoneyOut | None = Field(
        description="The unit price the shopper was shown when they last changed this line."
    )
    price_changed: bool = Field(
        description="The price changed since the shopper last changed this line: show both prices. "
        "Checkout charges the price of the moment."
    )
    available: int | None = Field(
        description="Units in stock that can be reserved now; null when inventory does not track the SKU."
    )
    enough_stock: bool | None = Field(description="`quantity` <= `available` (null when unknown).")


class CartOut(BaseModel):
    id: str = Field(description="The cart's id. A guest cart's id is its only key: keep it private.")
    customer_id: uuid.UUID | None = Field(description="The owner; null for a guest cart.")
    currency: str
    version: int = Field(description="Increases with every change to the cart.")
    lines: list[CartLineOut] = Field(description="In the order they were first added.")
    item_count: int
    subtotal: MoneyOut = Field(description="Sum of the `ok` lines, before shipping and tax.")
    has_price_changes: bool
    has_unavailable_lines: bool
    has_stock_shortfalls: bool
    created_at: datetime
    updated_at: datetime
    expires_at: datetime = Field(description="When the cart is deleted unless it is used again.")


class MergeAdjustmentOut(BaseModel):
    sku: str
    reason: AdjustmentReason
    requested: int = Field(description="The quantity the merge would have made.")
    kept: int = Field(description="The quantity the line has after the merge (0: left out).")


class MergeOut(BaseModel):
    cart: CartOut
    merged: bool = Field(
        description="False when nothing changed: the guest cart was merged before (a repeated "
        "call) or is already this customer's cart."
    )
    adjustments: list[MergeAdjustmentOut] = Field(
        description="Guest lines that did not move over as they were."
    )


def money_out(money: Money) -> MoneyOut:
    return MoneyOut(amount=str(money.quantized()), currency=money.currency)


def _optional_money(money: Money | None) -> MoneyOut | None:
    return money_out(money) if money is not None else None


def _line_out(line: PricedLine) -> CartLineOut:
    return CartLineOut(
        sku=line.sku,
        quantity=line.quantity,
        status=line.status,
        unit_price=_optional_money(line.unit_price),
        line_total=_optional_money(line.line_total),
        price_seen=_optional_money(line.price_seen),
        price_changed=line.price_changed,
        available=line.available,
        enough_stock=line.enough_stock,
    )


def cart_out(priced: PricedCart, *, now: datetime, ttl: timedelta) -> CartOut:
    cart = priced.cart
    return CartOut(
        id=cart.id,
        customer_id=cart.customer_id,
        currency=cart.currency,
        version=cart.version,
        lines=[_line_out(line) for line in priced.lines],
        item_count=cart.item_count,
        subtotal=money_out(priced.subtotal),
        has_price_changes=priced.has_price_changes,
        has_unavailable_lines=priced.has_unavailable_lines,
        has_stock_shortfalls=priced.has_stock_shortfalls,
        created_at=cart.created_at,
        updated_at=cart.updated_at,
        # Every read extends the cart's life, so it lives a full TTL from now.
        expires_at=now + ttl,
    )


def _adjustment_out(adjustment: MergeAdjustment) -> MergeAdjustmentOut:
    return MergeAdjustmentOut(
        sku=adjustment.sku,
        reason=adjustment.reason,
        requested=adjustment.requested,
        kept=adjustment.kept,
    )


def merge_out(outcome: MergeOutcome, *, now: datetime, ttl: timedelta) -> MergeOut:
    return MergeOut(
        cart=cart_out(outcome.cart, now=now, ttl=ttl),
        merged=outcome.merged,
        adjustments=[_adjustment_out(a) for a in outcome.adjustments],
    )
