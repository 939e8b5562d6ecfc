"""Integers as JSON Schema counts them: 5 and 5.0 alike, never "5" or true.

Found by tests/e2e/test_api_contract.py: strict integer fields refused 5.0,
which the OpenAPI document (``type: integer``) says is valid.
"""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, TypeAdapter, ValidationError

from orderly.platform.http.types import WHOLE_FLOATS

Quantity = Annotated[int, Field(strict=True, ge=1, le=10), WHOLE_FLOATS]
quantity = TypeAdapter(Quantity)


class TestWholeFloats:
    @pytest.mark.parametrize(("raw", "value"), [("5", 5), ("5.0", 5), ("1e1", 10)])
    def test_a_whole_number_is_an_integer_however_it_is_written(self, raw: str, value: int) -> None:
        assert quantity.validate_json(raw) == value

    @pytest.mark.parametrize("raw", ['"5"', "true", "5.5", "11.0", "0", "1e400"])
    def test_strings_booleans_fractions_and_out_of_range_stay_refused(self, raw: str) -> None:
        with pytest.raises(ValidationError):
            quantity.validate_json(raw)

    def test_the_document_keeps_the_type_and_the_bounds(self) -> None:
        assert quantity.json_schema() == {"type": "integer", "minimum": 1, "maximum": 10}
