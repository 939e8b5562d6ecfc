"""Strict parsing of the OAuth endpoints' inputs: form bodies, query strings, client credentials.

RFC 6749 §3.1 forbids repeated parameters, so both parsers report repeats
instead of silently keeping one value; a value with a NUL is refused at the
edge, before it can reach PostgreSQL.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from urllib.parse import parse_qsl, unquote_plus

from fastapi import Request

from orderly.modules.identity.application.errors import OAuthError, invalid_client, invalid_request
from orderly.modules.identity.application.tokens import ClientCredentials

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16_384
MAX_FIELDS = 30


class FormError(Exception):
    """The body is not a form these endpoints accept; the message is safe to show."""


def collect(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], set[str]]:
    values: dict[str, str] = {}
    repeated: set[str] = set()
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            raise FormError("parameters cannot contain NUL characters")
        if name in values:
            repeated.add(name)
        values[name] = value
    return values, repeated


async def read_form(request: Request) -> tuple[dict[str, str], set[str]]:
    """The form fields and the names that appeared more than once."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise FormError(f"the body must be {FORM_MEDIA_TYPE}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormError(f"the form is larger than {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise FormError("the form is not valid UTF-8 form encoding") from None
    return collect(pairs)


def query_params(request: Request) -> tuple[dict[str, str], set[str]]:
    if len(request.url.query) > MAX_FORM_BYTES:
        raise FormError("the query string is too long")
    return collect(request.query_params.multi_items())


def client_credentials(authorization: list[str], form: dict[str, str]) -> ClientCredentials:
    """How the client authenticated (RFC 6749 §2.3.1).

    HTTP Basic and form fields are both accepted, but not together.
    """
    if len(authorization) > 1:
        raise invalid_request("send one Authorization header")
    if not authorization:
        return ClientCredentials(client_id=form.get("client_id") or None, secret=form.get("client_secret"))
    scheme, _, encoded = authorization[0].partition(" ")
    if scheme.lower() != "basic":
        raise _basic_error("client authentication uses HTTP Basic or form fields")
    if "client_secret" in form:
        raise invalid_request("use one client authentication method, not two")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise _basic_error("the Basic credentials are not valid base64") from None
    raw_id, colon, raw_secret = decoded.partition(":")
    if not colon:
        raise _basic_error("the Basic credentials are not client_id:client_secret")
    client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
    if "\x00" in client_id or "\x00" in secret:
        raise _basic_error("the Basic credentials contain NUL characters")
    if form.get("client_id") not in (None, client_id):
        raise invalid_request("client_id differs from the authenticated client")
    return ClientCredentials(client_id=client_id, secret=secret)


def _basic_error(description: str) -> OAuthError:
    return invalid_client(description)
