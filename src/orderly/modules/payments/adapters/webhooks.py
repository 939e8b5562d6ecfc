"""Checking and reading the provider's webhooks.

The provider signs ``"<t>.<body>"`` with HMAC-SHA256 under the shared secret
and sends ``Orderly-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``
(several ``v1`` while it rotates secrets). A delivery is accepted only if one
``v1`` matches, compared in constant time, and ``t`` is within the tolerance:
an old delivery replayed by someone who captured it is refused even though
its signature is genuine.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from orderly.modules.payments.adapters.provider_http import parse_intent
from orderly.modules.payments.domain.model import ProviderView

SIGNATURE_HEADER = "Orderly-Signature"
# Provider event ids are strings; the inbox keys on UUIDs.
_EVENT_NAMESPACE = uuid.UUID("6f1d3c52-2d0b-4d7e-9a55-0b9b1f6f3a10")


class WebhookRejected(Exception):
    def __init__(self, status: int, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail


def verify_signature(header: str | None, body: bytes, *, secret: str, tolerance_s: int, now: float) -> None:
    if not header:
        raise WebhookRejected(400, "webhook-signature-missing", f"the {SIGNATURE_HEADER} header is missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise WebhookRejected(
            400, "webhook-signature-malformed", f"{SIGNATURE_HEADER} must look like t=<seconds>,v1=<hex>"
        )
    if abs(now - timestamp) > tolerance_s:
        raise WebhookRejected(
            401, "webhook-signature-expired", "the signature timestamp is outside the tolerance"
        )
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise WebhookRejected(401, "webhook-signature-invalid", "the signature does not match the body")


@dataclass(frozen=True)
class ProviderEvent:
    event_id: uuid.UUID
    provider_event_id: str
    event_type: str
    payment_id: uuid.UUID
    view: ProviderView


def parse_event(body: bytes) -> ProviderEvent:
    """A verified body as an event about one of our payments."""
    try:
        data: dict[str, Any] = orjson.loads(body)
        provider_event_id = str(data["id"])
        intent = data["data"]["object"]
        payment_id = uuid.UUID(str(intent["reference"]))
        view = parse_intent(intent)
        event_type = str(data["type"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise WebhookRejected(
            400, "webhook-payload-invalid", f"unreadable event: {type(exc).__name__}"
        ) from None
    return ProviderEvent(
        event_id=uuid.uuid5(_EVENT_NAMESPACE, provider_event_id),
        provider_event_id=provider_event_id,
        event_type=event_type,
        payment_id=payment_id,
        view=view,
    )
