"""Why the inventory refuses an operation. Each has a stable ``code`` (the problem type)."""

from __future__ import annotations

from orderly.shared_kernel.errors import ConcurrencyConflict, Conflict, InvalidInput, NotFound


class UnknownSku(InvalidInput):
    code = "unknown-sku"

    def __init__(self, sku: str, *, field: str) -> None:
        super().__init__(f"SKU '{sku}' is not known to inventory", sku=sku, field=field)
        self.sku = sku


class SkuNotFound(NotFound):
    code = "sku-not-found"

    def __init__(self, sku: str) -> None:
        super().__init__(f"SKU '{sku}' is not known to inventory", sku=sku)


class UnknownWarehouse(InvalidInput):
    code = "unknown-warehouse"

    def __init__(self, warehouse: str, *, field: str = "warehouse") -> None:
        super().__init__(f"no warehouse with code '{warehouse}'", warehouse=warehouse, field=field)


class WarehouseNotFound(NotFound):
    code = "warehouse-not-found"

    def __init__(self, warehouse: str) -> None:
        super().__init__(f"no warehouse with code '{warehouse}'", warehouse=warehouse)


class StaleWarehouseVersion(ConcurrencyConflict):
    """The caller changed an older version of the warehouse than the current one (HTTP: 412)."""

    code = "stale-version"

    def __init__(self, warehouse: str, *, expected: int, current: int) -> None:
        super().__init__(
            f"warehouse '{warehouse}' is at version {current}, the request was based on version {expected}",
            warehouse=warehouse,
            current_version=current,
        )
        self.current = current


class DuplicateWarehouse(Conflict):
    code = "duplicate-warehouse"

    def __init__(self, warehouse: str) -> None:
        super().__init__(f"a warehouse with code '{warehouse}' already exists", warehouse=warehouse)


class InsufficientStock(Conflict):
    """An adjustment would take away stock that is not there or is held by reservations."""

    code = "insufficient-stock"

    def __init__(self, *, sku: str, warehouse: str, unreserved: int, requested: int) -> None:
        super().__init__(
            f"cannot remove {requested} of '{sku}' from '{warehouse}': only {unreserved} on hand "
            "and not reserved",
            sku=sku,
            warehouse=warehouse,
            unreserved=unreserved,
        )


class StockLimitExceeded(InvalidInput):
    code = "stock-limit-exceeded"

    def __init__(self, *, sku: str, warehouse: str, limit: int) -> None:
        super().__init__(
            f"'{sku}' in '{warehouse}' would exceed the limit of {limit} units on hand",
            sku=sku,
            warehouse=warehouse,
            field="delta",
        )


class ReservationNotFound(NotFound):
    code = "reservation-not-found"

    def __init__(self, reference: str) -> None:
        super().__init__(f"no reservation with reference '{reference}'", reference=reference)


class ReferenceReused(Conflict):
    """The reference was already used for a reservation of other lines."""

    code = "reservation-reference-reused"

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"reference '{reference}' was already used to reserve different lines", reference=reference
        )


class ReservationNotActive(Conflict):
    """The reservation can no longer be confirmed or released (its stock is gone or back)."""

    code = "reservation-not-active"

    def __init__(self, reference: str, *, status: str, action: str) -> None:
        super().__init__(
            f"reservation '{reference}' is {status} and cannot be {action}",
            reference=reference,
            reservation_status=status,
        )
        self.status = status


class InventoryBusy(ConcurrencyConflict):
    """Transient database conflicts persisted through every retry; the caller may try again."""

    code = "inventory-busy"
