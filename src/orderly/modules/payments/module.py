"""Wires the payments module: tables, provider adapter, facade, routes, sweep, embedded simulator."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import ClassVar

from fastapi import APIRouter

from orderly.modules.payments.adapters import tables
from orderly.modules.payments.adapters.embedded import EmbeddedProvider
from orderly.modules.payments.adapters.facade import SqlPaymentsApi
from orderly.modules.payments.adapters.http import build_staff_router, build_webhook_router
from orderly.modules.payments.adapters.provider_http import BaseUrl, HttpPaymentProvider
from orderly.modules.payments.adapters.queries import SqlPaymentQueries
from orderly.modules.payments.adapters.repository import PaymentsSqlUnitOfWork
from orderly.modules.payments.adapters.sweeper import run_sweeper
from orderly.paymentsim.config import DEV_WEBHOOK_SECRET
from orderly.platform.messaging.port import Subscription
from orderly.platform.modules import BackgroundTask, ModuleContext


class PaymentsModule:
    name: ClassVar[str] = "payments"
    metadata = tables.metadata
    outbox = tables.outbox
    consumes: ClassVar[Sequence[tuple[str, tuple[str, ...]]]] = ()

    def __init__(self, ctx: ModuleContext) -> None:
        settings = ctx.settings
        if settings.env == "production" and (
            settings.payment_webhook_secret.get_secret_value() == DEV_WEBHOOK_SECRET
            or settings.payment_provider_url is None
        ):
            raise RuntimeError(
                "production needs ORDERLY_PAYMENT_PROVIDER_URL and its own ORDERLY_PAYMENT_WEBHOOK_SECRET"
            )
        self._ctx = ctx
        self._queries = SqlPaymentQueries(ctx.engine)
        self._webhook_router = build_webhook_router(
            uow_factory=self.unit_of_work,
            secret=settings.payment_webhook_secret.get_secret_value,
            tolerance_s=settings.payment_webhook_tolerance_s,
        )
        self.embedded: EmbeddedProvider | None = None
        base_url: BaseUrl
        if settings.payment_provider_url is None:
            self.embedded = EmbeddedProvider(settings, self._webhook_router)
            base_url = self.embedded.url
        else:
            base_url = settings.payment_provider_url.rstrip("/")
        self.provider = HttpPaymentProvider(
            base_url=base_url,
            timeout_s=settings.payment_provider_timeout_s,
            max_attempts=settings.payment_provider_max_attempts,
            backoff_base_s=settings.payment_provider_backoff_base_s,
            backoff_cap_s=settings.payment_provider_backoff_cap_s,
            breaker_threshold=settings.payment_breaker_threshold,
            breaker_cooldown_s=settings.payment_breaker_cooldown_s,
        )
        self._facade = SqlPaymentsApi(
            uow_factory=self.unit_of_work, provider=self.provider, queries=self._queries
        )

    def unit_of_work(self) -> PaymentsSqlUnitOfWork:
        return PaymentsSqlUnitOfWork(
            self._ctx.engine,
            outbox=tables.outbox,
            inbox=tables.inbox,
            partitions=self._ctx.settings.outbox_partitions,
        )

    def facade(self) -> SqlPaymentsApi:
        return self._facade

    def routers(self) -> Sequence[APIRouter]:
        staff = build_staff_router(
            uow_factory=self.unit_of_work, provider=self.provider, queries=self._queries
        )
        return [self._webhook_router, staff]

    def subscriptions(self) -> Sequence[Subscription]:
        return []

    def background_tasks(self) -> Sequence[BackgroundTask]:
        settings = self._ctx.settings

        async def sweeper(stop: asyncio.Event) -> None:
            await run_sweeper(
                stop,
                engine=self._ctx.engine,
                uow_factory=self.unit_of_work,
                provider=self.provider,
                interval_s=settings.payment_sweep_interval_s,
                stale_after=timedelta(seconds=settings.payment_stale_after_s),
                release_grace=timedelta(seconds=settings.payment_release_grace_s),
            )

        tasks: list[BackgroundTask] = []
        if self.embedded is not None:
            tasks.append(self.embedded.run)
        tasks.append(sweeper)
        return tasks
