"""Where verification keys come from, and how long they are trusted.

The issuer publishes its public keys as a JWKS. A verifier keeps them in
memory, refreshes them when they age past ``ttl_s``, and refetches early when a
token names a key it has never seen (a rotation it has not noticed yet), but at
most once per ``min_refetch_s`` so a flood of forged ``kid`` values cannot turn
into a flood of requests to the issuer. When a refresh fails, the keys it
already has stay in use: an issuer outage must not log everybody out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import httpx
import structlog
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key

log = structlog.get_logger(module="platform.auth")

# Symmetric keys never verify access tokens here: accepting one would let
# anyone holding the "public" JWKS mint tokens (the HS/RS confusion).
_ASYMMETRIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
_MAX_JWKS_BYTES = 512 * 1024


class KeySource(Protocol):
    """Anything that returns the issuer's current JWKS document (``{"keys": [...]}``)."""

    async def fetch(self) -> Mapping[str, Any]: ...


@runtime_checkable
class LocalIssuer(Protocol):
    """An authorization server running in this very process (Orderly's identity module).

    The verifier reads its keys in-process instead of over HTTP; everything
    else about verification stays the same.
    """

    @property
    def issuer(self) -> str: ...

    async def fetch(self) -> Mapping[str, Any]: ...


class JwksFetchError(Exception):
    """The issuer's keys could not be fetched or were not a usable JWKS."""


class HttpKeySource:
    """Fetches the JWKS over HTTP, locating it through the issuer's discovery document.

    The discovery document must name exactly the configured issuer (OpenID
    Connect Discovery §4.3), so a document served from elsewhere cannot point
    the verifier at an attacker's keys.
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str | None = None,
        timeout_s: float = 3.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._issuer = issuer
        self._jwks_url = jwks_url
        self._timeout_s = timeout_s
        self._transport = transport

    @property
    def discovery_url(self) -> str:
        return self._issuer.rstrip("/") + "/.well-known/openid-configuration"

    async def fetch(self) -> Mapping[str, Any]:
        async with httpx.AsyncClient(
            transport=self._transport, timeout=self._timeout_s, follow_redirects=False
        ) as client:
            if self._jwks_url is None:
                self._jwks_url = await self._discover(client)
            document = await _get_json(client, self._jwks_url)
        if not isinstance(document.get("keys"), list):
            raise JwksFetchError("the JWKS has no 'keys' list")
        return document

    async def _discover(self, client: httpx.AsyncClient) -> str:
        document = await _get_json(client, self.discovery_url)
        if document.get("issuer") != self._issuer:
            raise JwksFetchError("the discovery document names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise JwksFetchError("the discovery document has no usable jwks_uri")
        return jwks_uri


async def _get_json(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    try:
        response = await client.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise JwksFetchError(f"{url}: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise JwksFetchError(f"{url}: HTTP {response.status_code}")
    if len(response.content) > _MAX_JWKS_BYTES:
        raise JwksFetchError(f"{url}: document too large")
    try:
        document = response.json()
    except ValueError as exc:
        raise JwksFetchError(f"{url}: not JSON") from exc
    if not isinstance(document, dict):
        raise JwksFetchError(f"{url}: not a JSON object")
    return document


def import_verification_keys(document: Mapping[str, Any]) -> dict[str, Key]:
    """The usable signature keys of a JWKS, by ``kid``; anything else is skipped, not trusted."""
    keys: dict[str, Key] = {}
    for entry in document.get("keys", []):
        if not isinstance(entry, dict):
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if entry.get("kty") not in _ASYMMETRIC_KEY_TYPES or entry.get("use", "sig") != "sig":
            continue
        public_only = {k: v for k, v in entry.items() if k not in {"d", "p", "q", "dp", "dq", "qi", "oth"}}
        try:
            keys[kid] = JWKRegistry.import_key(public_only)
        except (JoseError, ValueError, TypeError):
            log.warning("skipping unusable key in JWKS", kid=kid)
    return keys


class JwksCache:
    """In-memory keys of one issuer, refreshed on age and on unknown ``kid`` (rate-limited)."""

    def __init__(
        self,
        source: KeySource,
        *,
        ttl_s: float,
        min_refetch_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl_s = ttl_s
        self._min_refetch_s = min_refetch_s
        self._clock = clock
        self._keys: dict[str, Key] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def get(self, kid: str) -> Key | None:
        if self._lock.locked():
            # A fetch is in flight (the first one, or an unknown kid's): wait
            # for its keys rather than answer from a cache it is replacing.
            async with self._lock:
                pass
        if self._is_stale() and self._since_attempt() >= min(self._ttl_s, self._min_refetch_s):
            await self._refresh(reason="expired")
        key = self._keys.get(kid)
        if key is None and self._since_attempt() >= self._min_refetch_s:
            await self._refresh(reason="unknown kid")
            key = self._keys.get(kid)
        return key

    def _is_stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at >= self._ttl_s

    def _since_attempt(self) -> float:
        """Seconds since the last fetch attempt, successful or not (infinite before the first)."""
        return float("inf") if self._attempted_at is None else self._clock() - self._attempted_at

    async def _refresh(self, *, reason: str) -> None:
        attempted_before = self._attempted_at
        async with self._lock:
            if self._attempted_at != attempted_before:
                return  # another request refreshed while this one waited
            self._attempted_at = self._clock()
            self.fetches += 1
            try:
                document = await self._source.fetch()
            except Exception as exc:
                # Serving with the keys we have beats refusing every request
                # while the issuer is unreachable.
                log.warning(
                    "JWKS refresh failed; keeping the keys already known", reason=reason, error=str(exc)
                )
                return
            self._keys = import_verification_keys(document)
            self._fetched_at = self._attempted_at
