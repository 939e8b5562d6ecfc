"""What the OpenAPI document says of inventory's request bodies matches what they accept."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orderly.modules.inventory.adapters.http import SKU_PATTERN, AdjustmentIn, ReservationIn
from orderly.modules.inventory.adapters.http_warehouses import WarehouseIn, WarehousePatch


class TestSkus:
    # Found by tests/e2e/test_api_contract.py: the pattern was enforced but,
    # stacked on SafeStr, missing from the document, so "" looked valid.
    def test_the_document_states_the_sku_pattern(self) -> None:
        assert AdjustmentIn.model_json_schema()["properties"]["sku"]["pattern"] == SKU_PATTERN
        line = ReservationIn.model_json_schema()["$defs"]["LineIn"]
        assert line["properties"]["sku"]["pattern"] == SKU_PATTERN

    @pytest.mark.parametrize("sku", ["", "MUG\x00", "MUG 1"])
    def test_what_the_pattern_excludes_is_refused(self, sku: str) -> None:
        with pytest.raises(ValidationError):
            AdjustmentIn.model_validate({"sku": sku, "warehouse": "AMS-1", "delta": 1, "reason": "received"})


class TestWholeNumbers:
    # Found by tests/e2e/test_api_contract.py: 2.0 is a JSON Schema integer, and was refused.
    def test_a_whole_float_is_an_integer(self) -> None:
        reservation = ReservationIn.model_validate_json(
            '{"reference": "order-1", "lines": [{"sku": "MUG-1", "quantity": 2.0}], "ttl_seconds": 900.0}'
        )
        assert reservation.lines[0].quantity == 2
        warehouse = WarehouseIn.model_validate_json('{"code": "AMS-1", "name": "A", "priority": 5.0}')
        assert warehouse.priority == 5

    @pytest.mark.parametrize("quantity", ['"2"', "true", "2.5"])
    def test_strings_booleans_and_fractions_stay_refused(self, quantity: str) -> None:
        with pytest.raises(ValidationError):
            ReservationIn.model_validate_json(
                f'{{"reference": "order-1", "lines": [{{"sku": "MUG-1", "quantity": {quantity}}}]}}'
            )


class TestWarehousePatch:
    # Found by tests/e2e/test_api_contract.py: null and {} looked valid in the document.
    def test_the_document_offers_no_null_and_asks_for_one_field(self) -> None:
        schema = WarehousePatch.model_json_schema()
        assert schema["minProperties"] == 1
        for name, definition in schema["properties"].items():
            assert "anyOf" not in definition, name
            with pytest.raises(ValidationError):
                WarehousePatch.model_validate({name: None})
        with pytest.raises(ValidationError):
            WarehousePatch.model_validate({})
