"""What the OpenAPI document says of the catalog's request bodies matches what they accept."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orderly.modules.catalog.adapters.schemas import VariantIn
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
