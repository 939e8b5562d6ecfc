"""Carts in Redis: one hash per cart, changed only by the Lua scripts in ``scripts``.

See docs/cart/data-model.md for the keys and why they look this way. Any
failure to reach Redis becomes ``CartUnavailable`` (HTTP 503); after one, the
store answers "unavailable" at once for a short cool-down instead of making
every request wait for a connection timeout while Redis is away.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import redis.asyncio as aioredis
import structlog
from redis.commands.core import AsyncScript
from redis.exceptions import (
    MaxConnectionsError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)

from orderly.modules.cart.adapters import scripts
from orderly.modules.cart.api import CartNotFound, CartUnavailable
from orderly.modules.cart.application.ports import LineChange, MergeRecord, StaleCurrency, Viewer
from orderly.modules.cart.domain.cart import MAX_LINES, MAX_QUANTITY, Cart, CartLine, new_cart_id
from orderly.modules.cart.domain.errors import (
    CartCurrencyConflict,
    CartLineNotFound,
    LineLimit,
    LineQuantityLimit,
)
from orderly.modules.cart.domain.merge import MergePlan

log = structlog.get_logger(module="cart.store")

# The version in the namespace names the layout: a change of layout gets a
# new prefix, so two releases never read each other's documents.
NAMESPACE = "cart:v1:"
# What reaching Redis fails with: refused or dropped connections, timeouts.
_UNREACHABLE = (RedisError, OSError, TimeoutError)
# Replies that mean "not now" rather than "this script is wrong".
_UNAVAILABLE_REPLIES = (ReadOnlyError, OutOfMemoryError)
_NEW_ID_ATTEMPTS = 3


class CartKeys:
    def __init__(self, namespace: str = NAMESPACE) -> None:
        self.namespace = namespace

    def cart(self, cart_id: str) -> str:
        return f"{self.namespace}c:{cart_id}"

    def owner(self, customer_id: uuid.UUID) -> str:
        return f"{self.namespace}own:{customer_id}"

    def merged(self, guest_cart_id: str) -> str:
        return f"{self.namespace}merged:{guest_cart_id}"


class RedisCartStore:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        ttl_s: int,
        namespace: str = NAMESPACE,
        cooldown_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self.keys = CartKeys(namespace)
        self.ttl_ms = ttl_s * 1000
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._off_until = 0.0
        self._read = redis.register_script(scripts.READ)
        self._read_customer = redis.register_script(scripts.READ_CUSTOMER_CART)
        self._create_guest = redis.register_script(scripts.CREATE_GUEST)
        self._open_customer = redis.register_script(scripts.OPEN_CUSTOMER_CART)
        self._change_line = redis.register_script(scripts.CHANGE_LINE)
        self._check_out = redis.register_script(scripts.CHECK_OUT)
        self._merge = redis.register_script(scripts.MERGE)

    @property
    def namespace(self) -> str:
        return self.keys.namespace

    async def create_guest_cart(self, *, currency: str) -> Cart:
        for _ in range(_NEW_ID_ATTEMPTS):
            cart_id = new_cart_id()
            reply = await self._run(
                self._create_guest, [self.keys.cart(cart_id)], [currency, self._now_ms(), self.ttl_ms]
            )
            if _status(reply) == "ok":
                return decode_cart(cart_id, reply[1])
        # 192 random bits colliding three times in a row means the generator is broken.
        raise RuntimeError("could not draw an unused cart id")

    async def open_customer_cart(
        self, *, customer_id: uuid.UUID, currency: str | None, default_currency: str
    ) -> tuple[Cart, bool]:
        for _ in range(_NEW_ID_ATTEMPTS):
            cart_id = new_cart_id()
            reply = await self._run(
                self._open_customer,
                [self.keys.owner(customer_id), self.keys.cart(cart_id)],
                [
                    self.namespace,
                    str(customer_id),
                    cart_id,
                    currency or "",
                    default_currency,
                    self._now_ms(),
                    self.ttl_ms,
                ],
            )
            status = _status(reply)
            if status == "currency-conflict":
                raise CartCurrencyConflict(_text(reply[1]), currency or "")
            if status in {"existing", "created"}:
                return decode_cart(_text(reply[1]), reply[2]), status == "created"
        raise RuntimeError("could not draw an unused cart id")

    async def read(self, cart_id: str, *, by: Viewer) -> Cart | None:
        reply = await self._run(
            self._read, [self.keys.cart(cart_id)], [self.namespace, cart_id, _caller(by), self.ttl_ms]
        )
        return decode_cart(cart_id, reply[1]) if _status(reply) == "ok" else None

    async def customer_cart(self, customer_id: uuid.UUID) -> Cart | None:
        reply = await self._run(
            self._read_customer, [self.keys.owner(customer_id)], [self.namespace, self.ttl_ms]
        )
        return decode_cart(_text(reply[1]), reply[2]) if _status(reply) == "ok" else None

    async def change_line(self, cart_id: str, change: LineChange, *, by: Viewer) -> Cart:
        reply = await self._run(
            self._change_line,
            [self.keys.cart(cart_id)],
            [
                self.namespace,
                cart_id,
                _caller(by),
                self.ttl_ms,
                self._now_ms(),
                change.mode,
                change.sku,
                change.quantity,
                "" if change.price_seen is None else str(change.price_seen),
                change.currency or "",
                MAX_QUANTITY,
                MAX_LINES,
            ],
        )
        status = _status(reply)
        if status == "ok":
            return decode_cart(cart_id, reply[1])
        if status == "not-found":
            raise CartNotFound("no cart with this id")
        if status == "line-not-found":
            raise CartLineNotFound(change.sku)
        if status == "quantity-limit":
            raise LineQuantityLimit(change.sku, current=int(reply[1]), limit=MAX_QUANTITY)
        if status == "line-limit":
            raise LineLimit(MAX_LINES)
        if status == "stale-currency":
            raise StaleCurrency(cart_id)
        raise RuntimeError(f"unexpected reply from the cart store: {status}")

    async def check_out(self, cart_id: str, *, version: int) -> Cart | None:
        reply = await self._run(
            self._check_out,
            [self.keys.cart(cart_id)],
            [self.namespace, cart_id, self.ttl_ms, self._now_ms(), version],
        )
        return decode_cart(cart_id, reply[1]) if _status(reply) == "ok" else None

    async def commit_merge(
        self, *, customer_id: uuid.UUID, guest: Cart, into: Cart | None, plan: MergePlan
    ) -> Cart | None:
        target_id = into.id if into is not None else new_cart_id()
        changes = [
            {"s": line.sku, "q": line.quantity, "p": "" if line.price_seen is None else str(line.price_seen)}
            for line in plan.changes
        ]
        record = {"customer": str(customer_id), "cart": target_id}
        reply = await self._run(
            self._merge,
            [
                self.keys.cart(guest.id),
                self.keys.owner(customer_id),
                self.keys.cart(target_id),
                self.keys.merged(guest.id),
            ],
            [
                self.namespace,
                str(customer_id),
                guest.version,
                target_id,
                into.version if into is not None else 0,
                plan.currency,
                self._now_ms(),
                self.ttl_ms,
                orjson.dumps(changes),
                orjson.dumps(record),
            ],
        )
        return decode_cart(target_id, reply[1]) if _status(reply) == "ok" else None

    async def merged_into(self, guest_cart_id: str) -> MergeRecord | None:
        raw = await self._guard(lambda: self._redis.get(self.keys.merged(guest_cart_id)))
        if raw is None:
            return None
        data = orjson.loads(raw)
        return MergeRecord(customer_id=uuid.UUID(data["customer"]), cart_id=str(data["cart"]))

    async def _run(
        self, script: AsyncScript, keys: Sequence[str], args: Sequence[str | int | bytes]
    ) -> list[Any]:
        reply = await self._guard(lambda: script(keys=list(keys), args=list(args)))
        if not isinstance(reply, list):
            raise RuntimeError(f"unexpected reply from the cart store: {reply!r}")
        return reply

    async def _guard(self, call: Callable[[], Any]) -> Any:
        if self._clock() < self._off_until:
            raise CartUnavailable("the cart store is unavailable; try again shortly")
        try:
            return await call()
        except MaxConnectionsError as exc:
            # This process has every pooled connection busy: Redis itself is
            # fine, so the next request should try it rather than wait out a
            # cool-down.
            raise CartUnavailable("the cart store is busy; try again shortly") from exc
        except ResponseError as exc:
            if not isinstance(exc, _UNAVAILABLE_REPLIES):
                raise  # a broken script is a bug to see, not an outage to wait out
            self._trip(exc)
            raise CartUnavailable("the cart store cannot take changes right now; try again shortly") from exc
        except _UNREACHABLE as exc:
            self._trip(exc)
            raise CartUnavailable("the cart store cannot be reached; try again shortly") from exc

    def _trip(self, exc: BaseException) -> None:
        self._off_until = self._clock() + self._cooldown_s
        log.warning("cart store unavailable", error=repr(exc), cooldown_s=self._cooldown_s)

    def _now_ms(self) -> int:
        return int(self._wall_clock() * 1000)


def log_ref(cart_id: str) -> str:
    """A name for a cart in logs: a guest cart's id opens it, so it is never logged."""
    return hashlib.sha256(cart_id.encode()).hexdigest()[:12]


def _caller(by: Viewer) -> str:
    if by.system:
        return "*"
    return "" if by.customer_id is None else str(by.customer_id)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _status(reply: list[Any]) -> str:
    return _text(reply[0])


def _instant(ms: str) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def decode_cart(cart_id: str, flat: Sequence[object]) -> Cart:
    """A cart from its hash as HGETALL returns it (field, value, field, value...)."""
    fields = {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}
    lines = [_decode_line(name[2:], value) for name, value in fields.items() if name.startswith("l:")]
    owner = fields.get("own")
    return Cart.of(
        cart_id=cart_id,
        currency=fields["cur"],
        customer_id=uuid.UUID(owner) if owner else None,
        version=int(fields["ver"]),
        lines=lines,
        created_at=_instant(fields["ca"]),
        updated_at=_instant(fields["ua"]),
    )


def _decode_line(sku: str, value: str) -> CartLine:
    data = orjson.loads(value)
    return CartLine(
        sku=sku,
        quantity=int(data["q"]),
        price_seen=_decimal(data.get("p")),
        added_at=int(data["a"]),
        changed_at=int(data["v"]),
    )


def _decimal(value: object) -> Decimal | None:
    if not value:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
