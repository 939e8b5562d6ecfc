"""Service clients (client credentials), revocation (RFC 7009), introspection (RFC 7662),
discovery and the JWKS."""

from __future__ import annotations

import base64
from urllib.parse import quote

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.auth import AuthKit, RegisteredClient, authorization_code_flow, bearer, token_request


def basic(client: RegisteredClient) -> dict[str, str]:
    raw = f"{quote(client.client_id, safe='')}:{quote(client.client_secret or '', safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


async def _customer_tokens(http: httpx.AsyncClient, kit: AuthKit) -> tuple[RegisteredClient, dict[str, str]]:
    customer = await kit.customer()
    client = await kit.sign_in_client()
    tokens = await authorization_code_flow(http, client, email=customer.email, password=customer.password)
    assert tokens.status == 200
    return client, {"access": tokens.access_token, "refresh": tokens.refresh_token}


class TestClientCredentials:
    async def test_service_client_gets_a_token_for_itself_with_basic_auth(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        service = await kit.service_client(scopes={"inventory:read", "inventory:write"})
        answer = await token_request(http, {"grant_type": "client_credentials"}, headers=basic(service))
        assert answer.status == 200, answer.body
        assert "refresh_token" not in answer.body
        assert set(answer.body["scope"].split()) == {"inventory:read", "inventory:write"}
        claims = jwt.decode(
            answer.access_token, KeySet.import_key_set((await http.get("/oauth/jwks")).json())
        ).claims
        assert claims["sub"] == claims["client_id"] == service.client_id
        assert claims["aud"] == kit.settings.auth_audience
        assert {"iss", "exp", "iat", "nbf", "jti", "scope"} <= set(claims)

    async def test_secret_in_the_form_works_too_and_scope_can_be_narrowed(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        service = await kit.service_client(scopes={"inventory:read", "inventory:write"})
        form = {
            "grant_type": "client_credentials",
            "client_id": service.client_id,
            "client_secret": service.client_secret or "",
            "scope": "inventory:read",
        }
        answer = await token_request(http, form)
        assert answer.status == 200
        assert answer.body["scope"] == "inventory:read"

    async def test_a_scope_the_client_was_not_registered_with_is_invalid_scope(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        service = await kit.service_client(scopes={"inventory:read"})
        answer = await token_request(
            http, {"grant_type": "client_credentials", "scope": "catalog:write"}, headers=basic(service)
        )
        assert answer.status == 400
        assert answer.body["error"] == "invalid_scope"

    async def test_wrong_secret_is_invalid_client_with_a_basic_challenge(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        service = await kit.service_client(scopes={"inventory:read"})
        wrong = RegisteredClient(service.client_id, "sec_wrong", "")
        response = await http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(wrong)
        )
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic")

    async def test_a_public_sign_in_client_cannot_use_client_credentials(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client = await kit.sign_in_client()
        answer = await token_request(
            http, {"grant_type": "client_credentials", "client_id": client.client_id}
        )
        assert answer.status == 400
        assert answer.body["error"] == "unauthorized_client"

    async def test_password_grant_is_not_supported(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        customer = await kit.customer()
        client = await kit.sign_in_client()
        answer = await token_request(
            http,
            {
                "grant_type": "password",
                "username": customer.email,
                "password": customer.password,
                "client_id": client.client_id,
            },
        )
        assert answer.status == 400
        assert answer.body["error"] == "unsupported_grant_type"


class TestRevocation:
    async def test_revoking_a_refresh_token_ends_the_grant(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client, tokens = await _customer_tokens(http, kit)
        revoked = await http.post(
            "/oauth/revoke",
            data={
                "token": tokens["refresh"],
                "token_type_hint": "refresh_token",
                "client_id": client.client_id,
            },
        )
        assert revoked.status_code == 200
        answer = await token_request(
            http,
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh"],
                "client_id": client.client_id,
            },
        )
        assert answer.body["error"] == "invalid_grant"

    async def test_unknown_and_foreign_tokens_are_accepted_silently(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client, tokens = await _customer_tokens(http, kit)
        other = await kit.sign_in_client()
        unknown = await http.post("/oauth/revoke", data={"token": "nonsense", "client_id": client.client_id})
        assert unknown.status_code == 200
        foreign = await http.post(
            "/oauth/revoke", data={"token": tokens["refresh"], "client_id": other.client_id}
        )
        assert foreign.status_code == 200
        # Another client's revocation changed nothing.
        answer = await token_request(
            http,
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh"],
                "client_id": client.client_id,
            },
        )
        assert answer.status == 200

    async def test_revocation_needs_a_known_client(self, http: httpx.AsyncClient) -> None:
        response = await http.post("/oauth/revoke", data={"token": "x", "client_id": "cli_unknown"})
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"


class TestIntrospection:
    async def test_resource_server_sees_an_active_token_then_its_revocation(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client, tokens = await _customer_tokens(http, kit)
        resource_server = await kit.service_client(scopes={"oauth:introspect"})

        active = await http.post(
            "/oauth/introspect", data={"token": tokens["access"]}, headers=basic(resource_server)
        )
        assert active.status_code == 200
        body = active.json()
        assert body["active"] is True
        assert body["token_type"] == "access_token"
        assert body["client_id"] == client.client_id
        assert "me:read" in body["scope"].split()

        refresh = await http.post(
            "/oauth/introspect", data={"token": tokens["refresh"]}, headers=basic(resource_server)
        )
        assert refresh.json()["active"] is True
        assert refresh.json()["token_type"] == "refresh_token"

        await http.post("/oauth/revoke", data={"token": tokens["refresh"], "client_id": client.client_id})
        after = await http.post(
            "/oauth/introspect", data={"token": tokens["access"]}, headers=basic(resource_server)
        )
        assert after.json() == {"active": False}

    async def test_revoked_access_token_is_inactive(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        client, tokens = await _customer_tokens(http, kit)
        resource_server = await kit.service_client(scopes={"oauth:introspect"})
        revoked = await http.post(
            "/oauth/revoke",
            data={
                "token": tokens["access"],
                "token_type_hint": "access_token",
                "client_id": client.client_id,
            },
        )
        assert revoked.status_code == 200
        after = await http.post(
            "/oauth/introspect", data={"token": tokens["access"]}, headers=basic(resource_server)
        )
        assert after.json() == {"active": False}

    async def test_garbage_is_simply_inactive(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        resource_server = await kit.service_client(scopes={"oauth:introspect"})
        for token in ["", "x", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x" * 5000]:
            response = await http.post(
                "/oauth/introspect", data={"token": token}, headers=basic(resource_server)
            )
            if token:
                assert response.status_code == 200, token
                assert response.json() == {"active": False}, token
            else:
                assert response.status_code == 400
                assert response.json()["error"] == "invalid_request"

    async def test_only_clients_registered_for_introspection_may_call_it(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        _, tokens = await _customer_tokens(http, kit)
        ordinary = await kit.service_client(scopes={"inventory:read"})
        response = await http.post(
            "/oauth/introspect", data={"token": tokens["access"]}, headers=basic(ordinary)
        )
        assert response.status_code == 403
        assert response.json()["error"] == "unauthorized_client"
        anonymous = await http.post("/oauth/introspect", data={"token": tokens["access"]})
        assert anonymous.status_code == 401


class TestDiscovery:
    async def test_discovery_names_the_endpoints_and_only_safe_choices(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        doc = (await http.get("/.well-known/openid-configuration")).json()
        issuer = kit.settings.identity_issuer
        assert doc["issuer"] == issuer
        assert doc["jwks_uri"] == issuer.rstrip("/") + "/oauth/jwks"
        assert doc["response_types_supported"] == ["code"]
        assert doc["code_challenge_methods_supported"] == ["S256"]
        assert "password" not in doc["grant_types_supported"]
        assert "implicit" not in doc["grant_types_supported"]
        assert (await http.get("/.well-known/oauth-authorization-server")).json() == doc

    async def test_jwks_publishes_the_active_and_the_next_key_and_no_private_part(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        response = await http.get("/oauth/jwks")
        keys = response.json()["keys"]
        assert len(keys) == 2
        assert all(
            k["kty"] == "EC" and k["alg"] == "ES256" and k["use"] == "sig" and "d" not in k for k in keys
        )
        assert "max-age" in response.headers["cache-control"]
        kid, _ = await kit.identity.keys.active_key()
        assert kid in {k["kid"] for k in keys}

    async def test_a_token_verifies_with_the_published_keys(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        token = await kit.staff_token(scopes={"catalog:write"})
        keys = KeySet.import_key_set((await http.get("/oauth/jwks")).json())
        decoded = jwt.decode(token, keys, algorithms=["ES256"])
        assert decoded.header["typ"] == "at+jwt"
        assert decoded.claims["roles"] == ["admin"]
        me = await http.get("/v1/me", headers=bearer(token))
        assert me.status_code == 403  # catalog:write alone does not include me:read
