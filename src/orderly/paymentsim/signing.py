"""How the simulator signs its webhooks.

``Orderly-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
Signing the timestamp with the body lets the receiver refuse old deliveries
(replays) without keeping every signature it ever saw.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Orderly-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={signature(secret, t, body)}"
