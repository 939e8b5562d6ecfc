"""Commands (imperative, no behaviour)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from orderly.modules.inventory.domain.reservation import Line
from orderly.modules.inventory.domain.stock import AdjustmentReason


@dataclass(frozen=True, kw_only=True)
class CreateWarehouse:
    code: str
    name: str
    priority: int
    active: bool = True


@dataclass(frozen=True, kw_only=True)
class ChangeWarehouse:
    """Change some fields of a warehouse (None keeps one).

    ``expected_version`` is the version the caller last saw (None: whatever is current).
    """

    code: str
    expected_version: int | None
    name: str | None = None
    priority: int | None = None
    active: bool | None = None


@dataclass(frozen=True, kw_only=True)
class AdjustStock:
    sku: str
    warehouse: str
    delta: int
    reason: AdjustmentReason
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReserveStock:
    reference: str
    lines: tuple[Line, ...]
    ttl: timedelta


@dataclass(frozen=True, kw_only=True)
class ConfirmReservation:
    reference: str


@dataclass(frozen=True, kw_only=True)
class ReleaseReservation:
    reference: str


@dataclass(frozen=True, kw_only=True)
class ExpireDueReservations:
    batch_size: int
