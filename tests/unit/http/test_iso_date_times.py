"""Date-times in query strings are ISO 8601, as the document says, never epoch numbers.

Found by tests/e2e/test_api_contract.py: ``GET /v1/orders?placed_to=0.5`` was
taken as 1970-01-01T00:00:00.5Z and answered 200.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from orderly.platform.http.types import IsoDateTime

moment = TypeAdapter(IsoDateTime)


class TestIsoDateTime:
    def test_an_iso_8601_date_time_is_read(self) -> None:
        assert moment.validate_python("2026-01-31T12:00:00Z") == datetime(2026, 1, 31, 12, tzinfo=UTC)

    @pytest.mark.parametrize("value", ["0.5", "1700000000", " 17e8 ", "-1", ".5", 1700000000, 0.5])
    def test_a_number_is_refused(self, value: object) -> None:
        with pytest.raises(ValidationError, match="ISO 8601"):
            moment.validate_python(value)

    def test_the_document_still_says_date_time(self) -> None:
        assert moment.json_schema() == {"type": "string", "format": "date-time"}
