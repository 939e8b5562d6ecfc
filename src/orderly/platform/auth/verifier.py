"""Verify a JWT access token (RFC 9068) and turn it into a Principal.

What is checked, in order, and why (RFC 8725, the JWT BCP):

1. size and shape, before any parsing work is spent on it;
2. ``alg`` is in the configured allowlist. The list comes from settings and
   holds asymmetric algorithms only, so ``none`` and an HS256 token "signed"
   with the public key can never pass, whatever the header says;
3. ``typ`` is ``at+jwt``: an ID token or any other JWT signed by the same
   issuer is not an access token (explicit typing, RFC 8725 §3.11);
4. ``crit`` is refused (we understand no extension), ``jku``/``jwk``/``x5u``
   are ignored: the key comes only from the issuer's JWKS, chosen by ``kid``;
5. the signature, with a key whose type matches the algorithm (joserfc);
6. ``iss`` and ``aud`` exactly; ``exp`` required, ``nbf`` and ``iat`` honoured,
   each with a small leeway for clock skew; ``sub`` required.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from orderly.platform.auth.jwks import JwksCache
from orderly.platform.auth.principal import Principal, PrincipalKind

_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_MAX_KID = 256
_MAX_SCOPES = 200


class InvalidToken(Exception):
    """The bearer token is not one this API accepts; ``reason`` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Collection[str],
        keys: JwksCache,
        leeway_s: int,
        max_token_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not algorithms or any(a == "none" or a.startswith("HS") for a in algorithms):
            raise ValueError("access tokens are verified with asymmetric algorithms only")
        self.issuer = issuer
        self.audience = audience
        self._algorithms = frozenset(algorithms)
        self._keys = keys
        self._leeway_s = leeway_s
        self._max_token_bytes = max_token_bytes
        self._clock = clock

    async def verify(self, token: str) -> Principal:
        header = self._checked_header(token)
        kid = header["kid"]
        key = await self._keys.get(kid)
        if key is None:
            raise InvalidToken("the token was signed with an unknown key")
        if key.alg is not None and key.alg != header["alg"]:
            raise InvalidToken("the key does not sign with this algorithm")
        try:
            decoded = jwt.decode(token, key, algorithms=[header["alg"]])
        except (JoseError, ValueError, TypeError):
            raise InvalidToken("the token signature is invalid") from None
        claims = decoded.claims
        self._check_claims(claims)
        return _principal(claims)

    def _checked_header(self, token: str) -> dict[str, Any]:
        if len(token) > self._max_token_bytes:
            raise InvalidToken("the token is too large")
        if not _COMPACT_JWS.match(token):
            raise InvalidToken("the token is not a signed JWT")
        try:
            header: dict[str, Any] = dict(jws.extract_compact(token.encode("ascii")).headers())
        except (JoseError, ValueError, TypeError, UnicodeError):
            raise InvalidToken("the token header cannot be read") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise InvalidToken("the token's algorithm is not accepted")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("the token is not an access token (typ must be at+jwt)")
        if "crit" in header or "b64" in header:
            raise InvalidToken("the token uses an unsupported header extension")
        kid = header.get("kid")
        if not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID:
            raise InvalidToken("the token names no signing key")
        return header

    def _check_claims(self, claims: dict[str, Any]) -> None:
        registry = JWTClaimsRegistry(
            now=int(self._clock()),
            leeway=self._leeway_s,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise InvalidToken(_claim_reason(exc)) from None


def _claim_reason(exc: JoseError) -> str:
    description = exc.description or exc.error
    if exc.error == "expired_token":
        return "the token has expired"
    return f"the token's claims are not accepted ({description})"


def _principal(claims: dict[str, Any]) -> Principal:
    subject = claims["sub"]
    scopes = _scopes(claims)
    client_id = claims.get("client_id", claims.get("azp"))
    client_id = client_id if isinstance(client_id, str) else None
    raw_roles = claims.get("roles")
    roles = (
        frozenset(r for r in raw_roles if isinstance(r, str)) if isinstance(raw_roles, list) else frozenset()
    )
    kind: PrincipalKind
    if client_id is not None and subject == client_id:
        kind = "service"
    elif roles:
        kind = "staff"
    else:
        kind = "customer"
    jti = claims.get("jti")
    exp = claims.get("exp")
    return Principal(
        subject=subject,
        kind=kind,
        scopes=scopes,
        client_id=client_id,
        roles=roles,
        token_id=jti if isinstance(jti, str) else None,
        expires_at=int(exp) if isinstance(exp, int | float) else None,
    )


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    # RFC 9068 uses a space-separated "scope"; some providers send a "scp" list.
    scope = claims.get("scope")
    if isinstance(scope, str):
        values = scope.split()
    else:
        scp = claims.get("scp")
        values = [s for s in scp if isinstance(s, str)] if isinstance(scp, list) else []
    if len(values) > _MAX_SCOPES:
        raise InvalidToken("the token carries too many scopes")
    return frozenset(values)
