"""Warehouses: where stock is kept, and in which order allocation draws from them."""

from __future__ import annotations

import re
from datetime import datetime

from orderly.modules.inventory.domain.errors import StaleWarehouseVersion
from orderly.modules.inventory.domain.stock import WarehouseRef
from orderly.shared_kernel.domain import AggregateRoot, utcnow
from orderly.shared_kernel.errors import InvalidInput

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")
MAX_NAME = 200
MAX_PRIORITY = 10_000


class Warehouse(AggregateRoot):
    """A stock location. ``priority`` is a rank: allocation tries 0 before 1.

    The code is the warehouse's identity (stock levels and movements refer to
    it) and never changes. An inactive warehouse keeps its stock, its
    reservations and its adjustments, but new reservations never draw from it
    and its stock is not counted as available. ``version`` grows with every
    change, for optimistic concurrency (the HTTP ``ETag``).
    """

    def __init__(
        self, *, code: str, name: str, priority: int, active: bool, created_at: datetime, version: int = 1
    ) -> None:
        super().__init__()
        self.code = code
        self.name = name
        self.priority = priority
        self.active = active
        self.created_at = created_at
        self.version = version

    @classmethod
    def create(cls, *, code: str, name: str, priority: int, active: bool = True) -> Warehouse:
        if not CODE_PATTERN.match(code):
            raise InvalidInput(
                "a warehouse code is 1-32 upper-case letters, digits, '_' or '-', "
                "starting with a letter or digit",
                field="code",
            )
        return cls(
            code=code,
            name=_valid_name(name),
            priority=_valid_priority(priority),
            active=active,
            created_at=utcnow(),
        )

    def ensure_version(self, expected: int | None) -> None:
        """Refuse to change a warehouse the caller last saw at another version (None: any)."""
        if expected is not None and expected != self.version:
            raise StaleWarehouseVersion(self.code, expected=expected, current=self.version)

    def change(
        self, *, name: str | None = None, priority: int | None = None, active: bool | None = None
    ) -> bool:
        """Apply the given fields (None keeps one); False, and no new version, if nothing differs."""
        new_name = _valid_name(name) if name is not None else self.name
        new_priority = _valid_priority(priority) if priority is not None else self.priority
        new_active = active if active is not None else self.active
        if (new_name, new_priority, new_active) == (self.name, self.priority, self.active):
            return False
        self.name, self.priority, self.active = new_name, new_priority, new_active
        self.version += 1
        return True

    def ref(self) -> WarehouseRef:
        return WarehouseRef(code=self.code, priority=self.priority, active=self.active)


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"a warehouse name has 1 to {MAX_NAME} characters", field="name")
    return name


def _valid_priority(priority: int) -> int:
    if not 0 <= priority <= MAX_PRIORITY:
        raise InvalidInput(f"a priority is a whole number from 0 to {MAX_PRIORITY}", field="priority")
    return priority
