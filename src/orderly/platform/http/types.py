"""Annotated types for request bodies: strings that PostgreSQL can store, decimals as strings,
integers as JSON Schema counts them."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000; refuse it at the edge rather than fail in the driver.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Don't stack a ``pattern`` on SafeStr: pydantic still enforces it but leaves it
# out of the OpenAPI document. A pattern that admits no U+0000 needs no SafeStr
# (``Annotated[str, StringConstraints(pattern=...)]``).
class _DocumentNoNul:
    """Says in the document what ``_no_nul`` enforces (``pattern``, unless one is there)."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", "^[^\\u0000]*$")
        return json_schema


SafeStr = Annotated[str, AfterValidator(_no_nul), _DocumentNoNul()]


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# JSON Schema's ``integer`` includes 5.0; a strict int field refuses it (and rightly
# refuses "5" and true). Put it last, after the strictness and the bounds, so that
# the document keeps them: ``Annotated[int, Field(strict=True, ge=1), WHOLE_FLOATS]``.
WHOLE_FLOATS = BeforeValidator(_integral)


def bounded_str(min_length: int = 0, max_length: int = 10_000, *, strip: bool = False) -> object:
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length, strip_whitespace=strip),
        AfterValidator(_no_nul),
    ]


def null_refused(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of an optional field that may be left out but not sent as null.

    ``X | None = None`` is how pydantic spells "may be absent", and it documents
    null as a valid value; PATCH bodies refuse null ("leave the field out to
    keep it"), so the document offers the value alone.
    """
    if schema.get("default", ...) is None:
        del schema["default"]
    options = schema.pop("anyOf", None)
    if options is None:
        return
    kept = [option for option in options if option.get("type") != "null"]
    if len(kept) == 1:
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept


_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")


def _not_a_number(value: Any) -> Any:
    # Pydantic reads a number as seconds since the epoch ("0.5" is 1970-01-01T00:00:00.5Z);
    # the document promises ISO 8601 (``format: date-time``), so a number is refused.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_not_a_number)]
