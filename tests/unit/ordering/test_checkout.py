"""Checkout use case against fakes: pricing at checkout time, bad input refused with nothing
written, re-executions of one request making one order."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from orderly.modules.cart.api import CartNotFound, CartUnavailable
from orderly.modules.ordering.application.checkout import hash_guest_token, place_order
from orderly.modules.ordering.application.commands import PlaceOrder
from orderly.modules.ordering.contracts import OrderPlaced
from orderly.modules.ordering.domain.errors import (
    EmptyCart,
    InsufficientStock,
    ShippingNotAvailable,
    VariantUnavailable,
)
from orderly.modules.ordering.domain.order import OrderStatus
from orderly.modules.ordering.domain.pricing import PricingRules
from orderly.modules.ordering.domain.saga import SagaStepDue
from orderly.shared_kernel.errors import DomainError
from tests.unit.ordering.factories import World, address, eur


def command(
    cart_id: str,
    *,
    customer_id: uuid.UUID | None = None,
    reference: str | None = None,
    attempt: int = 1,
    country: str = "DE",
) -> PlaceOrder:
    return PlaceOrder(
        cart_id=cart_id,
        email="ada@example.com",
        address=address(country=country),
        customer_id=customer_id,
        checkout_reference=reference or str(uuid.uuid4()),
        attempt=attempt,
    )


@pytest.fixture
def world() -> World:
    w = World()
    w.product("MUG-1", "12.50", stock=10)
    w.product("TEE-1", "20.00", stock=3)
    return w


class TestCheckoutPricesTheCart:
    async def test_the_order_is_priced_from_the_catalog_at_checkout(self, world: World) -> None:
        cart = world.carts.put([("MUG-1", 2), ("TEE-1", 1)])
        world.catalog.sell("MUG-1", "13.00")  # repriced after the cart was filled
        placed = await place_order(command(cart), deps=world.deps())
        order = placed.order
        assert [(x.sku, x.quantity, x.unit_price, x.line_total) for x in order.lines] == [
            ("MUG-1", 2, eur("13.00"), eur("26.00")),
            ("TEE-1", 1, eur("20.00"), eur("20.00")),
        ]
        assert (order.subtotal, order.shipping, order.tax, order.total) == (
            eur("46.00"),
            eur("4.90"),
            eur("9.67"),
            eur("60.57"),
        )

    async def test_the_order_starts_pending_with_its_reservation_step_due(self, world: World) -> None:
        placed = await place_order(command(world.carts.put([("MUG-1", 1)])), deps=world.deps())
        stored = world.store.one()
        assert stored.status is OrderStatus.PENDING
        assert [type(e) for e in world.store.outbox] == [OrderPlaced, SagaStepDue]
        assert world.store.due_steps() == [(placed.order.id, "reserve_stock", 1)]
        # Checkout only looks: nothing is reserved or charged before the saga runs.
        assert world.inventory.reservations == {}
        assert world.payments.calls == []

    async def test_the_same_sku_on_two_lines_is_ordered_as_one(self, world: World) -> None:
        placed = await place_order(command(world.carts.put([("MUG-1", 1), ("MUG-1", 2)])), deps=world.deps())
        assert [(x.sku, x.quantity) for x in placed.order.lines] == [("MUG-1", 3)]

    async def test_a_guest_gets_a_token_for_the_order_and_a_customer_does_not(self, world: World) -> None:
        guest = await place_order(command(world.carts.put([("MUG-1", 1)])), deps=world.deps())
        assert guest.guest_token is not None
        assert guest.order.guest_token_hash == hash_guest_token(guest.guest_token)
        customer_id = uuid.uuid4()
        cart = world.carts.put([("MUG-1", 1)], customer_id=customer_id)
        mine = await place_order(command(cart, customer_id=customer_id), deps=world.deps())
        assert mine.guest_token is None
        assert mine.order.customer_id == customer_id


class TestCheckoutRefusesBadInput:
    @pytest.mark.parametrize(
        ("case", "error"),
        [
            ("unknown cart", CartNotFound),
            ("empty cart", EmptyCart),
            ("someone else's cart", CartNotFound),
            ("archived variant", VariantUnavailable),
            ("unknown variant", VariantUnavailable),
            ("variant never stocked", InsufficientStock),
            ("more than the stock", InsufficientStock),
            ("country not shipped to", ShippingNotAvailable),
            ("carts unreachable", CartUnavailable),
        ],
    )
    async def test_bad_input_is_refused_and_nothing_is_written(
        self, world: World, case: str, error: type[DomainError]
    ) -> None:
        world.catalog.sell("ARCHIVED-1", "5.00", published=False)
        world.inventory.stock("ARCHIVED-1", 5)
        world.catalog.sell("UNSTOCKED-1", "5.00")
        cart_id, customer_id, country = "missing", None, "DE"
        if case == "empty cart":
            cart_id = world.carts.put([])
        elif case == "someone else's cart":
            cart_id = world.carts.put([("MUG-1", 1)], customer_id=uuid.uuid4())
        elif case == "archived variant":
            cart_id = world.carts.put([("MUG-1", 1), ("ARCHIVED-1", 1)])
        elif case == "unknown variant":
            cart_id = world.carts.put([("NOPE-1", 1)])
        elif case == "variant never stocked":
            cart_id = world.carts.put([("UNSTOCKED-1", 1)])
        elif case == "more than the stock":
            cart_id = world.carts.put([("TEE-1", 4)])
        elif case == "country not shipped to":
            cart_id = world.carts.put([("MUG-1", 1)])
            world.pricing = PricingRules(shipping_rates={"DE": {"EUR": Decimal("4.90")}}, tax_rates={})
            country = "US"
        elif case == "carts unreachable":
            cart_id = world.carts.put([("MUG-1", 1)])
            world.carts.unavailable = True
        deps = world.deps()
        with pytest.raises(error):
            await place_order(command(cart_id, customer_id=customer_id, country=country), deps=deps)
        assert world.store.orders == {}
        assert world.store.outbox == []
        assert world.inventory.calls == []
        assert world.payments.calls == []

    async def test_insufficient_stock_names_the_sku_and_what_is_left(self, world: World) -> None:
        with pytest.raises(InsufficientStock) as raised:
            await place_order(command(world.carts.put([("TEE-1", 5)])), deps=world.deps())
        assert raised.value.details == {"sku": "TEE-1", "requested": 5, "available": 3}

    async def test_variant_unavailable_names_the_offending_line(self, world: World) -> None:
        with pytest.raises(VariantUnavailable) as raised:
            await place_order(command(world.carts.put([("MUG-1", 1), ("NOPE-1", 1)])), deps=world.deps())
        assert raised.value.details["field"] == "lines.1.sku"

    async def test_units_of_orders_not_yet_reserved_count_as_taken(self, world: World) -> None:
        await place_order(command(world.carts.put([("TEE-1", 2)])), deps=world.deps())
        with pytest.raises(InsufficientStock) as raised:
            await place_order(command(world.carts.put([("TEE-1", 2)])), deps=world.deps())
        assert raised.value.details["available"] == 1


class TestCheckoutReExecution:
    async def test_a_re_execution_of_the_same_request_returns_the_first_order(self, world: World) -> None:
        cart = world.carts.put([("MUG-1", 1)])
        reference = str(uuid.uuid4())
        first = await place_order(command(cart, reference=reference), deps=world.deps())
        again = await place_order(command(cart, reference=reference, attempt=2), deps=world.deps())
        assert again.order.id == first.order.id
        assert len(world.store.orders) == 1
        # The first answer was lost with its process: the guest gets a working token again.
        assert again.guest_token is not None
        assert again.guest_token != first.guest_token
        assert world.store.one().guest_token_hash == hash_guest_token(again.guest_token)

    async def test_a_zombie_execution_racing_the_first_makes_no_second_order(self, world: World) -> None:
        cart = world.carts.put([("MUG-1", 1)])
        reference = str(uuid.uuid4())
        first = await place_order(command(cart, reference=reference), deps=world.deps())
        # A first attempt still running after its lease lapsed does not look first.
        zombie = await place_order(command(cart, reference=reference, attempt=1), deps=world.deps())
        assert zombie.order.id == first.order.id
        assert len(world.store.orders) == 1
        assert [type(e) for e in world.store.outbox] == [OrderPlaced, SagaStepDue]
