"""Whose key is it: the scope that keeps one caller's keys apart from another's.

A resolver runs before routing, so it cannot lean on a route's auth
dependency (``orderly.platform.auth.requires``); it derives the caller from
the request itself, verifying the bearer token the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from starlette.requests import Request

from orderly.platform.auth.dependencies import bearer_token, verified_principal
from orderly.platform.auth.jwks import JwksFetchError
from orderly.platform.auth.verifier import InvalidToken

ScopeResolver = Callable[[Request], Awaitable[str]]

ANONYMOUS = "anonymous"


def credential_scope(credentials: str) -> str:
    """A scope for credentials nobody has verified: a digest, never the secret itself.

    Only the holder of the credentials can land in it, so unverified callers
    cannot read each other's answers; a route that then rejects the
    credentials answers 401, which is never stored.
    """
    return "credential:" + hashlib.sha256(credentials.encode("latin-1")).hexdigest()


async def header_scope(request: Request) -> str:
    """Callers without credentials share ``anonymous``; anyone else is their
    ``Authorization`` header (digested). Used where no token verifier is wired."""
    authorization = request.headers.get("authorization")
    return credential_scope(authorization) if authorization else ANONYMOUS


async def principal_scope(request: Request) -> str:
    """The caller as the platform's token verifier knows it (the default of the real app).

    A valid bearer token scopes keys to its subject, or to its client for a
    service acting for itself, so a client that refreshes its token between a
    request and its retry still finds its key. No credentials: ``anonymous``.
    Credentials that do not verify (or cannot be checked right now) get their
    digest; the route then decides whether it answers 401, which releases the key.
    """
    try:
        token = bearer_token(request.headers.getlist("authorization"))
    except InvalidToken:
        return credential_scope(request.headers.get("authorization", ""))
    if token is None:
        return ANONYMOUS
    try:
        principal = await verified_principal(request, token)
    except (InvalidToken, JwksFetchError):
        return credential_scope(token)
    if principal.kind == "service":
        return f"client:{principal.client_id or principal.subject}"
    return f"sub:{principal.subject}"
