"""The inventory's facade."""

from __future__ import annotations

from typing import Protocol


class InventoryApi(Protocol):
    async def known_skus(self, skus: list[str]) -> set[str]:
        """Which of these SKUs inventory tracks."""
        ...
