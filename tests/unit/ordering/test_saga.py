"""The checkout saga run step by step against fakes: happy path, each compensation, duplicates,
crashes between a step's effects and its record, transient failures and the sweep."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from orderly.modules.ordering.application import orders as use_cases
from orderly.modules.ordering.application.checkout import place_order
from orderly.modules.ordering.application.commands import Caller, CancelOrder, PlaceOrder, RefundOrder
from orderly.modules.ordering.application.ports import OrderingDeps
from orderly.modules.ordering.application.saga import run_step
from orderly.modules.ordering.domain.order import Order, OrderStatus
from orderly.modules.ordering.domain.saga import SagaStep, SagaStepDue
from tests.unit.ordering.factories import World, address

S = OrderStatus


class Crash(Exception):
    """Stands in for the process dying."""


class Bus:
    """Delivers the saga's step messages from the fake outbox, like the relay and the bus."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.delivered = 0

    def pending(self) -> list[SagaStepDue]:
        steps = [e for e in self.world.store.outbox if isinstance(e, SagaStepDue)]
        return steps[self.delivered :]

    async def deliver(self, event: SagaStepDue, deps: OrderingDeps | None = None) -> None:
        await run_step(
            order_id=uuid.UUID(event.order_id),
            step=SagaStep(event.step),
            attempt=event.attempt,
            message_id=event.event_id,
            deps=deps or self.world.deps(),
        )

    async def next(self) -> SagaStepDue:
        """Deliver the oldest pending message; returns it."""
        event = self.pending()[0]
        self.delivered += 1
        await self.deliver(event)
        return event

    def skip(self) -> SagaStepDue:
        """Take the oldest pending message without delivering it (lost, or held back)."""
        event = self.pending()[0]
        self.delivered += 1
        return event

    async def drain(self, *, limit: int = 50) -> None:
        for _ in range(limit):
            pending = self.pending()
            if not pending:
                return
            self.delivered += 1
            await self.deliver(pending[0])
        raise AssertionError("the saga did not settle")


async def checkout(world: World, quantity: int = 2) -> Order:
    cart = world.carts.put([("MUG-1", quantity)])
    placed = await place_order(
        PlaceOrder(
            cart_id=cart,
            email="ada@example.com",
            address=address(),
            customer_id=None,
            checkout_reference=str(uuid.uuid4()),
        ),
        deps=world.deps(),
    )
    return placed.order


@pytest.fixture
def world() -> World:
    w = World()
    w.product("MUG-1", "12.50", stock=5)
    return w


class TestHappyPath:
    async def test_the_saga_reserves_authorizes_takes_the_stock_and_captures(self, world: World) -> None:
        order = await checkout(world)
        await Bus(world).drain()
        done = world.store.get(order.id)
        assert done.status is S.CONFIRMED
        assert done.saga.finished
        assert world.payments.captures == {order.reference: 1}
        assert (world.inventory.on_hand["MUG-1"], world.inventory.reserved["MUG-1"]) == (3, 0)
        assert [name for name, _ in world.inventory.calls] == ["reserve", "confirm"]
        # Only a confirmed order empties its cart.
        assert world.carts.checked_out == [(order.cart_id, order.id, 1)]

    async def test_every_step_delivered_twice_still_charges_once(self, world: World) -> None:
        order = await checkout(world)
        bus = Bus(world)
        for _ in range(10):
            if not bus.pending():
                break
            await bus.deliver(await bus.next())
        assert world.store.get(order.id).status is S.CONFIRMED
        assert world.payments.captures == {order.reference: 1}
        assert [name for name, _ in world.inventory.calls] == ["reserve", "confirm"]


class TestCompensations:
    async def test_a_declined_payment_releases_the_stock(self, world: World) -> None:
        world.payments.decline = True
        order = await checkout(world)
        await Bus(world).drain()
        failed = world.store.get(order.id)
        assert failed.status is S.PAYMENT_FAILED
        assert failed.status_reason == "card_declined"
        assert failed.saga.finished
        assert world.inventory.reserved["MUG-1"] == 0
        assert world.inventory.reservations[order.reference].status == "released"
        assert world.carts.checked_out == []

    async def test_stock_taken_by_another_checkout_meanwhile_rejects_the_order(self, world: World) -> None:
        order = await checkout(world, quantity=5)
        world.inventory.stock("MUG-1", 1)  # someone else got there first
        await Bus(world).drain()
        rejected = world.store.get(order.id)
        assert rejected.status is S.REJECTED
        assert str(rejected.status_reason).startswith("out_of_stock")
        assert world.payments.calls == []

    async def test_a_reservation_lost_before_confirmation_voids_the_authorization(self, world: World) -> None:
        order = await checkout(world)
        bus = Bus(world)
        await bus.next()  # reserved
        await bus.next()  # authorized
        world.inventory.expire(order.reference)
        await bus.drain()
        expired = world.store.get(order.id)
        assert expired.status is S.EXPIRED
        assert world.payments.payments[order.reference].status == "voided"
        assert world.payments.captures == {}

    async def test_a_late_authorization_after_a_cancel_is_voided(self, world: World) -> None:
        order = await checkout(world)
        bus = Bus(world)
        await bus.next()  # reserved
        authorize = bus.skip()
        await use_cases.cancel_order(
            CancelOrder(order_id=order.id, caller=Caller(customer_id=None, staff=True), reason="fraud"),
            deps=world.deps(),
        )
        await bus.drain()  # compensation runs before the authorization message
        await bus.deliver(authorize)  # stale: the order no longer waits for it
        assert [name for name, _ in world.payments.calls] == ["void"]
        # An authorization made anyway (a call already in flight) is announced by
        # payments' event, which starts compensation again.
        await world.payments.authorize(
            payment_reference=order.reference, order_id=order.id, amount=order.total.amount, currency="EUR"
        )
        async with world.store.uow() as uow:
            await use_cases.on_payment_authorized(order_id=order.id, uow=uow, deps=world.deps())
            await uow.commit()
        await bus.drain()
        assert world.payments.payments[order.reference].status == "voided"
        assert world.store.get(order.id).status is S.CANCELLED
        assert world.inventory.reserved["MUG-1"] == 0


class TestCrashes:
    @pytest.mark.parametrize(
        "step",
        [
            SagaStep.RESERVE_STOCK,
            SagaStep.AUTHORIZE_PAYMENT,
            SagaStep.CONFIRM_STOCK,
            SagaStep.CAPTURE_PAYMENT,
        ],
    )
    async def test_a_crash_between_a_step_and_its_record_is_repaired_by_redelivery(
        self, world: World, step: SagaStep
    ) -> None:
        order = await checkout(world)
        crashed = False

        async def crash_once(current: SagaStep) -> None:
            nonlocal crashed
            if current is step and not crashed:
                crashed = True
                raise Crash

        crashing = replace(world.deps(), after_step_effects=crash_once)
        bus = Bus(world)
        for _ in range(10):
            pending = bus.pending()
            if not pending:
                break
            try:
                await bus.deliver(pending[0], crashing)
            except Crash:
                continue  # not acknowledged: the broker delivers it again
            bus.delivered += 1
        assert crashed
        assert world.store.get(order.id).status is S.CONFIRMED
        assert world.payments.captures == {order.reference: 1}
        assert (world.inventory.on_hand["MUG-1"], world.inventory.reserved["MUG-1"]) == (3, 0)

    async def test_a_lost_step_message_is_sent_again_by_the_sweep(self, world: World) -> None:
        order = await checkout(world)
        bus = Bus(world)
        bus.skip()  # the reservation message is lost
        assert await use_cases.sweep_overdue(deps=world.deps(), batch_size=10) == 0
        world.clock.advance(31)
        assert await use_cases.sweep_overdue(deps=world.deps(), batch_size=10) == 1
        assert world.store.due_steps()[-1] == (order.id, "reserve_stock", 2)
        await bus.drain()
        assert world.store.get(order.id).status is S.CONFIRMED


class TestTransientFailures:
    async def test_a_busy_inventory_leaves_the_step_to_the_sweep(self, world: World) -> None:
        order = await checkout(world)
        world.inventory.busy = 1
        bus = Bus(world)
        await bus.drain()
        assert world.store.get(order.id).status is S.PENDING
        world.clock.advance(31)
        await use_cases.sweep_overdue(deps=world.deps(), batch_size=10)
        await bus.drain()
        assert world.store.get(order.id).status is S.CONFIRMED

    async def test_an_unreachable_provider_at_capture_is_retried_until_it_answers(self, world: World) -> None:
        order = await checkout(world)
        bus = Bus(world)
        world.payments.unavailable = 3
        await bus.drain()
        for _ in range(4):
            current = world.store.get(order.id)
            if current.status is S.CONFIRMED:
                break
            assert current.saga.step is SagaStep.CAPTURE_PAYMENT
            world.clock.now = current.saga.deadline or world.clock.now
            await use_cases.sweep_overdue(deps=world.deps(), batch_size=10)
            await bus.drain()
        assert world.store.get(order.id).status is S.CONFIRMED
        assert world.payments.captures == {order.reference: 1}

    async def test_an_authorization_still_pending_waits_for_the_payment_event(self, world: World) -> None:
        world.payments.leave_pending = True
        order = await checkout(world)
        await Bus(world).drain()
        assert world.store.get(order.id).saga.step is SagaStep.AUTHORIZE_PAYMENT
        world.payments.settle_pending(order.reference, "authorized")
        async with world.store.uow() as uow:
            await use_cases.on_payment_authorized(order_id=order.id, uow=uow, deps=world.deps())
            await uow.commit()
        await Bus(world).drain()
        assert world.store.get(order.id).status is S.CONFIRMED


class TestExpiry:
    async def test_an_unpaid_order_expires_and_its_stock_is_released(self, world: World) -> None:
        world.payments.leave_pending = True
        order = await checkout(world)
        bus = Bus(world)
        await bus.drain()
        world.clock.now = order.expires_at
        await use_cases.sweep_overdue(deps=world.deps(), batch_size=10)
        world.payments.settle_pending(order.reference, "failed")
        await bus.drain()
        expired = world.store.get(order.id)
        assert (expired.status, expired.status_reason) == (S.EXPIRED, "unpaid")
        assert expired.saga.finished
        assert world.inventory.reserved["MUG-1"] == 0


class TestRefunds:
    async def test_a_staff_refund_moves_the_money_and_marks_the_order(self, world: World) -> None:
        order = await checkout(world)
        bus = Bus(world)
        await bus.drain()
        await use_cases.refund_order(
            RefundOrder(
                order_id=order.id, refund_id=uuid.uuid4(), amount=order.total.amount, reason="return"
            ),
            deps=world.deps(),
        )
        await bus.drain()
        refunded = world.store.get(order.id)
        assert refunded.status is S.REFUNDED
        assert refunded.saga.finished
        assert world.payments.payments[order.reference].refunded_amount == order.total.amount

    async def test_cancelling_a_confirmed_order_refunds_it_once(self, world: World) -> None:
        order = await checkout(world)
        bus = Bus(world)
        await bus.drain()
        cancel = CancelOrder(order_id=order.id, caller=Caller(customer_id=None, staff=True), reason="call")
        await use_cases.cancel_order(cancel, deps=world.deps())
        await use_cases.cancel_order(cancel, deps=world.deps())
        await bus.drain()
        cancelled = world.store.get(order.id)
        assert cancelled.status is S.CANCELLED
        assert cancelled.refunded == order.total
        assert len(world.payments.payments[order.reference].refunds) == 1
