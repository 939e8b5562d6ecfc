"""Every way an access token can be wrong is a 401 with a Bearer invalid_token challenge.

The protected endpoint is GET /v1/me with a real customer; only the token varies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.support.auth import AuthKit, bearer
from tests.support.http import assert_problem


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


Forge = Callable[[AuthKit, dict[str, Any]], Awaitable[str]]


async def _alg_none(kit: AuthKit, claims: dict[str, Any]) -> str:
    kid, _ = await kit.identity.keys.active_key()
    return f"{_segment({'alg': 'none', 'typ': 'at+jwt', 'kid': kid})}.{_segment(claims)}."


async def _hs256_with_public_key(kit: AuthKit, claims: dict[str, Any]) -> str:
    # The classic confusion: HMAC "signed" with the issuer's public key as the secret.
    kid, key = await kit.identity.keys.active_key()
    public_pem = key.as_pem(private=False)
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid})}.{_segment(claims)}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


async def _wrong_audience(kit: AuthKit, claims: dict[str, Any]) -> str:
    return await kit.sign({**claims, "aud": "someone-else"})


async def _wrong_issuer(kit: AuthKit, claims: dict[str, Any]) -> str:
    return await kit.sign({**claims, "iss": "https://evil.example"})


async def _expired(kit: AuthKit, claims: dict[str, Any]) -> str:
    past = int(time.time()) - 3600
    return await kit.sign({**claims, "iat": past - 600, "nbf": past - 600, "exp": past})


async def _not_yet_valid(kit: AuthKit, claims: dict[str, Any]) -> str:
    return await kit.sign({**claims, "nbf": int(time.time()) + 600})


async def _unknown_kid(kit: AuthKit, claims: dict[str, Any]) -> str:
    stranger = ECKey.generate_key("P-256", private=True)
    return jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": "not-a-published-key"}, claims, stranger)


async def _known_kid_foreign_key(kit: AuthKit, claims: dict[str, Any]) -> str:
    kid, _ = await kit.identity.keys.active_key()
    stranger = ECKey.generate_key("P-256", private=True)
    return jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": kid}, claims, stranger)


async def _embedded_jwk(kit: AuthKit, claims: dict[str, Any]) -> str:
    # The key travels in the header itself (RFC 8725 §3.10: never trust it).
    stranger = ECKey.generate_key("P-256", private=True)
    header = {"alg": "ES256", "typ": "at+jwt", "kid": "attacker", "jwk": stranger.as_dict(private=False)}
    return jwt.encode(header, claims, stranger)


async def _rs256_foreign(kit: AuthKit, claims: dict[str, Any]) -> str:
    kid, _ = await kit.identity.keys.active_key()
    stranger = RSAKey.generate_key(2048, private=True)
    return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": kid}, claims, stranger)


async def _tampered_payload(kit: AuthKit, claims: dict[str, Any]) -> str:
    genuine = await kit.sign(claims)
    header, _, signature = genuine.split(".")
    return f"{header}.{_segment({**claims, 'scope': claims['scope'] + ' catalog:write'})}.{signature}"


async def _id_token_typed(kit: AuthKit, claims: dict[str, Any]) -> str:
    # Properly signed by the real issuer, but an ID token, not an access token.
    return await kit.sign({**claims, "nonce": "n-0S6_WzA2Mj"}, header={"typ": "JWT"})


async def _untyped(kit: AuthKit, claims: dict[str, Any]) -> str:
    kid, key = await kit.identity.keys.active_key()
    return jwt.encode({"alg": "ES256", "kid": kid}, claims, key, default_type=None)


async def _missing_exp(kit: AuthKit, claims: dict[str, Any]) -> str:
    return await kit.sign({k: v for k, v in claims.items() if k != "exp"})


async def _missing_sub(kit: AuthKit, claims: dict[str, Any]) -> str:
    return await kit.sign({k: v for k, v in claims.items() if k != "sub"})


async def _critical_extension(kit: AuthKit, claims: dict[str, Any]) -> str:
    genuine = await kit.sign(claims)
    kid, _ = await kit.identity.keys.active_key()
    _, payload, signature = genuine.split(".")
    header = {"alg": "ES256", "typ": "at+jwt", "kid": kid, "crit": ["exp"]}
    return f"{_segment(header)}.{payload}.{signature}"


async def _signature_stripped(kit: AuthKit, claims: dict[str, Any]) -> str:
    genuine = await kit.sign(claims)
    return genuine.rsplit(".", 1)[0] + "."


# case -> (forger, the reason the verifier must give: the token fails for the right reason)
MATRIX: dict[str, tuple[Forge, str]] = {
    "alg=none": (_alg_none, "algorithm is not accepted"),
    "HS256 signed with the public key": (_hs256_with_public_key, "algorithm is not accepted"),
    "wrong aud": (_wrong_audience, "'aud'"),
    "wrong iss": (_wrong_issuer, "'iss'"),
    "expired": (_expired, "expired"),
    "future nbf": (_not_yet_valid, "not yet valid"),
    "unknown kid": (_unknown_kid, "unknown key"),
    "known kid, foreign key": (_known_kid_foreign_key, "signature is invalid"),
    "key embedded in the header": (_embedded_jwk, "unknown key"),
    "RS256 with a foreign key": (_rs256_foreign, "algorithm is not accepted"),
    "tampered payload": (_tampered_payload, "signature is invalid"),
    "ID-token-typed JWT": (_id_token_typed, "typ must be at+jwt"),
    "no typ": (_untyped, "typ must be at+jwt"),
    "no exp": (_missing_exp, "'exp'"),
    "no sub": (_missing_sub, "'sub'"),
    "crit header": (_critical_extension, "unsupported header extension"),
    "signature stripped": (_signature_stripped, "signature is invalid"),
}


class TestAccessTokenValidation:
    async def test_a_genuine_token_is_accepted(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        customer = await kit.customer()
        assert (await http.get("/v1/me", headers=customer.headers)).status_code == 200

    @pytest.mark.parametrize("case", list(MATRIX))
    async def test_a_forged_or_misused_token_is_rejected_with_401(
        self, http: httpx.AsyncClient, kit: AuthKit, case: str
    ) -> None:
        customer = await kit.customer()
        claims = kit.claims(subject=str(customer.id), scopes={"me:read", "me:write"})
        forge, reason = MATRIX[case]
        token = await forge(kit, claims)
        response = await http.get("/v1/me", headers=bearer(token))
        assert_problem(response, 401, "unauthenticated")
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith("Bearer "), challenge
        assert 'error="invalid_token"' in challenge, challenge
        assert reason in challenge, challenge
        assert customer.email not in response.text

    async def test_no_token_is_a_bare_bearer_challenge(self, http: httpx.AsyncClient) -> None:
        response = await http.get("/v1/me")
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"] == 'Bearer realm="orderly"'

    async def test_a_valid_token_without_the_scope_is_403_naming_the_scope(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        customer = await kit.customer(scopes={"orders:read"})
        response = await http.get("/v1/me", headers=customer.headers)
        assert_problem(response, 403, "forbidden")
        challenge = response.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert 'scope="me:read"' in challenge
