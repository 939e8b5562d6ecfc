"""FastAPI dependencies: ``requires(*scopes)`` on a route answers 401/403 or hands it a Principal.

Failures follow RFC 6750 §3: no credentials is a bare 401 challenge; a
malformed header or a token that does not verify is 401 with
``error="invalid_token"``; a valid token without the route's scopes is 403
with ``error="insufficient_scope"`` and the scopes needed. Bodies are problem
documents like every other error.

Which verifier a request uses is decided once per app: if the issuer the API
trusts is running in this process (Orderly's identity module), its keys are
read in-process; otherwise from the issuer's JWKS over HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPBearer
from starlette.exceptions import HTTPException

from orderly.platform.auth.jwks import HttpKeySource, JwksCache, KeySource, LocalIssuer
from orderly.platform.auth.principal import Principal
from orderly.platform.auth.verifier import InvalidToken, TokenVerifier
from orderly.platform.settings import Settings

REALM = "orderly"
_STATE_KEY = "orderly_token_verifier"
# Where a request's verified token is kept in its ASGI scope.
_VERIFIED_KEY = "orderly.verified_token"
# RFC 6750 §2.1: "Bearer" 1*SP b64token, the scheme case-insensitive.
_BEARER = re.compile(r"^[Bb][Ee][Aa][Rr][Ee][Rr] +([A-Za-z0-9\-._~+/]+=*) *$")

# Declares the scheme in OpenAPI; the header itself is parsed below, so that a
# malformed one is a 401 with the right challenge rather than FastAPI's 403.
bearer_scheme = HTTPBearer(
    bearerFormat="JWT",
    auto_error=False,
    description="An access token (RFC 9068 JWT) from the configured issuer: `Authorization: Bearer <token>`.",
)
# The same scheme for routes that also serve callers without credentials
# (guests): ``platform.auth.openapi`` documents them as such.
optional_bearer_scheme = HTTPBearer(
    bearerFormat="JWT",
    auto_error=False,
    description=bearer_scheme.model.description,
)


def build_verifier(settings: Settings, *, local_issuers: Iterable[LocalIssuer] = ()) -> TokenVerifier:
    """The verifier for the issuer the settings name, in-process when that issuer runs here."""
    issuer = settings.auth_issuer or settings.identity_issuer
    source: KeySource | None = None
    if settings.auth_jwks_url is None:
        source = next((local for local in local_issuers if local.issuer == issuer), None)
    if source is None:
        source = HttpKeySource(issuer=issuer, jwks_url=settings.auth_jwks_url)
    return TokenVerifier(
        issuer=issuer,
        audience=settings.auth_audience,
        algorithms=settings.auth_algorithms,
        keys=JwksCache(
            source, ttl_s=settings.auth_jwks_cache_s, min_refetch_s=settings.auth_jwks_refetch_interval_s
        ),
        leeway_s=settings.auth_leeway_s,
        max_token_bytes=settings.auth_max_token_bytes,
    )


def set_verifier(app: FastAPI, verifier: TokenVerifier) -> None:
    """Wire the verifier explicitly (a composition root, or a test)."""
    setattr(app.state, _STATE_KEY, verifier)


def verifier_for(app: Any) -> TokenVerifier:
    """The app's verifier, built on first use from the container ``create_app`` stored on the app.

    Modules that can issue tokens in-process expose ``local_issuer()``; the
    platform looks for it by that name so it never imports a module.
    """
    state = app.state
    verifier: TokenVerifier | None = getattr(state, _STATE_KEY, None)
    if verifier is None:
        container = state.container
        locals_: list[LocalIssuer] = []
        for module in container.modules:
            provider = getattr(module, "local_issuer", None)
            local = provider() if callable(provider) else None
            if isinstance(local, LocalIssuer):
                locals_.append(local)
        verifier = build_verifier(container.settings, local_issuers=locals_)
        setattr(state, _STATE_KEY, verifier)
    return verifier


def bearer_token(authorization: list[str]) -> str | None:
    """The token of a single well-formed ``Authorization: Bearer`` header; None when absent.

    Raises InvalidToken for anything else (two headers, another scheme, junk).
    """
    if not authorization:
        return None
    if len(authorization) > 1:
        raise InvalidToken("send one Authorization header")
    match = _BEARER.match(authorization[0])
    if match is None:
        raise InvalidToken("the Authorization header is not 'Bearer <token>'")
    return match.group(1)


def _challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="{}"'.format(description.replace('"', "'")))
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


def unauthorized(description: str | None = None) -> HTTPException:
    """401 with the Bearer challenge; ``description`` None means no credentials were sent."""
    if description is None:
        return HTTPException(401, "An access token is required.", headers={"WWW-Authenticate": _challenge()})
    return HTTPException(
        401,
        f"The access token was rejected: {description}.",
        headers={"WWW-Authenticate": _challenge("invalid_token", description)},
    )


def forbidden(needed: Iterable[str], description: str) -> HTTPException:
    scope = " ".join(sorted(needed))
    return HTTPException(
        403,
        description,
        headers={"WWW-Authenticate": _challenge("insufficient_scope", description, scope or None)},
    )


async def verified_principal(request: Request, token: str) -> Principal:
    """``token``'s principal, verified once per request however many layers ask.

    The rate limiter and the idempotency layer need the caller before routing,
    the route's ``requires`` after it; the outcome (a principal, or the token's
    rejection) is kept in the request's scope for the next one to ask.
    """
    state = request.scope.setdefault("state", {})
    known = state.get(_VERIFIED_KEY)
    if isinstance(known, tuple) and known[0] == token:
        outcome: Principal | InvalidToken = known[1]
    else:
        try:
            outcome = await verifier_for(request.app).verify(token)
        except InvalidToken as exc:
            outcome = exc
        state[_VERIFIED_KEY] = (token, outcome)
    if isinstance(outcome, InvalidToken):
        raise outcome
    return outcome


async def authenticate(request: Request) -> Principal:
    """Verify the request's bearer token (no scope check)."""
    try:
        token = bearer_token(request.headers.getlist("authorization"))
        if token is None:
            raise unauthorized()
        return await verified_principal(request, token)
    except InvalidToken as exc:
        raise unauthorized(exc.reason) from None


def requires(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits callers whose token carries every one of ``scopes``.

    ``principal: Annotated[Principal, Depends(requires("catalog:write"))]``.
    """
    needed = frozenset(scopes)

    async def dependency(request: Request, _: Any = Depends(bearer_scheme)) -> Principal:
        principal = await authenticate(request)
        if not needed <= principal.scopes:
            raise forbidden(needed, "The access token lacks a scope this operation needs.")
        return principal

    return dependency


def requires_customer(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """Like ``requires``, for routes that only a customer (not staff, not a service) may call."""
    inner = requires(*scopes)

    async def dependency(principal: Principal = Depends(inner)) -> Principal:
        if principal.customer_id is None:
            raise HTTPException(403, "Only a customer's own access token can be used here.")
        return principal

    return dependency
