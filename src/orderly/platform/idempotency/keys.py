"""The ``Idempotency-Key`` header, the caller's key as handlers see it, and the
request fingerprint a retry must match."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

# Printable ASCII, space included (RFC 9110 field values may hold inner spaces).
_KEY = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}")
# What ``parse_key`` accepts, as the OpenAPI document states it (ECMA-262
# syntax): a bare key (no surrounding whitespace, no leading quote), or a
# quoted sf-string of 1 to 255 characters with ``\"`` and ``\\`` escapes.
KEY_PATTERN = (
    rf"^(?:[!#-~](?:[ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?"
    rf'|"(?:[ !#-\[\]-~]|\\["\\]){{1,{MAX_KEY_LENGTH}}}")$'
)
# Namespace of the identifiers handlers derive from a key (``IdempotencyKey.derive``).
_DERIVE_NAMESPACE = uuid.UUID("6f1c0a52-3f0e-4c55-9d0f-8b7a2e9d4c31")


class InvalidKey(ValueError):
    """The header is present but does not hold a usable key."""


def parse_key(values: list[bytes]) -> str:
    """The key carried by the ``Idempotency-Key`` field lines of one request.

    Both spellings in use are accepted: a bare value (Stripe and most
    clients) and a quoted structured-field string as the IETF draft writes it
    (``"8e03978e-..."``), which is unquoted so both spellings name the same key.
    """
    if len(values) != 1:
        raise InvalidKey("send exactly one Idempotency-Key header")
    try:
        raw = values[0].decode("ascii").strip(" \t")
    except UnicodeDecodeError:
        raise InvalidKey("the key must be printable ASCII") from None
    key = _unquote(raw) if raw.startswith('"') else raw
    if not _KEY.fullmatch(key):
        raise InvalidKey(f"the key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")
    return key


def _unquote(raw: str) -> str:
    """RFC 8941 sf-string: quotes around, ``\\"`` and ``\\\\`` the only escapes."""
    if len(raw) < 2 or not raw.endswith('"'):
        raise InvalidKey("unterminated quoted key")
    chars: list[str] = []
    escaped = False
    for char in raw[1:-1]:
        if escaped:
            if char not in '"\\':
                raise InvalidKey('only \\" and \\\\ may be escaped in a quoted key')
            chars.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            raise InvalidKey("unescaped quote inside a quoted key")
        else:
            chars.append(char)
    if escaped:
        raise InvalidKey("unterminated escape in a quoted key")
    return "".join(chars)


def fingerprint(
    *,
    method: str,
    path: bytes,
    query: bytes,
    content_type: str | None,
    body: bytes,
    secret: bytes | None = None,
) -> str:
    """What a retry must repeat exactly for its key to be honoured.

    Method, raw path and raw query string, the media type of the body
    (``Content-Type`` without parameters, lower-cased, so ``; charset=utf-8``
    does not matter) and a digest of the body bytes. No other header is
    part of it: the caller is the key's scope, not its fingerprint, and a
    retry's ``Accept`` or ``X-Request-ID`` may differ. Bytes are compared
    as sent, so a client must resend the same serialisation of its body.

    With a ``secret`` every digest is an HMAC-SHA-256 under it. Bodies carry
    passwords (registration, a password change) and fingerprints are kept at
    least a day: a plain SHA-256 of such a body would let whoever reads the
    table test password guesses at hashing speed instead of argon2's. The
    secret lives in the settings, not in the database, so the table alone
    gives nothing to test against.
    """
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    body_digest = hmac.new(secret, body, hashlib.sha256).digest() if secret else hashlib.sha256(body).digest()
    digest = hmac.new(secret, digestmod=hashlib.sha256) if secret else hashlib.sha256()
    # Length-prefixed fields: no two different requests share an encoding.
    for field in (method.upper().encode(), path, query, media_type.encode(), body_digest):
        digest.update(len(field).to_bytes(8, "big"))
        digest.update(field)
    return digest.hexdigest()


@dataclass(frozen=True)
class IdempotencyKey:
    """The key of the request being executed, as its handler sees it.

    ``attempt`` is 1 on the first execution; more means an earlier execution
    under this key was abandoned (its process died) and this one took over, so
    the handler's effect must itself be idempotent to be safe (see ADR 0030).
    """

    key: str
    scope: str
    attempt: int

    def derive(self, purpose: str) -> uuid.UUID:
        """A stable identifier for one effect of this request (``purpose``
        names it, e.g. ``"order"``): the same on every attempt, different for
        other keys and other callers. Store it under a UNIQUE constraint so a
        re-execution finds the effect already made."""
        return uuid.uuid5(_DERIVE_NAMESPACE, f"{self.scope}\x00{self.key}\x00{purpose}")


current_idempotency_key: ContextVar[IdempotencyKey | None] = ContextVar(
    "orderly_idempotency_key", default=None
)
