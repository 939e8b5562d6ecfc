"""Integration events the inventory publishes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from orderly.shared_kernel.domain import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class SkuRegistered(IntegrationEvent):
    """Inventory now tracks stock for this SKU (zero on hand until stock arrives)."""

    event_type: ClassVar[str] = "inventory.sku_registered.v1"
    aggregate_type: ClassVar[str] = "sku"

    sku: str
    product_id: str
