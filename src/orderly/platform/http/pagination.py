"""Opaque keyset cursors: versioned, base64url JSON, strictly validated on the way in."""

from __future__ import annotations

import base64
import binascii
import uuid

import orjson

from orderly.shared_kernel.errors import InvalidInput

_VERSION = 1


def encode_cursor(last_id: uuid.UUID) -> str:
    raw = orjson.dumps({"v": _VERSION, "after": str(last_id)})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if not isinstance(data, dict) or data.get("v") != _VERSION:
            raise ValueError("unknown cursor version")
        return uuid.UUID(str(data["after"]))
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError, orjson.JSONDecodeError):
        raise InvalidInput(
            "the cursor is not one this API issued", field="cursor", location="query"
        ) from None
