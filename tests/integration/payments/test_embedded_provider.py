"""The zero-configuration default: no provider URL, and payments still work end to end."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.payments.adapters import tables
from orderly.modules.payments.module import PaymentsModule
from orderly.platform.settings import Settings
from tests.support.http import app_client, row_counts


async def test_app_without_provider_settings_runs_its_own_simulator_and_gets_its_webhooks(
    settings: Settings, engine: AsyncEngine, database_url: str
) -> None:
    assert settings.payment_provider_url is None
    apps: list[FastAPI] = []
    # Support staff read payments (payments:read) and nothing here needs more.
    async with app_client(settings, database_url, customize=apps.append, staff_role="support") as client:
        module = next(m for m in apps[0].state.container.modules if isinstance(m, PaymentsModule))
        assert module.embedded is not None

        result = await module.facade().authorize(
            payment_reference="embedded-1", order_id=uuid.uuid4(), amount=Decimal("12.00"), currency="EUR"
        )
        assert result.status == "authorized"
        captured = await module.facade().capture(payment_reference="embedded-1")
        assert captured.status == "captured"

        # The simulator's signed webhooks reach this process's endpoint without a socket.
        for _ in range(100):
            if (await row_counts(engine, (tables.inbox,)))[tables.inbox.fullname] == 2:
                break
            await asyncio.sleep(0.05)
        assert (await row_counts(engine, (tables.inbox,)))[tables.inbox.fullname] == 2

        view = await client.get(f"/v1/payments/{result.payment_id}")
        assert view.status_code == 200
        assert view.json()["status"] == "captured"
