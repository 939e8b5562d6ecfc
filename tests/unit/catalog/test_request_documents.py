"""What the OpenAPI document says of the catalog's request bodies matches what they accept."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError

from orderly.modules.catalog.adapters.schemas import CategoryPatch, ProductPatch, VariantIn
from orderly.modules.catalog.domain.product import SKU_PATTERN

PRICE = {"amount": "12.50", "currency": "EUR"}


class TestVariantSku:
    def test_the_document_states_the_sku_pattern(self) -> None:
        # Found by tests/e2e/test_api_contract.py: the pattern was enforced but,
        # stacked on SafeStr, missing from the document, so "" looked valid.
        assert VariantIn.model_json_schema()["properties"]["sku"]["pattern"] == SKU_PATTERN.pattern

    @pytest.mark.parametrize("sku", ["", "-MUG", "MUG\x00", "MUG 1", "M" * 65])
    def test_what_the_pattern_excludes_is_refused(self, sku: str) -> None:
        with pytest.raises(ValidationError):
            VariantIn.model_validate({"sku": sku, "price": PRICE})


class TestPatchesRefuseNull:
    # Found by tests/e2e/test_api_contract.py: the document offered null for
    # fields whose null is refused ("leave a field out to keep it").
    @pytest.mark.parametrize(
        ("model", "fields"),
        [
            (ProductPatch, ["name", "description", "slug", "category_ids", "variants"]),
            (CategoryPatch, ["name", "slug"]),
        ],
    )
    def test_the_document_offers_no_null_where_null_is_refused(
        self, model: type[BaseModel], fields: list[str]
    ) -> None:
        properties = model.model_json_schema()["properties"]
        for name in fields:
            assert "null" not in json.dumps({k: v for k, v in properties[name].items() if k != "default"}), (
                name
            )
            with pytest.raises(ValidationError):
                model.model_validate({name: None})

    def test_a_category_may_still_be_moved_to_the_root_with_a_null_parent(self) -> None:
        assert CategoryPatch.model_validate({"parent_id": None}).parent_id is None
        assert "null" in json.dumps(CategoryPatch.model_json_schema()["properties"]["parent_id"])
