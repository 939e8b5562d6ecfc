"""The category tree's rules: depth and no cycles."""

from __future__ import annotations

import uuid

import pytest

from orderly.modules.catalog.contracts import CategoryChanged
from orderly.modules.catalog.domain.category import MAX_DEPTH, Category
from orderly.shared_kernel.errors import InvalidInput


def _root(name: str = "Kitchen", slug: str = "kitchen") -> Category:
    return Category.create(name=name, slug=slug, parent_id=None, parent_path=[])


class TestCreatingACategory:
    def test_a_root_category_records_category_changed(self) -> None:
        kitchen = _root()
        [event] = kitchen.collect_events()
        assert isinstance(event, CategoryChanged)
        assert (event.slug, event.parent_id, event.version) == ("kitchen", None, 1)

    def test_a_category_deeper_than_the_limit_is_refused(self) -> None:
        path = [uuid.uuid4() for _ in range(MAX_DEPTH - 1)]
        Category.create(name="Leaf", slug="leaf", parent_id=path[-1], parent_path=path)
        with pytest.raises(InvalidInput):
            Category.create(
                name="Too deep", slug="too-deep", parent_id=path[-1], parent_path=[*path, uuid.uuid4()]
            )

    @pytest.mark.parametrize("name", ["", "   ", "n" * 101])
    def test_a_blank_or_overlong_name_is_refused(self, name: str) -> None:
        with pytest.raises(InvalidInput):
            _root(name=name)


class TestMovingACategory:
    def test_moving_under_a_descendant_is_refused(self) -> None:
        kitchen = _root()
        mugs_id = uuid.uuid4()
        with pytest.raises(InvalidInput, match="under itself"):
            kitchen.move(parent_id=mugs_id, parent_path=[kitchen.id, mugs_id], subtree_height=2)

    def test_moving_under_itself_is_refused(self) -> None:
        kitchen = _root()
        with pytest.raises(InvalidInput):
            kitchen.move(parent_id=kitchen.id, parent_path=[kitchen.id], subtree_height=1)

    def test_a_move_that_would_make_the_subtree_too_deep_is_refused(self) -> None:
        kitchen = _root()
        deep = [uuid.uuid4() for _ in range(MAX_DEPTH - 1)]
        with pytest.raises(InvalidInput, match="levels deep"):
            kitchen.move(parent_id=deep[-1], parent_path=deep, subtree_height=2)

    def test_a_move_bumps_the_version_and_says_where_to(self) -> None:
        kitchen = _root()
        kitchen.collect_events()
        home = uuid.uuid4()
        assert kitchen.move(parent_id=home, parent_path=[home], subtree_height=1) is True
        [event] = kitchen.collect_events()
        assert isinstance(event, CategoryChanged)
        assert (event.parent_id, event.version) == (str(home), 2)

    def test_moving_to_where_it_already_is_changes_nothing(self) -> None:
        kitchen = _root()
        kitchen.collect_events()
        assert kitchen.move(parent_id=None, parent_path=[], subtree_height=1) is False
        assert kitchen.collect_events() == []
