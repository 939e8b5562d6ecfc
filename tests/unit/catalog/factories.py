"""Test data for the catalog: valid by default, one argument away from invalid."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from orderly.modules.catalog.application.commands import CreateProduct, NewPrice, NewVariant
from orderly.modules.catalog.domain.product import Product, Variant
from orderly.shared_kernel.money import Money


def variant(
    sku: str = "MUG-1",
    amount: str = "12.50",
    currency: str = "EUR",
    *,
    attributes: Mapping[str, str] | None = None,
) -> Variant:
    return Variant.of(sku=sku, prices=[Money.of(amount, currency)], attributes=attributes)


def product(
    *,
    name: str = "Mug",
    description: str = "Stoneware",
    slug: str = "mug",
    variants: list[Variant] | None = None,
    publish: bool = False,
) -> Product:
    return Product.create(
        name=name,
        description=description,
        slug=slug,
        variants=variants if variants is not None else [variant()],
        publish=publish,
    )


def new_variant(sku: str = "MUG-1", amount: str = "12.50", currency: str = "EUR") -> NewVariant:
    return NewVariant(sku=sku, prices=(NewPrice(amount=Decimal(amount), currency=currency),))


def create_product_command(
    *,
    name: str = "Mug",
    description: str = "Stoneware",
    variants: tuple[NewVariant, ...] | None = None,
    slug: str | None = None,
    publish: bool = False,
) -> CreateProduct:
    return CreateProduct(
        name=name,
        description=description,
        variants=variants if variants is not None else (new_variant(),),
        slug=slug,
        publish=publish,
    )
