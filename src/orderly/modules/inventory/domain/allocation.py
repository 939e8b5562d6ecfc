"""The allocation policy: which warehouses a requested quantity is taken from.

Policy, in order:
1. only active warehouses with unreserved stock take part;
2. lower ``priority`` first (priority is a rank: 0 is tried before 1);
3. among equal priorities, the warehouse with the most available stock first,
   so a line is split as little as possible;
4. then the warehouse code, so the outcome is deterministic.

A line takes everything it can from one warehouse before moving to the next,
so at most one warehouse in the result is left with a part of its stock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Source:
    """One warehouse's stock of a SKU, as the policy sees it."""

    warehouse: str
    priority: int
    available: int
    active: bool = True


@dataclass(frozen=True, slots=True)
class Allocation:
    sku: str
    warehouse: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Plan:
    """The allocations covering a line, or none when ``available`` falls short."""

    sku: str
    requested: int
    available: int
    allocations: tuple[Allocation, ...]

    @property
    def covered(self) -> bool:
        return self.available >= self.requested


def allocation_order(sources: Iterable[Source]) -> list[Source]:
    """The sources a line may draw from, best first."""
    eligible = [s for s in sources if s.active and s.available > 0]
    return sorted(eligible, key=lambda s: (s.priority, -s.available, s.warehouse))


def plan_allocation(sku: str, quantity: int, sources: Iterable[Source]) -> Plan:
    """Split ``quantity`` of ``sku`` across ``sources`` by the policy above."""
    ordered = allocation_order(sources)
    available = sum(s.available for s in ordered)
    if available < quantity:
        return Plan(sku=sku, requested=quantity, available=available, allocations=())
    allocations: list[Allocation] = []
    remaining = quantity
    for source in ordered:
        if remaining == 0:
            break
        taken = min(source.available, remaining)
        allocations.append(Allocation(sku=sku, warehouse=source.warehouse, quantity=taken))
        remaining -= taken
    return Plan(sku=sku, requested=quantity, available=available, allocations=tuple(allocations))
