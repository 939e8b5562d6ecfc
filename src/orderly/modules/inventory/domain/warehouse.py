"""Warehouses: where stock is kept, and in which order allocation draws from them."""

from __future__ import annotations

import re
from datetime import datetime

from orderly.modules.inventory.domain.stock import WarehouseRef
from orderly.shared_kernel.domain import AggregateRoot, utcnow
from orderly.shared_kernel.errors import InvalidInput

CODE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,31}$")
MAX_NAME = 200
MAX_PRIORITY = 10_000


class Warehouse(AggregateRoot):
    """A stock location. ``priority`` is a rank: allocation tries 0 before 1.

    The code is the warehouse's identity (stock levels and movements refer to
    it) and never changes.
    """

    def __init__(self, *, code: str, name: str, priority: int, active: bool, created_at: datetime) -> None:
        super().__init__()
        self.code = code
        self.name = name
        self.priority = priority
        self.active = active
        self.created_at = created_at

    @classmethod
    def create(cls, *, code: str, name: str, priority: int, active: bool = True) -> Warehouse:
        if not CODE_PATTERN.match(code):
            raise InvalidInput(
                "a warehouse code is 1-32 upper-case letters, digits, '_' or '-', "
                "starting with a letter or digit",
                field="code",
            )
        name = name.strip()
        if not name or len(name) > MAX_NAME:
            raise InvalidInput(f"a warehouse name has 1 to {MAX_NAME} characters", field="name")
        if not 0 <= priority <= MAX_PRIORITY:
            raise InvalidInput(f"a priority is a whole number from 0 to {MAX_PRIORITY}", field="priority")
        return cls(code=code, name=name, priority=priority, active=active, created_at=utcnow())

    def ref(self) -> WarehouseRef:
        return WarehouseRef(code=self.code, priority=self.priority, active=self.active)
