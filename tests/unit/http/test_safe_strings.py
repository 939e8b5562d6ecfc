"""Strings that reach PostgreSQL: NUL is refused at the edge, everything else kept."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from orderly.platform.http.types import SafeStr

safe = TypeAdapter(SafeStr)


class TestSafeStr:
    @pytest.mark.parametrize("value", ["\x00", "Mug\x00", "\x00Mug", "a\x00b"])
    def test_a_nul_character_anywhere_is_refused(self, value: str) -> None:
        with pytest.raises(ValidationError, match="NUL"):
            safe.validate_python(value)

    @pytest.mark.parametrize("value", ["Mug", "", "Tasse à café ☕", "tab\tand\nnewline", "\x01"])
    def test_other_text_is_kept_unchanged(self, value: str) -> None:
        assert safe.validate_python(value) == value
