"""The product aggregate and its rules."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from orderly.modules.catalog.contracts import ProductCreated, VariantSnapshot
from orderly.shared_kernel.domain import AggregateRoot, utcnow
from orderly.shared_kernel.errors import Conflict, InvalidInput
from orderly.shared_kernel.ids import new_id
from orderly.shared_kernel.money import Money

SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_NAME = 200
MAX_DESCRIPTION = 10_000
MAX_VARIANTS = 100


class DuplicateSku(Conflict):
    code = "duplicate-sku"

    def __init__(self, sku: str) -> None:
        super().__init__(f"SKU '{sku}' is already used by another variant", sku=sku)
        self.sku = sku


@dataclass(frozen=True, slots=True)
class Variant:
    sku: str
    price: Money

    def __post_init__(self) -> None:
        if not SKU_PATTERN.match(self.sku):
            raise InvalidInput(
                "a SKU is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
                field="sku",
            )
        if self.price.is_negative():
            raise InvalidInput("a price cannot be negative", field="price.amount")


class Product(AggregateRoot):
    def __init__(
        self,
        *,
        id: uuid.UUID,
        name: str,
        description: str,
        variants: list[Variant],
        version: int,
        created_at: datetime,
    ) -> None:
        super().__init__()
        self.id = id
        self.name = name
        self.description = description
        self.variants = variants
        self.version = version
        self.created_at = created_at

    @classmethod
    def create(cls, *, name: str, description: str, variants: list[Variant]) -> Product:
        name = name.strip()
        if not name:
            raise InvalidInput("a product needs a name", field="name")
        if len(name) > MAX_NAME:
            raise InvalidInput(f"a name has at most {MAX_NAME} characters", field="name")
        if len(description) > MAX_DESCRIPTION:
            raise InvalidInput(
                f"a description has at most {MAX_DESCRIPTION} characters", field="description"
            )
        if not variants:
            raise InvalidInput("a product needs at least one variant", field="variants")
        if len(variants) > MAX_VARIANTS:
            raise InvalidInput(f"a product has at most {MAX_VARIANTS} variants", field="variants")
        seen: set[str] = set()
        for variant in variants:
            if variant.sku in seen:
                raise DuplicateSku(variant.sku)
            seen.add(variant.sku)
        product = cls(
            id=new_id(),
            name=name,
            description=description,
            variants=list(variants),
            version=1,
            created_at=utcnow(),
        )
        product.record(
            ProductCreated(
                aggregate_id=str(product.id),
                product_id=str(product.id),
                name=product.name,
                variants=tuple(
                    VariantSnapshot(
                        sku=v.sku,
                        price_amount=str(v.price.quantized()),
                        price_currency=v.price.currency,
                    )
                    for v in product.variants
                ),
            )
        )
        return product
