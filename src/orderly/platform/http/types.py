"""Annotated types for request bodies: strings that PostgreSQL can store, decimals as strings."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000; refuse it at the edge rather than fail in the driver.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


SafeStr = Annotated[str, AfterValidator(_no_nul)]


def bounded_str(min_length: int = 0, max_length: int = 10_000, *, strip: bool = False) -> object:
    return Annotated[
        str,
        StringConstraints(min_length=min_length, max_length=max_length, strip_whitespace=strip),
        AfterValidator(_no_nul),
    ]
