"""The catalog's own refusals (each maps to a problem type at the edge)."""

from __future__ import annotations

import uuid

from orderly.shared_kernel.errors import ConcurrencyConflict, Conflict, InvalidInput, NotFound


class DuplicateSku(Conflict):
    code = "duplicate-sku"

    def __init__(self, sku: str) -> None:
        super().__init__(f"SKU '{sku}' is already used by another variant", sku=sku)
        self.sku = sku


class DuplicateSlug(Conflict):
    code = "duplicate-slug"

    def __init__(self, slug: str, *, kind: str = "product") -> None:
        super().__init__(f"slug '{slug}' is already used by another {kind}", slug=slug)
        self.slug = slug


class ProductNotFound(NotFound):
    def __init__(self, product_id: uuid.UUID | str) -> None:
        super().__init__("no product with this id", product_id=str(product_id))


class UnknownCategory(InvalidInput):
    """A request names a category that does not exist (a client mistake, hence 422)."""

    code = "unknown-category"

    def __init__(self, category: str, *, field: str = "category_ids", location: str = "body") -> None:
        super().__init__(
            f"category '{category}' does not exist", field=field, location=location, category=category
        )


class CategoryNotFound(NotFound):
    def __init__(self, category_id: uuid.UUID | str) -> None:
        super().__init__("no category with this id", category_id=str(category_id))


class StaleVersion(ConcurrencyConflict):
    """The caller edited an older version than the current one (HTTP: 412 on If-Match)."""

    code = "stale-version"

    def __init__(self, *, expected: int, current: int) -> None:
        super().__init__(
            f"the product is at version {current}, the request was based on version {expected}",
            current_version=current,
        )
        self.expected = expected
        self.current = current
