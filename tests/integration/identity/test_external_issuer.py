"""Any OpenID Connect provider can be the issuer: verification goes through discovery and
JWKS over HTTP, and the modules see the same Principal either way."""

from __future__ import annotations

import time
import uuid

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.auth import HttpKeySource, JwksCache, TokenVerifier
from orderly.platform.auth.dependencies import build_verifier, set_verifier
from orderly.platform.settings import Settings
from tests.support.auth import bearer, identity_app

IDP = "https://idp.example.com/realms/shop"


def _fake_idp(key: RSAKey) -> httpx.MockTransport:
    """A provider like Keycloak: discovery document, then its JWKS."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/realms/shop/.well-known/openid-configuration":
            return httpx.Response(
                200, json={"issuer": IDP, "jwks_uri": f"{IDP}/protocol/openid-connect/certs"}
            )
        if request.url.path == "/realms/shop/protocol/openid-connect/certs":
            return httpx.Response(200, json={"keys": [key.as_dict(private=False)]})
        return httpx.Response(404)

    return httpx.MockTransport(handle)


def _idp_token(key: RSAKey, **claims: object) -> str:
    now = int(time.time())
    body = {
        "iss": IDP,
        "aud": "orderly",
        "exp": now + 300,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "azp": "storefront",
    }
    body.update(claims)
    return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": key.kid}, body, key, algorithms=["RS256"])


class TestExternalIssuer:
    async def test_settings_naming_another_issuer_select_verification_over_http(self) -> None:
        settings = Settings(auth_issuer=IDP, auth_algorithms=("RS256",))
        verifier = build_verifier(settings, local_issuers=[])
        assert verifier.issuer == IDP

    async def test_tokens_from_an_external_provider_reach_the_api_and_orderlys_own_do_not(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        key = RSAKey.generate_key(
            2048, parameters={"kid": "kc-1", "alg": "RS256", "use": "sig"}, private=True
        )
        external = settings.model_copy(update={"auth_issuer": IDP, "auth_algorithms": ("RS256",)})
        async with identity_app(external, database_url) as (http, kit):
            assert kit.app is not None
            set_verifier(
                kit.app,
                TokenVerifier(
                    issuer=IDP,
                    audience="orderly",
                    algorithms=("RS256",),
                    keys=JwksCache(
                        HttpKeySource(issuer=IDP, transport=_fake_idp(key)), ttl_s=300, min_refetch_s=10
                    ),
                    leeway_s=30,
                    max_token_bytes=8192,
                ),
            )
            customer = await kit.customer()
            from_idp = _idp_token(key, sub=str(customer.id), scope="me:read")
            me = await http.get("/v1/me", headers=bearer(from_idp))
            assert me.status_code == 200, me.text
            assert me.json()["id"] == str(customer.id)
            # Orderly's own tokens carry Orderly's issuer: not the one configured now.
            own = await http.get("/v1/me", headers=customer.headers)
            assert own.status_code == 401

    async def test_orderlys_own_issuer_verifies_over_http_exactly_as_in_process(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        async with identity_app(settings, database_url) as (_, kit):
            assert kit.app is not None
            token = await kit.staff_token(scopes={"catalog:write"}, role="catalog_manager")
            over_http = TokenVerifier(
                issuer=settings.identity_issuer,
                audience=settings.auth_audience,
                algorithms=settings.auth_algorithms,
                keys=JwksCache(
                    HttpKeySource(
                        issuer=settings.identity_issuer, transport=httpx.ASGITransport(app=kit.app)
                    ),
                    ttl_s=300,
                    min_refetch_s=10,
                ),
                leeway_s=30,
                max_token_bytes=8192,
            )
            principal = await over_http.verify(token)
            assert principal.kind == "staff"
            assert principal.roles == {"catalog_manager"}
            assert principal.scopes == {"catalog:write"}
