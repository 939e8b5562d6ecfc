"""Loads and saves whole product aggregates."""

from __future__ import annotations

import uuid

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orderly.modules.catalog.adapters.tables import products, variants
from orderly.modules.catalog.domain.model import DuplicateSku, Product, Variant
from orderly.platform.uow import SqlUnitOfWork
from orderly.shared_kernel.money import Money


class SqlProductRepository:
    def __init__(self, connection: AsyncConnection, uow: SqlUnitOfWork) -> None:
        self._connection = connection
        self._uow = uow

    async def add(self, product: Product) -> None:
        self._uow.track(product)
        await self._connection.execute(
            insert(products).values(
                id=product.id,
                name=product.name,
                description=product.description,
                version=product.version,
                created_at=product.created_at,
                updated_at=product.created_at,
            )
        )
        rows = [
            {
                "sku": v.sku,
                "product_id": product.id,
                "position": position,
                "price_amount": v.price.amount,
                "price_currency": v.price.currency,
            }
            for position, v in enumerate(product.variants)
        ]
        # ON CONFLICT would hide which SKU clashed; a savepoint lets us name it
        # and leave the transaction usable.
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(insert(variants), rows)
        except IntegrityError as exc:
            if "pk_variants" not in str(exc.orig):
                raise
            await self._raise_duplicate([r["sku"] for r in rows])  # type: ignore[misc]

    async def _raise_duplicate(self, skus: list[str]) -> None:
        taken = await self._connection.scalar(
            select(variants.c.sku).where(variants.c.sku.in_(skus)).order_by(variants.c.sku).limit(1)
        )
        raise DuplicateSku(str(taken or skus[0]))

    async def get(self, product_id: uuid.UUID) -> Product | None:
        row = (
            await self._connection.execute(
                select(products).where(products.c.id == product_id).with_for_update()
            )
        ).one_or_none()
        if row is None:
            return None
        variant_rows = (
            await self._connection.execute(
                select(variants).where(variants.c.product_id == product_id).order_by(variants.c.position)
            )
        ).all()
        product = Product(
            id=row.id,
            name=row.name,
            description=row.description,
            variants=[
                Variant(sku=v.sku, price=Money(v.price_amount.normalize(), v.price_currency))
                for v in variant_rows
            ],
            version=row.version,
            created_at=row.created_at,
        )
        self._uow.track(product)
        return product


class CatalogSqlUnitOfWork(SqlUnitOfWork):
    products: SqlProductRepository

    def _open(self, connection: AsyncConnection) -> None:
        self.products = SqlProductRepository(connection, self)
