"""catalog_0002/0003 carry existing products over, and going back restores what 0001 had."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from orderly.platform import migrations
from orderly.platform.db import async_url
from tests.conftest import ADMIN_DATABASE_URL, require_service

MUG = uuid.UUID("0190b5a0-0000-7000-8000-000000000001")
MUG_TOO = uuid.UUID("0190b5a0-0000-7000-8000-000000000002")


async def _execute(url: str, *statements: str) -> list[list[Any]]:
    engine = create_async_engine(async_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            results = []
            for statement in statements:
                result = await conn.execute(text(statement))
                results.append([tuple(row) for row in result] if result.returns_rows else [])
            return results
    finally:
        await engine.dispose()


def _run(url: str, *statements: str) -> list[list[Any]]:
    return asyncio.run(_execute(url, *statements))


@pytest.fixture
def scratch_url() -> Iterator[str]:
    require_service("PostgreSQL", ADMIN_DATABASE_URL, 5432)
    name = f"orderly_catalog_migrations_{uuid.uuid4().hex[:8]}"
    _run(ADMIN_DATABASE_URL, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(ADMIN_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _run(ADMIN_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class TestCatalogMigrations:
    def test_products_of_0001_are_carried_over_and_restored_on_the_way_back(self, scratch_url: str) -> None:
        migrations.upgrade(scratch_url, "catalog_0001")
        _run(
            scratch_url,
            f"""INSERT INTO catalog.products VALUES
                ('{MUG}', 'Red Mug', 'd', 1, now(), now()),
                ('{MUG_TOO}', 'Red mug!', 'd', 1, now(), now())""",
            f"""INSERT INTO catalog.variants VALUES
                ('MUG-S', '{MUG}', 0, 12.50, 'EUR'),
                ('MUG-L', '{MUG}', 1, 9.90, 'EUR'),
                ('MUG-2', '{MUG_TOO}', 0, 3, 'USD')""",
        )

        migrations.upgrade(scratch_url, "catalog@head")
        products, prices, from_prices = _run(
            scratch_url,
            "SELECT id, slug, status, published_at IS NOT NULL FROM catalog.products ORDER BY id",
            "SELECT sku, currency, amount, position FROM catalog.variant_prices ORDER BY sku",
            "SELECT product_id, currency, from_amount FROM catalog.product_prices ORDER BY product_id",
        )
        assert products[0][1:] == ("red-mug", "published", True)
        assert products[1][1].startswith("red-mug-")
        assert products[1][2:] == ("published", True)
        assert [(sku, currency, float(amount), position) for sku, currency, amount, position in prices] == [
            ("MUG-2", "USD", 3.0, 0),
            ("MUG-L", "EUR", 9.9, 0),
            ("MUG-S", "EUR", 12.5, 0),
        ]
        assert [(p, c, float(a)) for p, c, a in from_prices] == [(MUG, "EUR", 9.9), (MUG_TOO, "USD", 3.0)]
        [[(extension,)]] = [
            _run(scratch_url, "SELECT extname FROM pg_extension WHERE extname = 'pg_trgm'")[0]
        ]
        assert extension == "pg_trgm"

        migrations.downgrade(scratch_url, "catalog_0001")
        [variants] = _run(
            scratch_url, "SELECT sku, price_amount, price_currency FROM catalog.variants ORDER BY sku"
        )
        assert [(sku, float(amount), currency) for sku, amount, currency in variants] == [
            ("MUG-2", 3.0, "USD"),
            ("MUG-L", 9.9, "EUR"),
            ("MUG-S", 12.5, "EUR"),
        ]
        [columns] = _run(
            scratch_url,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'catalog' AND table_name = 'products' ORDER BY column_name",
        )
        assert [c for (c,) in columns] == ["created_at", "description", "id", "name", "updated_at", "version"]

        # And forward again: the round trip leaves a database the migrations can upgrade.
        migrations.upgrade(scratch_url, "catalog@head")
