"""In-memory stand-ins for ordering's ports and for the facades it calls.

They keep the behaviour the use cases rely on, not just the signatures:

* ``InMemoryOrders``: what a unit of work loads is a copy; writes are staged
  and applied by ``commit`` only (with the tracked orders' events moved to
  ``outbox``); the checkout reference is unique; the inbox refuses a second
  claim of one message.
* ``FakeInventory`` and ``FakePayments`` are idempotent per reference like
  the real facades (a second reserve or authorize returns the first outcome),
  count the calls that moved stock or money, and can be told to fail.
* ``InMemoryCarts`` is the cart facade of ``modules/cart/api.py`` over a dict
  (also used by the integration and end-to-end tests while no cart module runs).
* ``FakeIdentity`` is identity's facade over dicts: customers and their
  address books, an address found only by its owner.
"""

from __future__ import annotations

import copy
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Self

from orderly.modules.cart.api import CartLine, CartNotFound, CartSnapshot, CartUnavailable
from orderly.modules.catalog.api import VariantPrice
from orderly.modules.identity.api import AddressSnapshot, CustomerSummary
from orderly.modules.inventory.api import (
    Availability,
    InventoryBusy,
    ReservationLine,
    ReservationNotActive,
    ReservationNotFound,
    ReservationResult,
    ReservationShortfall,
    ReservationStatusName,
    UnknownSku,
)
from orderly.modules.ordering.domain.order import Order, OrderStatus
from orderly.modules.ordering.domain.saga import SagaStep, SagaStepDue
from orderly.modules.payments.api import PaymentProviderUnavailable, PaymentResult, RefundResult
from orderly.shared_kernel.domain import DomainEvent
from orderly.shared_kernel.errors import Conflict, NotFound

# -- carts ----------------------------------------------------------------------------------


@dataclass
class InMemoryCarts:
    carts: dict[str, CartSnapshot] = field(default_factory=dict)
    checked_out: list[tuple[str, uuid.UUID, int]] = field(default_factory=list)
    unavailable: bool = False

    def put(
        self,
        lines: Sequence[tuple[str, int]],
        *,
        currency: str = "EUR",
        customer_id: uuid.UUID | None = None,
        cart_id: str | None = None,
    ) -> str:
        cart_id = cart_id or f"cart-{uuid.uuid4().hex}"
        previous = self.carts.get(cart_id)
        self.carts[cart_id] = CartSnapshot(
            cart_id=cart_id,
            customer_id=customer_id,
            currency=currency,
            lines=tuple(CartLine(sku=sku, quantity=qty) for sku, qty in lines),
            version=previous.version + 1 if previous else 1,
        )
        return cart_id

    async def snapshot(self, cart_id: str) -> CartSnapshot:
        if self.unavailable:
            raise CartUnavailable("the cart store is down")
        cart = self.carts.get(cart_id)
        if cart is None:
            raise CartNotFound("no cart with this id", cart_id=cart_id)
        return cart

    async def mark_checked_out(self, cart_id: str, *, order_id: uuid.UUID, version: int) -> None:
        self.checked_out.append((cart_id, order_id, version))
        cart = self.carts.get(cart_id)
        if cart is not None and cart.version == version:
            self.carts[cart_id] = replace(cart, lines=(), version=cart.version + 1)


# -- identity -------------------------------------------------------------------------------


@dataclass
class FakeIdentity:
    customers: dict[uuid.UUID, CustomerSummary] = field(default_factory=dict)
    addresses: dict[uuid.UUID, AddressSnapshot] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def register(self, email: str = "ada@example.com") -> uuid.UUID:
        customer_id = uuid.uuid4()
        self.customers[customer_id] = CustomerSummary(id=customer_id, email=email, name=None)
        return customer_id

    def save_address(
        self, customer_id: uuid.UUID, *, postal_code: str = "10117", country: str = "DE"
    ) -> uuid.UUID:
        address_id = uuid.uuid4()
        self.addresses[address_id] = AddressSnapshot(
            id=address_id,
            customer_id=customer_id,
            recipient="Ada Lovelace",
            line1="Unter den Linden 1",
            line2="",
            city="Berlin",
            postal_code=postal_code,
            region="",
            country=country,
            phone="+49 30 1234567",
        )
        return address_id

    async def customer(self, customer_id: uuid.UUID) -> CustomerSummary | None:
        self.calls.append("customer")
        return self.customers.get(customer_id)

    async def address(self, *, customer_id: uuid.UUID, address_id: uuid.UUID) -> AddressSnapshot | None:
        self.calls.append("address")
        found = self.addresses.get(address_id)
        return found if found is not None and found.customer_id == customer_id else None


# -- catalog --------------------------------------------------------------------------------


@dataclass
class FakeCatalog:
    prices: dict[str, VariantPrice] = field(default_factory=dict)

    def sell(self, sku: str, amount: str, currency: str = "EUR", *, published: bool = True) -> None:
        self.prices[sku] = VariantPrice(
            sku=sku, product_id=uuid.uuid4(), amount=Decimal(amount), currency=currency, published=published
        )

    async def variant_prices(
        self, skus: list[str], *, currency: str | None = None
    ) -> dict[str, VariantPrice]:
        return {
            sku: price
            for sku, price in self.prices.items()
            if sku in skus and (currency is None or price.currency == currency)
        }


# -- inventory ------------------------------------------------------------------------------

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@dataclass
class FakeInventory:
    on_hand: dict[str, int] = field(default_factory=dict)
    reserved: Counter[str] = field(default_factory=Counter)
    reservations: dict[str, ReservationResult] = field(default_factory=dict)
    busy: int = 0
    calls: list[tuple[str, str]] = field(default_factory=list)

    def stock(self, sku: str, quantity: int) -> None:
        self.on_hand[sku] = quantity

    def available(self, sku: str) -> int:
        return self.on_hand[sku] - self.reserved[sku]

    def _maybe_busy(self) -> None:
        if self.busy > 0:
            self.busy -= 1
            raise InventoryBusy("busy")

    async def known_skus(self, skus: list[str]) -> set[str]:
        return {sku for sku in skus if sku in self.on_hand}

    async def reserve(
        self, reference: str, lines: Sequence[ReservationLine], ttl: timedelta
    ) -> ReservationResult:
        self.calls.append(("reserve", reference))
        self._maybe_busy()
        if reference in self.reservations:
            return self.reservations[reference]
        for line in lines:
            if line.sku not in self.on_hand:
                raise UnknownSku(line.sku, field="lines")
        short = tuple(
            ReservationShortfall(line.sku, line.quantity, self.available(line.sku))
            for line in lines
            if self.available(line.sku) < line.quantity
        )
        status: ReservationStatusName = "rejected" if short else "active"
        if not short:
            for line in lines:
                self.reserved[line.sku] += line.quantity
        result = ReservationResult(
            reference=reference,
            status=status,
            lines=tuple(lines),
            allocations=(),
            shortfalls=short,
            created_at=NOW,
            expires_at=None if short else NOW + ttl,
            closed_at=NOW if short else None,
        )
        self.reservations[reference] = result
        return result

    async def confirm(self, reference: str) -> ReservationResult:
        self.calls.append(("confirm", reference))
        self._maybe_busy()
        found = self._get(reference)
        if found.status == "confirmed":
            return found
        if found.status != "active":
            raise ReservationNotActive(reference, status=found.status, action="confirmed")
        for line in found.lines:
            self.reserved[line.sku] -= line.quantity
            self.on_hand[line.sku] -= line.quantity
        return self._set(found, "confirmed")

    async def release(self, reference: str) -> ReservationResult:
        self.calls.append(("release", reference))
        self._maybe_busy()
        found = self._get(reference)
        if found.status in ("released", "expired", "rejected"):
            return found
        if found.status == "confirmed":
            raise ReservationNotActive(reference, status="confirmed", action="released")
        for line in found.lines:
            self.reserved[line.sku] -= line.quantity
        return self._set(found, "released")

    def expire(self, reference: str) -> None:
        found = self._get(reference)
        for line in found.lines:
            self.reserved[line.sku] -= line.quantity
        self._set(found, "expired")

    async def reservation(self, reference: str) -> ReservationResult | None:
        return self.reservations.get(reference)

    async def availability(self, skus: Sequence[str]) -> dict[str, Availability]:
        return {
            sku: Availability(sku, self.on_hand[sku], self.reserved[sku], self.available(sku))
            for sku in skus
            if sku in self.on_hand
        }

    def _get(self, reference: str) -> ReservationResult:
        found = self.reservations.get(reference)
        if found is None:
            raise ReservationNotFound(reference)
        return found

    def _set(self, found: ReservationResult, status: str) -> ReservationResult:
        updated = replace(found, status=status, closed_at=NOW)  # type: ignore[arg-type]
        self.reservations[found.reference] = updated
        return updated


# -- payments -------------------------------------------------------------------------------


@dataclass
class FakePayments:
    payments: dict[str, PaymentResult] = field(default_factory=dict)
    decline: bool = False
    # Authorizations answered "pending" (another caller is asking the provider).
    leave_pending: bool = False
    unavailable: int = 0
    captures: Counter[str] = field(default_factory=Counter)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def _maybe_unavailable(self) -> None:
        if self.unavailable > 0:
            self.unavailable -= 1
            raise PaymentProviderUnavailable("no answer")

    async def authorize(
        self,
        *,
        payment_reference: str,
        order_id: uuid.UUID,
        amount: Decimal,
        currency: str,
        customer_id: uuid.UUID | None = None,
    ) -> PaymentResult:
        self.calls.append(("authorize", payment_reference))
        existing = self.payments.get(payment_reference)
        if existing is not None:
            if existing.amount != amount or existing.order_id != order_id:
                raise Conflict("reference reused")
            return existing
        status = "pending" if self.leave_pending else "failed" if self.decline else "authorized"
        result = PaymentResult(
            payment_id=uuid.uuid4(),
            payment_reference=payment_reference,
            order_id=order_id,
            status=status,
            amount=amount,
            currency=currency,
            captured_amount=Decimal(0),
            refunded_amount=Decimal(0),
            failure_reason="declined" if self.decline else None,
            decline_code="card_declined" if self.decline else None,
        )
        self.payments[payment_reference] = result
        return result

    def settle_pending(self, reference: str, status: str) -> None:
        self.payments[reference] = replace(self.payments[reference], status=status)

    async def capture(self, *, payment_reference: str) -> PaymentResult:
        self.calls.append(("capture", payment_reference))
        self._maybe_unavailable()
        found = self._get(payment_reference)
        if found.status in ("captured", "partially_refunded", "refunded"):
            return found
        if found.status != "authorized":
            raise Conflict(f"a {found.status} payment cannot be captured")
        self.captures[payment_reference] += 1
        return self._put(replace(found, status="captured", captured_amount=found.amount))

    async def void(self, *, payment_reference: str) -> PaymentResult:
        self.calls.append(("void", payment_reference))
        self._maybe_unavailable()
        found = self._get(payment_reference)
        if found.status in ("failed", "voided"):
            return found
        if found.status != "authorized":
            raise Conflict(f"a {found.status} payment cannot be voided")
        return self._put(replace(found, status="voided"))

    async def refund(self, *, payment_reference: str, refund_reference: str, amount: Decimal) -> RefundResult:
        self.calls.append(("refund", refund_reference))
        self._maybe_unavailable()
        found = self._get(payment_reference)
        existing = next((r for r in found.refunds if r.refund_reference == refund_reference), None)
        if existing is not None:
            return existing
        refunded = found.refunded_amount + amount
        if refunded > found.captured_amount:
            raise Conflict("more than captured")
        refund = RefundResult(
            refund_id=uuid.uuid4(),
            refund_reference=refund_reference,
            payment_id=found.payment_id,
            amount=amount,
            currency=found.currency,
            status="succeeded",
        )
        status = "refunded" if refunded == found.captured_amount else "partially_refunded"
        self._put(replace(found, status=status, refunded_amount=refunded, refunds=(*found.refunds, refund)))
        return refund

    async def get(self, *, payment_reference: str) -> PaymentResult | None:
        return self.payments.get(payment_reference)

    def _get(self, reference: str) -> PaymentResult:
        found = self.payments.get(reference)
        if found is None:
            raise NotFound("no payment with this reference")
        return found

    def _put(self, result: PaymentResult) -> PaymentResult:
        self.payments[result.payment_reference] = result
        return result


# -- ordering's own storage ------------------------------------------------------------------


@dataclass
class InMemoryOrders:
    orders: dict[uuid.UUID, Order] = field(default_factory=dict)
    inbox: set[tuple[str, uuid.UUID]] = field(default_factory=set)
    outbox: list[DomainEvent] = field(default_factory=list)
    commits: int = 0

    def uow(self) -> FakeOrderingUnitOfWork:
        return FakeOrderingUnitOfWork(self)

    def one(self) -> Order:
        assert len(self.orders) == 1, self.orders
        return copy.deepcopy(next(iter(self.orders.values())))

    def get(self, order_id: uuid.UUID) -> Order:
        return copy.deepcopy(self.orders[order_id])

    def due_steps(self) -> list[tuple[uuid.UUID, str, int]]:
        """Saga step messages in the outbox, oldest first: (order id, step, attempt)."""
        return [(uuid.UUID(e.order_id), e.step, e.attempt) for e in self.outbox if isinstance(e, SagaStepDue)]


class FakeOrderRepository:
    def __init__(self, uow: FakeOrderingUnitOfWork) -> None:
        self._uow = uow

    async def add(self, order: Order) -> bool:
        store = self._uow.store
        taken = {o.checkout_reference for o in store.orders.values()}
        if order.checkout_reference in taken:
            return False
        order.history.clear()
        self._uow.stage(order)
        return True

    async def get(self, order_id: uuid.UUID, *, for_update: bool = False) -> Order | None:
        found = self._uow.store.orders.get(order_id)
        if found is None:
            return None
        order = copy.deepcopy(found)
        # As the SQL repository does: a loaded order starts with no transient flags.
        order.just_confirmed = False
        self._uow.track(order)
        return order

    async def get_by_checkout_reference(self, reference: str, *, for_update: bool = False) -> Order | None:
        for order in self._uow.store.orders.values():
            if order.checkout_reference == reference:
                return await self.get(order.id)
        return None

    async def save(self, order: Order) -> None:
        order.history.clear()
        self._uow.stage(order)

    async def awaiting_reservation(self, skus: list[str]) -> dict[str, int]:
        waiting: Counter[str] = Counter()
        for order in self._uow.store.orders.values():
            if order.status is OrderStatus.PENDING and order.saga.step is SagaStep.RESERVE_STOCK:
                for line in order.lines:
                    if line.sku in skus:
                        waiting[line.sku] += line.quantity
        return dict(waiting)

    async def claim_overdue(self, *, now: datetime, limit: int) -> list[Order]:
        due = sorted(
            (o for o in self._uow.store.orders.values() if not o.saga.finished and o.is_overdue(now)),
            key=lambda o: o.saga.deadline or now,
        )
        return [order for o in due[:limit] if (order := await self.get(o.id)) is not None]


class FakeOrderingUnitOfWork:
    def __init__(self, store: InMemoryOrders) -> None:
        self.store = store
        self.orders = FakeOrderRepository(self)
        self._staged: dict[uuid.UUID, Order] = {}
        self._tracked: list[Order] = []
        self._claims: list[tuple[str, uuid.UUID]] = []

    def track(self, order: Order) -> None:
        if not any(seen is order for seen in self._tracked):
            self._tracked.append(order)

    def stage(self, order: Order) -> None:
        self.track(order)
        self._staged[order.id] = order

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._staged.clear()
        self._claims.clear()

    async def already_processed(self, consumer: str, message_id: uuid.UUID) -> bool:
        return (consumer, message_id) in self.store.inbox

    async def claim_message(self, consumer: str, message_id: uuid.UUID) -> bool:
        if (consumer, message_id) in self.store.inbox:
            return False
        self._claims.append((consumer, message_id))
        return True

    async def commit(self) -> None:
        for order in self._tracked:
            self.store.outbox.extend(order.collect_events())
        for order_id, order in self._staged.items():
            self.store.orders[order_id] = copy.deepcopy(order)
        self.store.inbox.update(self._claims)
        self.store.commits += 1
        self._staged.clear()
        self._claims.clear()
