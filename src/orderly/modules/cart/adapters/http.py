"""The cart's REST endpoints: guest and customer carts, their lines, and the merge on sign-in."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from orderly.modules.cart.adapters.schemas import (
    AddLineIn,
    CartOut,
    LineQuantityIn,
    MergeIn,
    MergeOut,
    NewCartIn,
    cart_out,
    merge_out,
)
from orderly.modules.cart.api import CartUnavailable
from orderly.modules.cart.application.commands import (
    AddToCart,
    MergeGuestCart,
    OpenCart,
    RemoveLine,
    SetLineQuantity,
)
from orderly.modules.cart.application.handlers import CartService
from orderly.modules.cart.domain.cart import CART_ID_PATTERN, SKU_PATTERN
from orderly.platform.auth import Principal, requires_customer
from orderly.platform.auth.dependencies import authenticate, forbidden, optional_bearer_scheme
from orderly.platform.http.problems import problem_response, problem_responses
from orderly.shared_kernel.domain import utcnow

CARTS_SCOPE = "carts:write"

CartIdPath = Annotated[
    str,
    Path(
        pattern=CART_ID_PATTERN,
        description="The cart's id as `POST /v1/carts` returned it.",
    ),
]
SkuPath = Annotated[str, Path(pattern=SKU_PATTERN, max_length=64, examples=["MUG-1"])]


async def optional_customer(request: Request, _: Any = Depends(optional_bearer_scheme)) -> uuid.UUID | None:
    """No credentials: a guest. Credentials: they must be a customer's valid token."""
    if not request.headers.getlist("authorization"):
        return None
    principal = await authenticate(request)
    if principal.customer_id is None:
        raise HTTPException(
            403, "Carts belong to customers: send a customer's access token, or none for a guest cart."
        )
    if CARTS_SCOPE not in principal.scopes:
        raise forbidden({CARTS_SCOPE}, "The access token lacks a scope this operation needs.")
    return principal.customer_id


Caller = Annotated[uuid.UUID | None, Depends(optional_customer)]
SignedInCustomer = Annotated[Principal, Depends(requires_customer(CARTS_SCOPE))]


def _unavailable_maps_to_503(retry_after_s: int) -> type[APIRoute]:
    """Routes on which ``CartUnavailable`` answers 503 with ``Retry-After``.

    Exception handlers belong to the app, which a module does not own; the
    route class keeps the mapping with the routes that can raise it.
    """

    class CartRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def guarded(request: Request) -> Response:
                try:
                    return await handler(request)
                except CartUnavailable as exc:
                    return problem_response(
                        503,
                        exc.code,
                        "Cart store unavailable",
                        detail=exc.message,
                        headers={"Retry-After": str(retry_after_s), "Cache-Control": "no-store"},
                    )

            return guarded

    return CartRoute


def build_router(*, service: CartService, ttl: timedelta, retry_after_s: int) -> APIRouter:
    router = APIRouter(tags=["cart"], route_class=_unavailable_maps_to_503(retry_after_s))

    def answer(response: Response, priced: Any) -> CartOut:
        # A cart is one shopper's: never kept by a shared cache.
        response.headers["Cache-Control"] = "no-store"
        return cart_out(priced, now=utcnow(), ttl=ttl)

    @router.post(
        "/v1/carts",
        status_code=status.HTTP_201_CREATED,
        response_model=CartOut,
        responses={
            200: {"model": CartOut, "description": "The customer's existing cart."},
            **problem_responses(401, 403, 409, 422, 503),
        },
        summary="Open a cart",
    )
    async def open_cart(response: Response, caller: Caller, body: NewCartIn | None = None) -> CartOut:
        """Without credentials: a new guest cart (201). Its id is the only key to it, so
        keep it private; after signing in, merge it with `POST /v1/me/cart/merge`.

        With a customer's token: the customer's cart, created if they have none (201)
        or as it is (200). A customer has one cart. Asking for another `currency`
        switches an empty cart and answers 409 if the cart has lines.

        Carts live for `ORDERLY_CART_TTL_S` after their last use (any read or change)."""
        priced, created = await service.open_cart(
            OpenCart(customer_id=caller, currency=body.currency if body is not None else None)
        )
        response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        response.headers["Location"] = f"/v1/carts/{priced.cart.id}"
        return answer(response, priced)

    @router.get(
        "/v1/carts/{cart_id}",
        response_model=CartOut,
        responses=problem_responses(401, 403, 404, 422, 503),
        summary="Show a cart",
    )
    async def get_cart(cart_id: CartIdPath, caller: Caller, response: Response) -> CartOut:
        """The cart priced now: each line at the catalog's current price in the cart's
        currency, with line totals, the subtotal and current stock. Lines whose price
        changed since the shopper last changed them carry both prices
        (`price_seen`, `unit_price`, `price_changed`).

        A guest cart is shown to whoever has its id; a customer's cart only with that
        customer's token (anyone else: 404)."""
        return answer(response, await service.show(cart_id=cart_id, customer_id=caller))

    @router.put(
        "/v1/carts/{cart_id}/lines/{sku}",
        response_model=CartOut,
        responses=problem_responses(401, 403, 404, 409, 422, 503),
        summary="Set a line's quantity",
    )
    async def set_line(
        cart_id: CartIdPath, sku: SkuPath, body: LineQuantityIn, caller: Caller, response: Response
    ) -> CartOut:
        """Make the line of `sku` hold `quantity` (1-999), adding the line if needed;
        `0` removes it. The SKU must be for sale with a price in the cart's currency
        (422 naming the SKU otherwise); a cart holds at most 100 lines. Answers the
        cart after the change."""
        priced = await service.set_quantity(
            SetLineQuantity(cart_id=cart_id, customer_id=caller, sku=sku, quantity=body.quantity)
        )
        return answer(response, priced)

    @router.post(
        "/v1/carts/{cart_id}/lines",
        response_model=CartOut,
        responses=problem_responses(401, 403, 404, 409, 422, 503),
        summary="Add to a cart",
    )
    async def add_line(cart_id: CartIdPath, body: AddLineIn, caller: Caller, response: Response) -> CartOut:
        """Add `quantity` of `sku` to the cart (the "add to cart" button): the line's
        quantity grows by it, atomically, however many requests arrive at once. A line
        holds at most 999 (422 beyond, nothing added)."""
        priced = await service.add_to_cart(
            AddToCart(cart_id=cart_id, customer_id=caller, sku=body.sku, quantity=body.quantity)
        )
        return answer(response, priced)

    @router.delete(
        "/v1/carts/{cart_id}/lines/{sku}",
        response_model=CartOut,
        responses=problem_responses(401, 403, 404, 422, 503),
        summary="Remove a line",
    )
    async def remove_line(cart_id: CartIdPath, sku: SkuPath, caller: Caller, response: Response) -> CartOut:
        """Remove the line of `sku` (404 if the cart has no such line). Answers the cart."""
        priced = await service.remove_line(RemoveLine(cart_id=cart_id, customer_id=caller, sku=sku))
        return answer(response, priced)

    @router.get(
        "/v1/me/cart",
        response_model=CartOut,
        responses=problem_responses(401, 403, 404, 503),
        summary="The signed-in customer's cart",
    )
    async def my_cart(principal: SignedInCustomer, response: Response) -> CartOut:
        """The customer's cart, priced now; 404 if they have none (open one with
        `POST /v1/carts`)."""
        assert principal.customer_id is not None  # requires_customer guarantees it
        return answer(response, await service.show_customer_cart(customer_id=principal.customer_id))

    @router.post(
        "/v1/me/cart/merge",
        response_model=MergeOut,
        responses=problem_responses(401, 403, 404, 409, 422, 503),
        summary="Merge a guest cart into the customer's cart",
    )
    async def merge(body: MergeIn, principal: SignedInCustomer, response: Response) -> MergeOut:
        """Call right after signing in, with the cart the shopper filled as a guest.

        Quantities of a SKU in both carts are summed (at most 999 per line); the
        customer's cart takes at most 100 lines; the guest cart is deleted. If the
        customer's cart has lines, it keeps its currency and guest lines without a
        price in it are left out. Whatever did not move over as it was is listed in
        `adjustments`. Calling again with the same guest cart changes nothing and
        answers the customer's cart (`merged: false`)."""
        assert principal.customer_id is not None
        outcome = await service.merge(
            MergeGuestCart(customer_id=principal.customer_id, guest_cart_id=body.guest_cart_id)
        )
        response.headers["Cache-Control"] = "no-store"
        return merge_out(outcome, now=utcnow(), ttl=ttl)

    return router
