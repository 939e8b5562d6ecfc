"""Checkout use case against fakes: pricing at checkout time, bad input refused with nothing
written, re-executions of one request making one order, saved addresses and the account's
e-mail taken from identity."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from orderly.modules.cart.api import CartNotFound, CartUnavailable
from orderly.modules.identity.api import IdentityUnavailable
from orderly.modules.ordering.application.checkout import hash_guest_token, place_order
from orderly.modules.ordering.application.commands import PlaceOrder, SavedAddress
from orderly.modules.ordering.contracts import OrderPlaced
from orderly.modules.ordering.domain.address import ShippingAddress
from orderly.modules.ordering.domain.errors import (
    EmptyCart,
    InsufficientStock,
    ShippingNotAvailable,
    VariantUnavailable,
)
from orderly.modules.ordering.domain.order import OrderStatus
from orderly.modules.ordering.domain.pricing import PricingRules
from orderly.modules.ordering.domain.saga import SagaStepDue
from orderly.shared_kernel.errors import DomainError, InvalidInput
from tests.unit.ordering.factories import World, address, eur


def command(
    cart_id: str,
    *,
    customer_id: uuid.UUID | None = None,
    reference: str | None = None,
    attempt: int = 1,
    country: str = "DE",
    saved: uuid.UUID | None = None,
    email: str | None = "ada@example.com",
) -> PlaceOrder:
    return PlaceOrder(
        cart_id=cart_id,
        email=email,
        address=SavedAddress(address_id=saved) if saved is not None else address(country=country),
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


def assert_nothing_written(world: World) -> None:
    assert world.store.orders == {}
    assert world.store.outbox == []
    assert world.inventory.calls == []
    assert world.payments.calls == []


class TestCheckoutWithASavedAddress:
    async def test_the_order_ships_to_a_copy_of_the_saved_address(self, world: World) -> None:
        customer_id = world.identity.register()
        saved = world.identity.save_address(customer_id)
        cart = world.carts.put([("MUG-1", 1)], customer_id=customer_id)
        placed = await place_order(command(cart, customer_id=customer_id, saved=saved), deps=world.deps())
        assert world.store.one().address == ShippingAddress(
            recipient="Ada Lovelace",
            line1="Unter den Linden 1",
            city="Berlin",
            postal_code="10117",
            country="DE",
            phone="+49 30 1234567",
        )
        assert placed.order.tax_rate == Decimal("0.19")  # priced for the saved address's country

    async def test_someone_elses_address_is_refused_like_an_unknown_one(self, world: World) -> None:
        customer_id = world.identity.register()
        theirs = world.identity.save_address(world.identity.register("eve@example.com"))
        refusals = []
        for address_id in (theirs, uuid.uuid4()):
            cart = world.carts.put([("MUG-1", 1)], customer_id=customer_id)
            with pytest.raises(InvalidInput) as raised:
                await place_order(command(cart, customer_id=customer_id, saved=address_id), deps=world.deps())
            refusals.append((type(raised.value), raised.value.message, raised.value.details))
        assert refusals[0] == refusals[1]
        assert refusals[0][1:] == ("no such address", {"field": "shipping_address_id"})
        assert_nothing_written(world)

    async def test_a_guest_cannot_use_an_address_id(self, world: World) -> None:
        someones = world.identity.save_address(world.identity.register())
        with pytest.raises(InvalidInput) as raised:
            await place_order(command(world.carts.put([("MUG-1", 1)]), saved=someones), deps=world.deps())
        assert raised.value.details == {"field": "shipping_address_id"}
        assert world.identity.calls == []  # not even looked up: nothing to learn from the answer
        assert_nothing_written(world)

    async def test_a_saved_address_ordering_cannot_ship_to_is_refused_naming_the_id(
        self, world: World
    ) -> None:
        # Identity keeps addresses without a postal code; an order needs one.
        customer_id = world.identity.register()
        saved = world.identity.save_address(customer_id, postal_code="")
        cart = world.carts.put([("MUG-1", 1)], customer_id=customer_id)
        with pytest.raises(InvalidInput) as raised:
            await place_order(command(cart, customer_id=customer_id, saved=saved), deps=world.deps())
        assert raised.value.details == {"field": "shipping_address_id"}
        assert "postal_code is required" in raised.value.message
        assert_nothing_written(world)

    async def test_a_saved_address_in_a_country_not_shipped_to_is_refused_naming_the_id(
        self, world: World
    ) -> None:
        world.pricing = PricingRules(shipping_rates={"DE": {"EUR": Decimal("4.90")}}, tax_rates={})
        customer_id = world.identity.register()
        saved = world.identity.save_address(customer_id, country="US")
        cart = world.carts.put([("MUG-1", 1)], customer_id=customer_id)
        with pytest.raises(ShippingNotAvailable) as raised:
            await place_order(command(cart, customer_id=customer_id, saved=saved), deps=world.deps())
        assert raised.value.details["field"] == "shipping_address_id"
        assert raised.value.details["country"] == "US"
        assert_nothing_written(world)

    async def test_a_re_execution_answers_with_the_order_as_first_made(self, world: World) -> None:
        customer_id = world.identity.register()
        saved = world.identity.save_address(customer_id)
        cart = world.carts.put([("MUG-1", 1)], customer_id=customer_id)
        reference = str(uuid.uuid4())
        first = await place_order(
            command(cart, customer_id=customer_id, saved=saved, reference=reference), deps=world.deps()
        )
        # The answer was lost; meanwhile the customer removed the address from their book.
        del world.identity.addresses[saved]
        world.identity.calls.clear()
        again = await place_order(
            command(cart, customer_id=customer_id, saved=saved, reference=reference, attempt=2),
            deps=world.deps(),
        )
        assert again.order.id == first.order.id
        assert again.order.address == first.order.address
        assert world.identity.calls == []

    async def test_without_identity_in_this_process_a_saved_address_is_unavailable(
        self, world: World
    ) -> None:
        customer_id = world.identity.register()
        saved = world.identity.save_address(customer_id)
        world.identity_served = False
        cart = world.carts.put([("MUG-1", 1)], customer_id=customer_id)
        with pytest.raises(IdentityUnavailable):
            await place_order(command(cart, customer_id=customer_id, saved=saved), deps=world.deps())
        assert_nothing_written(world)


class TestCheckoutEmail:
    async def test_a_customer_who_leaves_it_out_gets_their_accounts_email(self, world: World) -> None:
        customer_id = world.identity.register("ada@lovelace.example")
        cart = world.carts.put([("MUG-1", 1)], customer_id=customer_id)
        placed = await place_order(command(cart, customer_id=customer_id, email=None), deps=world.deps())
        assert placed.order.email == "ada@lovelace.example"
        assert world.store.one().email == "ada@lovelace.example"

    async def test_an_email_given_wins_over_the_accounts(self, world: World) -> None:
        customer_id = world.identity.register("ada@lovelace.example")
        cart = world.carts.put([("MUG-1", 1)], customer_id=customer_id)
        placed = await place_order(
            command(cart, customer_id=customer_id, email="orders@lovelace.example"), deps=world.deps()
        )
        assert placed.order.email == "orders@lovelace.example"
        assert world.identity.calls == []

    async def test_a_guest_must_give_one(self, world: World) -> None:
        with pytest.raises(InvalidInput) as raised:
            await place_order(command(world.carts.put([("MUG-1", 1)]), email=None), deps=world.deps())
        assert raised.value.details == {"field": "email"}
        assert_nothing_written(world)

    async def test_a_customer_whose_account_is_gone_must_give_one(self, world: World) -> None:
        customer_id = uuid.uuid4()  # a valid token, but no such account any more
        cart = world.carts.put([("MUG-1", 1)], customer_id=customer_id)
        with pytest.raises(InvalidInput) as raised:
            await place_order(command(cart, customer_id=customer_id, email=None), deps=world.deps())
        assert raised.value.details == {"field": "email"}
        assert_nothing_written(world)

    async def test_without_identity_in_this_process_a_left_out_email_is_unavailable(
        self, world: World
    ) -> None:
        world.identity_served = False
        customer_id = uuid.uuid4()
        cart = world.carts.put([("MUG-1", 1)], customer_id=customer_id)
        with pytest.raises(IdentityUnavailable):
            await place_order(command(cart, customer_id=customer_id, email=None), deps=world.deps())
        assert_nothing_written(world)

    async def test_without_identity_a_typed_address_and_email_still_check_out(self, world: World) -> None:
        world.identity_served = False
        customer_id = uuid.uuid4()
        cart = world.carts.put([("MUG-1", 1)], customer_id=customer_id)
        placed = await place_order(command(cart, customer_id=customer_id), deps=world.deps())
        assert placed.order.email == "ada@example.com"
