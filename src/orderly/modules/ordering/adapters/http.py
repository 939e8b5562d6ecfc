"""The ordering API: checkout, orders, cancellation, refunds.

Who may do what (scopes from the identity module):

* checkout: guests (no token) and customers (``orders:write``);
* read an order: its customer (``orders:read``), the guest holding its
  ``X-Order-Token``, staff and services with ``orders:read``;
* cancel: the same owners (``orders:write`` for customers) and staff with
  ``orders:write``; refund: staff with ``orders:write`` only.

Someone else's order is 404, never 403, so order ids cannot be probed.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from starlette.exceptions import HTTPException

from orderly.modules.cart.api import CartUnavailable
from orderly.modules.ordering.adapters.queries import OrderFilter, SqlOrderQueries
from orderly.modules.ordering.adapters.schemas import (
    CancelIn,
    CheckoutIn,
    CheckoutOut,
    HistoryItemOut,
    OrderOut,
    OrderPageOut,
    RefundIn,
    history_out,
    order_out,
    summary_out,
)
from orderly.modules.ordering.application.checkout import place_order
from orderly.modules.ordering.application.commands import (
    Caller,
    CancelOrder,
    PlaceOrder,
    RefundOrder,
    SavedAddress,
)
from orderly.modules.ordering.application.orders import cancel_order, get_order, refund_order
from orderly.modules.ordering.application.ports import OrderingDeps
from orderly.modules.ordering.domain.address import ShippingAddress
from orderly.platform.auth import Principal
from orderly.platform.auth.dependencies import authenticate, bearer_scheme, forbidden, optional_bearer_scheme
from orderly.platform.http.pagination import decode_cursor, encode_cursor
from orderly.platform.http.problems import problem_response, problem_responses
from orderly.platform.http.types import IsoDateTime
from orderly.platform.idempotency import OptionalIdempotencyKey, RequiredIdempotencyKey

ORDERS_READ = "orders:read"
ORDERS_WRITE = "orders:write"
GUEST_TOKEN_HEADER = "X-Order-Token"  # noqa: S105 - a header name, not a secret
CART_RETRY_AFTER_S = 5

StatusFilter = Literal[
    "pending",
    "awaiting_payment",
    "confirmed",
    "partially_fulfilled",
    "fulfilled",
    "delivered",
    "cancelled",
    "payment_failed",
    "rejected",
    "expired",
    "partially_refunded",
    "refunded",
]


async def optional_principal(request: Request, _: Any = Depends(optional_bearer_scheme)) -> Principal | None:
    """The verified caller, or None when the request carries no credentials at all (a guest)."""
    if not request.headers.getlist("authorization"):
        return None
    return await authenticate(request)


async def bearer_principal(request: Request, _: Any = Depends(bearer_scheme)) -> Principal | None:
    """The same, on routes that serve no guests: the handler answers 401 to None."""
    return await optional_principal(request)


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
BearerPrincipal = Annotated[Principal | None, Depends(bearer_principal)]
GuestToken = Annotated[
    str | None,
    Header(
        alias=GUEST_TOKEN_HEADER,
        max_length=100,
        description="A guest's access token for this order, as the checkout answered it.",
    ),
]


def caller_for(principal: Principal | None, guest_token: str | None, *, scope: str) -> Caller:
    """Who is asking, once their token has the scope the operation needs."""
    if principal is None:
        if guest_token is None:
            raise HTTPException(
                401,
                "An access token or the order's X-Order-Token is required.",
                headers={"WWW-Authenticate": 'Bearer realm="orderly"'},
            )
        return Caller(customer_id=None, staff=False, guest_token=guest_token)
    if scope not in principal.scopes:
        raise forbidden({scope}, "The access token lacks a scope this operation needs.")
    if principal.kind == "customer":
        if principal.customer_id is None:
            raise HTTPException(403, "This token's subject is not one of Orderly's customers.")
        return Caller(customer_id=principal.customer_id, staff=False)
    return Caller(customer_id=None, staff=True)


def _ship_to(body: CheckoutIn) -> ShippingAddress | SavedAddress:
    if body.shipping_address is not None:
        return ShippingAddress(**body.shipping_address.model_dump())
    assert body.shipping_address_id is not None  # CheckoutIn takes exactly one
    return SavedAddress(address_id=body.shipping_address_id)


def build_router(*, deps: OrderingDeps, queries: SqlOrderQueries) -> APIRouter:
    router = APIRouter(tags=["orders"])

    @router.post(
        "/v1/checkouts",
        status_code=status.HTTP_201_CREATED,
        response_model=CheckoutOut,
        responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
        summary="Check out a cart",
    )
    async def checkout(
        body: CheckoutIn, key: RequiredIdempotencyKey, principal: OptionalPrincipal, response: Response
    ) -> Any:
        """Turn a cart into an order, priced now from the catalog (line totals, shipping from
        the rate table, tax by destination), and start taking it through stock reservation,
        payment authorization, stock confirmation and capture. The answer is the order in
        `pending`; follow it with `GET /v1/orders/{id}`.

        `Idempotency-Key` is required: a retry returns the first answer and never makes a
        second order. Guests send no token and get the order's `access_token` back once;
        customers send theirs (`orders:write`).

        Where it goes: `shipping_address` typed in, or (signed-in customers) the id of one
        of their saved addresses as `shipping_address_id`, copied into the order as it is
        now. `email` may be left out by customers (their account's e-mail is used); guests
        must send it.

        Refused, with nothing reserved or charged: unknown cart 404 `cart-not-found`; empty
        cart 422 `cart-empty`; address fields missing, or both or neither of
        `shipping_address` and `shipping_address_id`, 422 `validation-error`; a guest
        without `email`, a guest sending `shipping_address_id` (422 rather than 403:
        guests may check out, only this field is not theirs to use), or an id that is not
        one of the customer's addresses ("no such address", whether or not it exists) 422
        `invalid-input` naming the field; a variant not on sale 422 `variant-unavailable`;
        no shipping to the country 422 `shipping-not-available`; more than inventory can
        reserve right now 409 `insufficient-stock`. Carts unreachable: 503
        `cart-store-unavailable` with `Retry-After`; customer accounts not served by this
        deployment (saved address, or e-mail left out): 503 `identity-unavailable` with
        `Retry-After`."""
        customer_id: uuid.UUID | None = None
        if principal is not None:
            if principal.kind != "customer" or principal.customer_id is None:
                raise HTTPException(403, "Checkout is for customers and guests.")
            if ORDERS_WRITE not in principal.scopes:
                raise forbidden({ORDERS_WRITE}, "The access token lacks a scope this operation needs.")
            customer_id = principal.customer_id
        try:
            placed = await place_order(
                PlaceOrder(
                    cart_id=body.cart_id,
                    email=body.email,
                    address=_ship_to(body),
                    customer_id=customer_id,
                    checkout_reference=str(key.derive("order")),
                    attempt=key.attempt,
                ),
                deps=deps,
            )
        except CartUnavailable:
            return problem_response(
                503,
                "cart-store-unavailable",
                "Carts unavailable",
                detail="Carts cannot be read right now; nothing was ordered. Retry shortly.",
                headers={"Retry-After": str(CART_RETRY_AFTER_S)},
            )
        response.headers["Location"] = f"/v1/orders/{placed.order.id}"
        return CheckoutOut(**order_out(placed.order), access_token=placed.guest_token)

    @router.get(
        "/v1/orders/{order_id}",
        response_model=OrderOut,
        responses=problem_responses(401, 403, 404, 422),
        summary="One order",
    )
    async def get(order_id: uuid.UUID, principal: OptionalPrincipal, guest_token: GuestToken = None) -> Any:
        """An order with its lines, totals, refunds and progress: for its customer
        (`orders:read`), the guest with its `X-Order-Token`, or staff with `orders:read`."""
        caller = caller_for(principal, guest_token, scope=ORDERS_READ)
        return OrderOut(**order_out(await get_order(order_id, caller, deps=deps)))

    @router.get(
        "/v1/orders/{order_id}/history",
        response_model=list[HistoryItemOut],
        responses=problem_responses(401, 403, 404, 422),
        summary="An order's history",
    )
    async def history(
        order_id: uuid.UUID, principal: OptionalPrincipal, guest_token: GuestToken = None
    ) -> Any:
        """Everything that happened to the order, oldest first: status changes (with the
        reason), saga steps and their attempts, compensation, refunds, fulfilment."""
        caller = caller_for(principal, guest_token, scope=ORDERS_READ)
        await get_order(order_id, caller, deps=deps)
        return [history_out(item) for item in await queries.history(order_id)]

    @router.get(
        "/v1/orders",
        response_model=OrderPageOut,
        responses=problem_responses(401, 403, 422),
        summary="List orders",
    )
    async def list_orders(
        principal: BearerPrincipal,
        status_: Annotated[list[StatusFilter] | None, Query(alias="status")] = None,
        placed_from: Annotated[IsoDateTime | None, Query(description="Inclusive, ISO 8601.")] = None,
        placed_to: Annotated[IsoDateTime | None, Query(description="Exclusive, ISO 8601.")] = None,
        customer_id: Annotated[uuid.UUID | None, Query(description="Staff only.")] = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
    ) -> OrderPageOut:
        """Newest first. A customer (`orders:read`) sees only their own orders; staff
        (`orders:read`) see all and can filter by `status` (repeatable), by the date range
        `placed_from`/`placed_to`, and by `customer_id`. Keyset pagination: pass the
        answer's `next_cursor` as `cursor`."""
        if principal is None:
            raise HTTPException(
                401, "An access token is required.", headers={"WWW-Authenticate": 'Bearer realm="orderly"'}
            )
        caller = caller_for(principal, None, scope=ORDERS_READ)
        owner = caller.customer_id if not caller.staff else customer_id
        where = OrderFilter(
            customer_id=owner,
            statuses=tuple(status_ or ()),
            placed_from=placed_from,
            placed_to=placed_to,
            after=decode_cursor(cursor) if cursor else None,
            limit=limit + 1,
        )
        rows = await queries.page(where)
        page = rows[:limit]
        next_cursor = encode_cursor(page[-1].id) if len(rows) > limit else None
        return OrderPageOut(items=[summary_out(row) for row in page], next_cursor=next_cursor)

    @router.post(
        "/v1/orders/{order_id}/cancel",
        response_model=OrderOut,
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Cancel an order",
    )
    async def cancel(
        order_id: uuid.UUID,
        principal: OptionalPrincipal,
        guest_token: GuestToken = None,
        body: CancelIn | None = None,
    ) -> Any:
        """Cancel before fulfilment: the order's customer (`orders:write`), its guest
        (`X-Order-Token`) or staff (`orders:write`). Stock held for it is released and an
        authorization voided; a confirmed order (paid, nothing shipped yet) is refunded in
        full and its stock reported for restocking (`ordering.order_cancelled.v1`).
        409 `order-being-confirmed` while payment is being taken (retry shortly);
        409 `order-illegal-transition` once shipped (refund instead). Cancelling a
        cancelled order changes nothing."""
        caller = caller_for(principal, guest_token, scope=ORDERS_WRITE)
        reason = body.reason if body is not None else "requested"
        order = await cancel_order(CancelOrder(order_id=order_id, caller=caller, reason=reason), deps=deps)
        return OrderOut(**order_out(order))

    @router.post(
        "/v1/orders/{order_id}/refunds",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=OrderOut,
        responses=problem_responses(401, 403, 404, 409, 422),
        summary="Refund an order (staff)",
    )
    async def refund(
        order_id: uuid.UUID,
        body: RefundIn,
        principal: BearerPrincipal,
        key: OptionalIdempotencyKey,
    ) -> Any:
        """Refund part or all of the captured amount (staff, `orders:write`). Accepted
        at once; the money moves in the background (`refunds[].status`), and the order
        becomes `partially_refunded` or `refunded`. Goods are not restocked by a refund:
        returned items are booked back through inventory adjustments (reason `returned`)
        when they arrive. With an `Idempotency-Key` a retry never refunds twice."""
        caller = caller_for(principal, None, scope=ORDERS_WRITE)
        if not caller.staff:
            raise HTTPException(403, "Refunds are made by staff.")
        # With a key, a re-execution after a crash names the same refund (never a second one).
        refund_id = key.derive("refund") if key is not None else uuid.uuid4()
        order = await refund_order(
            RefundOrder(
                order_id=order_id, refund_id=refund_id, amount=Decimal(body.amount), reason=body.reason
            ),
            deps=deps,
        )
        return OrderOut(**order_out(order))

    return router
