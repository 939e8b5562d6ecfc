"""Use cases. Each loads, asks the aggregate, saves, and ends in ``uow.commit()``."""

from __future__ import annotations

import uuid

from orderly.modules.catalog.application.commands import CreateProduct
from orderly.modules.catalog.application.ports import CatalogUnitOfWork
from orderly.modules.catalog.domain.model import Product, Variant
from orderly.shared_kernel.money import Money


async def create_product(command: CreateProduct, *, uow: CatalogUnitOfWork) -> uuid.UUID:
    product = Product.create(
        name=command.name,
        description=command.description,
        variants=[
            Variant(sku=v.sku, price=Money(v.price_amount, v.price_currency))
            for v in command.variants
        ],
    )
    async with uow:
        await uow.products.add(product)
        await uow.commit()
    return product.id
