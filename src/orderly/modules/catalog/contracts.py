"""Integration events the catalog publishes (versioned; add fields, never change them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from orderly.shared_kernel.domain import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class VariantSnapshot:
    sku: str
    price_amount: str
    price_currency: str


@dataclass(frozen=True, kw_only=True)
class ProductCreated(IntegrationEvent):
    event_type: ClassVar[str] = "catalog.product_created.v1"
    aggregate_type: ClassVar[str] = "product"

    product_id: str
    name: str
    variants: tuple[VariantSnapshot, ...]
