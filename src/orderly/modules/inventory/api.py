"""The inventory's facade: what other modules (ordering, checkout) may ask it, synchronously.

Errors are domain errors with a stable ``code``: catch them by family
(``InvalidInput``, ``NotFound``, ``Conflict`` from the shared kernel) or by the
classes re-exported here. A reservation that cannot be covered is not an
error: ``reserve`` returns a result whose ``status`` is ``"rejected"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from orderly.modules.inventory.domain.errors import (
    InventoryBusy,
    ReferenceReused,
    ReservationNotActive,
    ReservationNotFound,
    UnknownSku,
)

__all__ = [
    "Availability",
    "InventoryApi",
    "InventoryBusy",
    "ReferenceReused",
    "ReservationAllocation",
    "ReservationLine",
    "ReservationNotActive",
    "ReservationNotFound",
    "ReservationResult",
    "ReservationShortfall",
    "ReservationStatusName",
    "UnknownSku",
]

ReservationStatusName = Literal["active", "confirmed", "released", "expired", "rejected"]


@dataclass(frozen=True)
class ReservationLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class ReservationAllocation:
    """Where the stock of a line is held (a line may be split across warehouses)."""

    sku: str
    warehouse: str
    quantity: int


@dataclass(frozen=True)
class ReservationShortfall:
    sku: str
    requested: int
    available: int


@dataclass(frozen=True)
class ReservationResult:
    reference: str
    status: ReservationStatusName
    lines: tuple[ReservationLine, ...]
    allocations: tuple[ReservationAllocation, ...]
    shortfalls: tuple[ReservationShortfall, ...]
    created_at: datetime
    expires_at: datetime | None
    closed_at: datetime | None

    @property
    def reserved(self) -> bool:
        """The stock was held (it may since have been confirmed, released or expired)."""
        return self.status != "rejected"


@dataclass(frozen=True)
class Availability:
    """Totals across warehouses; ``available`` is what can be reserved now."""

    sku: str
    on_hand: int
    reserved: int
    available: int


class InventoryApi(Protocol):
    async def known_skus(self, skus: list[str]) -> set[str]:
        """Which of these SKUs inventory tracks."""
        ...

    async def reserve(
        self, reference: str, lines: Sequence[ReservationLine], ttl: timedelta
    ) -> ReservationResult:
        """Hold every line for ``ttl``, or none (status ``rejected`` with the shortfalls).

        Idempotent per reference: the same reference and lines again return the
        first outcome and change nothing; other lines raise ``ReferenceReused``.
        Unknown SKUs raise ``UnknownSku``.
        """
        ...

    async def confirm(self, reference: str) -> ReservationResult:
        """Turn the held stock into a deduction (the goods leave). Idempotent;
        raises ``ReservationNotActive`` once released or expired."""
        ...

    async def release(self, reference: str) -> ReservationResult:
        """Give the held stock back. Idempotent, also after expiry; raises
        ``ReservationNotActive`` once confirmed."""
        ...

    async def reservation(self, reference: str) -> ReservationResult | None:
        """The reservation as it stands, or None."""
        ...

    async def availability(self, skus: Sequence[str]) -> dict[str, Availability]:
        """Current totals of each known SKU; unknown SKUs are absent from the result."""
        ...
