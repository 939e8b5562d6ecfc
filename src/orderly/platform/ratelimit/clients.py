"""Who spends a quota: the verified token's client and subject, else the peer address.

A key from an unverified token would let anyone mint fresh buckets by
sending junk tokens; so a token counts only once it verifies (the verdict is
kept for the route's own check, see ``verified_principal``), and a request
without one, or with one that does not verify, is keyed by its address.

The address is the ASGI peer. Behind a reverse proxy that is the proxy,
unless uvicorn rewrites it from ``X-Forwarded-For``, which it does only for
connections from the addresses in ``FORWARDED_ALLOW_IPS`` (127.0.0.1 by
default): the header itself is never read here, since any client can send it.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request

from orderly.platform.auth.dependencies import bearer_token, verified_principal
from orderly.platform.auth.jwks import JwksFetchError
from orderly.platform.auth.verifier import InvalidToken


async def client_of(request: Request) -> str:
    try:
        token = bearer_token(request.headers.getlist("authorization"))
    except InvalidToken:
        token = None
    if token is not None:
        try:
            principal = await verified_principal(request, token)
        except (InvalidToken, JwksFetchError):
            pass
        else:
            return f"token:{principal.client_id or ''}:{principal.subject}"
    peer = request.client
    return f"address:{peer.host if peer else 'unknown'}"


def bucket_key(policy: str, operation: str, client: str) -> str:
    """The Redis key of one client's bucket for one operation.

    Digested: fixed length whatever the token's subject, no address or
    customer id in Redis, and no ``{...}`` of a route template, which Redis
    Cluster would read as a hash tag and pile every client of the route onto
    one slot.
    """
    digest = hashlib.blake2b(f"{operation}\n{client}".encode(), digest_size=16).hexdigest()
    return f"{policy}:{digest}"
