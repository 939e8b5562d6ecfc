"""The allocation policy: priority first, then most available, split only when needed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orderly.modules.inventory.domain.allocation import Source, allocation_order, plan_allocation


@st.composite
def sources(draw: st.DrawFn) -> list[Source]:
    count = draw(st.integers(min_value=0, max_value=6))
    return [
        Source(
            warehouse=f"W{index}",
            priority=draw(st.integers(min_value=0, max_value=3)),
            available=draw(st.integers(min_value=0, max_value=40)),
            active=draw(st.booleans()),
        )
        for index in range(count)
    ]


class TestAllocationPolicyProperties:
    @settings(max_examples=300, deadline=None)
    @given(sources=sources(), quantity=st.integers(min_value=1, max_value=150))
    def test_a_plan_covers_exactly_the_quantity_or_nothing(
        self, sources: list[Source], quantity: int
    ) -> None:
        plan = plan_allocation("SKU", quantity, sources)
        eligible = {s.warehouse: s for s in sources if s.active and s.available > 0}
        assert plan.available == sum(s.available for s in eligible.values())
        if plan.available < quantity:
            assert not plan.covered
            assert plan.allocations == ()
            return
        assert plan.covered
        assert sum(a.quantity for a in plan.allocations) == quantity
        assert len({a.warehouse for a in plan.allocations}) == len(plan.allocations)
        for allocation in plan.allocations:
            assert allocation.warehouse in eligible, "only active warehouses with stock are drawn from"
            assert 0 < allocation.quantity <= eligible[allocation.warehouse].available

    @settings(max_examples=300, deadline=None)
    @given(sources=sources(), quantity=st.integers(min_value=1, max_value=150))
    def test_a_warehouse_is_drawn_from_only_once_every_better_one_is_empty(
        self, sources: list[Source], quantity: int
    ) -> None:
        plan = plan_allocation("SKU", quantity, sources)
        order = [s.warehouse for s in allocation_order(sources)]
        used = [a.warehouse for a in plan.allocations]
        # The used warehouses are a prefix of the policy's order...
        assert used == order[: len(used)]
        # ...and every one but the last gives all it has.
        by_code = {s.warehouse: s for s in sources}
        for allocation in plan.allocations[:-1]:
            assert allocation.quantity == by_code[allocation.warehouse].available

    @settings(max_examples=200, deadline=None)
    @given(sources=sources())
    def test_the_order_ranks_priority_then_most_available(self, sources: list[Source]) -> None:
        ordered = allocation_order(sources)
        keys = [(s.priority, -s.available) for s in ordered]
        assert keys == sorted(keys)


class TestAllocationPolicyExamples:
    def test_lower_priority_value_is_drawn_from_first(self) -> None:
        plan = plan_allocation(
            "MUG", 3, [Source("FAR", priority=5, available=100), Source("NEAR", priority=1, available=10)]
        )
        assert [(a.warehouse, a.quantity) for a in plan.allocations] == [("NEAR", 3)]

    def test_equal_priorities_draw_from_the_fullest_warehouse(self) -> None:
        plan = plan_allocation("MUG", 4, [Source("A", 1, 5), Source("B", 1, 9)])
        assert [(a.warehouse, a.quantity) for a in plan.allocations] == [("B", 4)]

    def test_a_line_larger_than_any_warehouse_is_split(self) -> None:
        plan = plan_allocation("MUG", 12, [Source("A", 0, 5), Source("B", 1, 9), Source("C", 1, 2)])
        assert [(a.warehouse, a.quantity) for a in plan.allocations] == [("A", 5), ("B", 7)]

    def test_inactive_warehouses_are_never_drawn_from(self) -> None:
        plan = plan_allocation("MUG", 2, [Source("CLOSED", 0, 50, active=False), Source("OPEN", 9, 1)])
        assert not plan.covered
        assert plan.available == 1
