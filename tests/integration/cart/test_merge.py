"""Merging a guest cart into the customer's cart on sign-in, on the real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from orderly.modules.cart.adapters.store import RedisCartStore
from orderly.modules.cart.api import CartNotFound
from orderly.modules.cart.application.commands import MergeGuestCart, OpenCart, SetLineQuantity
from orderly.modules.cart.application.handlers import CartService
from orderly.modules.cart.application.ports import SYSTEM, LineChange, viewer
from orderly.modules.cart.domain.cart import MAX_QUANTITY, Cart
from orderly.modules.cart.domain.merge import AdjustmentReason, MergePlan
from tests.integration.cart.conftest import cart_keys
from tests.integration.cart.fakes import FakeCatalog, FakeInventory


async def guest_cart(service: CartService, *lines: tuple[str, int], currency: str | None = None) -> str:
    priced, _ = await service.open_cart(OpenCart(customer_id=None, currency=currency))
    for sku, quantity in lines:
        await service.set_quantity(SetLineQuantity(priced.cart.id, None, sku, quantity))
    return priced.cart.id


async def customer_cart(service: CartService, customer: uuid.UUID, *lines: tuple[str, int]) -> str:
    priced, _ = await service.open_cart(OpenCart(customer_id=customer))
    for sku, quantity in lines:
        await service.set_quantity(SetLineQuantity(priced.cart.id, customer, sku, quantity))
    return priced.cart.id


def quantities(cart: Cart) -> dict[str, int]:
    return {line.sku: line.quantity for line in cart.lines}


class TestMerge:
    async def test_quantities_are_summed_and_the_guest_cart_is_deleted(
        self, service: CartService, store: RedisCartStore
    ) -> None:
        customer = uuid.uuid4()
        mine = await customer_cart(service, customer, ("MUG-1", 1), ("MUG-2", 4))
        guest = await guest_cart(service, ("MUG-1", 2), ("MUG-3", 1))
        outcome = await service.merge(MergeGuestCart(customer, guest))
        assert outcome.merged
        assert outcome.cart.cart.id == mine
        assert quantities(outcome.cart.cart) == {"MUG-1": 3, "MUG-2": 4, "MUG-3": 1}
        assert await store.read(guest, by=SYSTEM) is None

    async def test_a_customer_without_a_cart_gets_a_new_one_with_the_guest_lines(
        self, service: CartService
    ) -> None:
        customer = uuid.uuid4()
        guest = await guest_cart(service, ("MUG-2", 2), currency="EUR")
        outcome = await service.merge(MergeGuestCart(customer, guest))
        assert outcome.cart.cart.id != guest
        assert outcome.cart.cart.customer_id == customer
        assert quantities(outcome.cart.cart) == {"MUG-2": 2}
        assert (await service.show_customer_cart(customer_id=customer)).cart.id == outcome.cart.cart.id

    async def test_the_sum_is_capped_and_the_cap_is_reported(self, service: CartService) -> None:
        customer = uuid.uuid4()
        await customer_cart(service, customer, ("MUG-1", 900))
        guest = await guest_cart(service, ("MUG-1", 200))
        outcome = await service.merge(MergeGuestCart(customer, guest))
        assert quantities(outcome.cart.cart) == {"MUG-1": MAX_QUANTITY}
        [capped] = outcome.adjustments
        assert (capped.reason, capped.requested, capped.kept) == (AdjustmentReason.QUANTITY_CAPPED, 1100, 999)


class TestIdempotency:
    async def test_merging_the_same_guest_cart_again_adds_nothing(
        self, service: CartService, redis_client: aioredis.Redis, namespace: str
    ) -> None:
        customer = uuid.uuid4()
        await customer_cart(service, customer, ("MUG-1", 1))
        guest = await guest_cart(service, ("MUG-1", 2))
        first = await service.merge(MergeGuestCart(customer, guest))
        after_first = await cart_keys(redis_client, namespace)
        again = await service.merge(MergeGuestCart(customer, guest))
        assert not again.merged
        assert again.cart.cart.id == first.cart.cart.id
        assert quantities(again.cart.cart) == {"MUG-1": 3}
        assert again.cart.cart.version == first.cart.cart.version
        # Only the TTLs moved; no document changed.
        assert await cart_keys(redis_client, namespace) == after_first

    async def test_concurrent_merges_of_one_guest_cart_add_it_once(self, service: CartService) -> None:
        customer = uuid.uuid4()
        await customer_cart(service, customer, ("MUG-1", 1))
        guest = await guest_cart(service, ("MUG-1", 2), ("MUG-2", 1))
        outcomes = await asyncio.gather(*(service.merge(MergeGuestCart(customer, guest)) for _ in range(8)))
        assert sum(o.merged for o in outcomes) == 1
        final = await service.show_customer_cart(customer_id=customer)
        assert quantities(final.cart) == {"MUG-1": 3, "MUG-2": 1}

    async def test_another_customer_cannot_replay_someone_elses_merge(self, service: CartService) -> None:
        customer = uuid.uuid4()
        guest = await guest_cart(service, ("MUG-1", 2))
        await service.merge(MergeGuestCart(customer, guest))
        with pytest.raises(CartNotFound):
            await service.merge(MergeGuestCart(uuid.uuid4(), guest))

    async def test_merging_the_customers_own_cart_changes_nothing(self, service: CartService) -> None:
        customer = uuid.uuid4()
        mine = await customer_cart(service, customer, ("MUG-1", 2))
        outcome = await service.merge(MergeGuestCart(customer, mine))
        assert not outcome.merged
        assert quantities(outcome.cart.cart) == {"MUG-1": 2}


class TestOwnership:
    async def test_another_customers_cart_cannot_be_merged_away(
        self, service: CartService, redis_client: aioredis.Redis, namespace: str
    ) -> None:
        victim = uuid.uuid4()
        theirs = await customer_cart(service, victim, ("MUG-1", 2))
        before = await cart_keys(redis_client, namespace)
        with pytest.raises(CartNotFound):
            await service.merge(MergeGuestCart(uuid.uuid4(), theirs))
        assert await cart_keys(redis_client, namespace) == before

    async def test_an_unknown_guest_cart_is_not_found(self, service: CartService) -> None:
        with pytest.raises(CartNotFound):
            await service.merge(MergeGuestCart(uuid.uuid4(), "Z" * 32))


class _ChangesTheCustomerCartOnce(RedisCartStore):
    """Lets another request change the customer's cart between the merge's reads and its write."""

    interfered = False

    async def commit_merge(
        self, *, customer_id: uuid.UUID, guest: Cart, into: Cart | None, plan: MergePlan
    ) -> Cart | None:
        if into is not None and not self.interfered:
            self.interfered = True
            await self.change_line(
                into.id, LineChange("MUG-4", "set", 1, None, "EUR"), by=viewer(customer_id)
            )
        return await super().commit_merge(customer_id=customer_id, guest=guest, into=into, plan=plan)


class TestRaces:
    async def test_a_change_to_the_customer_cart_during_the_merge_is_kept_and_the_merge_retried(
        self,
        redis_client: aioredis.Redis,
        namespace: str,
        catalog: FakeCatalog,
        inventory: FakeInventory,
    ) -> None:
        store = _ChangesTheCustomerCartOnce(redis_client, ttl_s=600, namespace=namespace)
        service = CartService(store=store, catalog=catalog, inventory=inventory, default_currency="EUR")
        customer = uuid.uuid4()
        await customer_cart(service, customer, ("MUG-1", 1))
        guest = await guest_cart(service, ("MUG-1", 2))
        outcome = await service.merge(MergeGuestCart(customer, guest))
        assert store.interfered
        assert quantities(outcome.cart.cart) == {"MUG-1": 3, "MUG-4": 1}


class TestCurrency:
    async def test_moving_into_a_customer_cart_in_another_currency_reprices_or_leaves_out(
        self, service: CartService, catalog: FakeCatalog
    ) -> None:
        customer = uuid.uuid4()
        await customer_cart(service, customer, ("MUG-5", 1))
        catalog.add("US-ONLY", "16.00", "USD")
        guest = await guest_cart(service, ("MUG-1", 1), ("US-ONLY", 2), currency="USD")
        outcome = await service.merge(MergeGuestCart(customer, guest))
        assert outcome.cart.cart.currency == "EUR"
        assert quantities(outcome.cart.cart) == {"MUG-5": 1, "MUG-1": 1}
        assert [(a.sku, a.reason) for a in outcome.adjustments] == [
            ("US-ONLY", AdjustmentReason.NOT_PRICED_IN_CURRENCY)
        ]
        moved = next(line for line in outcome.cart.lines if line.sku == "MUG-1")
        assert moved.price_seen is not None
        assert str(moved.price_seen.amount) == "11.50"
        assert not moved.price_changed
