"""Wires the cart: the Redis store, the use cases, the routes and the facade."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

from fastapi import APIRouter
from sqlalchemy import MetaData

from orderly.modules.cart.adapters.facade import RedisCartApi
from orderly.modules.cart.adapters.http import build_router
from orderly.modules.cart.adapters.store import RedisCartStore
from orderly.modules.cart.application.handlers import CartService
from orderly.modules.cart.application.ports import StockLevels
from orderly.modules.catalog.api import CatalogApi
from orderly.platform.messaging.port import Subscription
from orderly.platform.modules import BackgroundTask, ModuleContext


class CartModule:
    name: ClassVar[str] = "cart"
    # Carts live in Redis: no tables, so no migrations and no outbox (the cart
    # publishes no integration events). The empty metadata only names the schema.
    metadata = MetaData(schema="cart")
    outbox = None
    consumes: ClassVar[Sequence[tuple[str, tuple[str, ...]]]] = ()

    def __init__(self, ctx: ModuleContext, *, store: RedisCartStore | None = None) -> None:
        self._ctx = ctx
        settings = ctx.settings
        self.store = store if store is not None else RedisCartStore(ctx.redis, ttl_s=settings.cart_ttl_s)
        catalog: CatalogApi = _facade_of(ctx, "catalog")
        inventory: StockLevels = _facade_of(ctx, "inventory")
        self.service = CartService(
            store=self.store,
            catalog=catalog,
            inventory=inventory,
            default_currency=settings.cart_default_currency,
        )
        self._facade = RedisCartApi(self.store)

    def facade(self) -> RedisCartApi:
        return self._facade

    def routers(self) -> Sequence[APIRouter]:
        return [
            build_router(
                service=self.service,
                ttl=timedelta(seconds=self._ctx.settings.cart_ttl_s),
                retry_after_s=self._ctx.settings.cart_retry_after_s,
            )
        ]

    def subscriptions(self) -> Sequence[Subscription]:
        return []

    def background_tasks(self) -> Sequence[BackgroundTask]:
        # Redis expires abandoned carts by itself (TTL): nothing to sweep.
        return []


def _facade_of(ctx: ModuleContext, name: str) -> Any:
    facade = ctx.facades.get(name)
    if facade is None:
        raise RuntimeError(
            f"the cart reads prices and stock through the {name} facade: run '{name}' with 'cart'"
        )
    return facade
