"""Categories: a tree that products hang from (a product may sit in several)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from orderly.modules.catalog.contracts import CategoryChanged
from orderly.modules.catalog.domain.slug import validate_slug
from orderly.shared_kernel.domain import AggregateRoot, utcnow
from orderly.shared_kernel.errors import InvalidInput
from orderly.shared_kernel.ids import new_id

# Deep trees make navigation worse and every subtree query slower.
MAX_DEPTH = 6
MAX_CATEGORY_NAME = 100


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_CATEGORY_NAME:
        raise InvalidInput(f"a category name has 1-{MAX_CATEGORY_NAME} characters", field="name")
    return name


class Category(AggregateRoot):
    def __init__(
        self,
        *,
        id: uuid.UUID,
        slug: str,
        name: str,
        parent_id: uuid.UUID | None,
        version: int,
        created_at: datetime,
    ) -> None:
        super().__init__()
        self.id = id
        self.slug = slug
        self.name = name
        self.parent_id = parent_id
        self.version = version
        self.created_at = created_at

    @classmethod
    def create(
        cls, *, name: str, slug: str, parent_id: uuid.UUID | None, parent_path: Sequence[uuid.UUID]
    ) -> Category:
        """``parent_path`` lists the ids from the root down to the parent (empty for a root)."""
        if len(parent_path) + 1 > MAX_DEPTH:
            raise InvalidInput(f"categories nest at most {MAX_DEPTH} levels deep", field="parent_id")
        category = cls(
            id=new_id(),
            slug=validate_slug(slug),
            name=_clean_name(name),
            parent_id=parent_id,
            version=1,
            created_at=utcnow(),
        )
        category._changed(bump=False)
        return category

    def rename(self, *, name: str | None = None, slug: str | None = None) -> bool:
        changed = False
        if name is not None and (cleaned := _clean_name(name)) != self.name:
            self.name = cleaned
            changed = True
        if slug is not None and validate_slug(slug) != self.slug:
            self.slug = slug
            changed = True
        if changed:
            self._changed()
        return changed

    def move(
        self, *, parent_id: uuid.UUID | None, parent_path: Sequence[uuid.UUID], subtree_height: int
    ) -> bool:
        """Hang the category (and everything under it) from another parent, or make it a root.

        ``subtree_height`` counts the levels from this category down (1 for a leaf).
        """
        if parent_id == self.parent_id:
            return False
        if self.id in parent_path or parent_id == self.id:
            raise InvalidInput("a category cannot move under itself or its descendants", field="parent_id")
        if len(parent_path) + subtree_height > MAX_DEPTH:
            raise InvalidInput(f"categories nest at most {MAX_DEPTH} levels deep", field="parent_id")
        self.parent_id = parent_id
        self._changed()
        return True

    def _changed(self, *, bump: bool = True) -> None:
        if bump:
            self.version += 1
        self.record(
            CategoryChanged(
                aggregate_id=str(self.id),
                category_id=str(self.id),
                version=self.version,
                slug=self.slug,
                name=self.name,
                parent_id=str(self.parent_id) if self.parent_id else None,
            )
        )
