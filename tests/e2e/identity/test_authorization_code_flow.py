"""The storefront's sign-in: authorization code + PKCE through Orderly's sign-in page, then
refresh-token rotation, replay detection and code reuse."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.identity.adapters.tables import authorization_codes, token_families
from orderly.modules.identity.application.commands import CreateStaffMember
from tests.support.auth import (
    AuthKit,
    RegisteredClient,
    authorization_code_flow,
    authorize_params,
    bearer,
    form_fields,
    new_verifier,
    sign_in_for_code,
    token_request,
)

PASSWORD = "violet-harbour-lantern-7"


async def _register(http: httpx.AsyncClient, email: str = "Ada.Lovelace@Example.COM") -> str:
    response = await http.post("/v1/customers", json={"email": email, "password": PASSWORD, "name": "Ada"})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _code_form(client: RegisteredClient, code: str, verifier: str) -> dict[str, str]:
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client.redirect_uri,
        "client_id": client.client_id,
        "code_verifier": verifier,
    }


def _refresh_form(client: RegisteredClient, refresh_token: str) -> dict[str, str]:
    return {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client.client_id}


class TestAuthorizationCodeWithPkce:
    async def test_registered_customer_signs_in_through_the_page_and_calls_the_api(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        customer_id = await _register(http)
        client = await kit.sign_in_client()
        verifier = new_verifier()

        page = await http.get(
            "/oauth/authorize", params=authorize_params(client, verifier=verifier, state="xyz")
        )
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        fields = form_fields(page.text)
        assert fields["csrf_token"]
        assert fields["client_id"] == client.client_id

        fields.update(email="ada.lovelace@example.com", password=PASSWORD)  # another case, same account
        signed_in = await http.post("/oauth/authorize", data=fields)
        assert signed_in.status_code == 303
        location = urlsplit(signed_in.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == client.redirect_uri
        query = parse_qs(location.query)
        assert query["state"] == ["xyz"]
        assert query["iss"] == [kit.settings.identity_issuer]

        tokens = await token_request(http, _code_form(client, query["code"][0], verifier))
        assert tokens.status == 200, tokens.body
        assert tokens.body["token_type"] == "Bearer"
        assert tokens.body["expires_in"] == kit.settings.identity_access_token_ttl_s
        assert set(tokens.body["scope"].split()) == {
            "me:read",
            "me:write",
            "carts:write",
            "orders:read",
            "orders:write",
        }

        me = await http.get("/v1/me", headers=bearer(tokens.access_token))
        assert me.status_code == 200, me.text
        assert me.json()["id"] == customer_id
        assert me.json()["kind"] == "customer"
        assert me.json()["email"] == "Ada.Lovelace@example.com"

    async def test_token_response_is_never_cached(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        await _register(http)
        client = await kit.sign_in_client()
        verifier = new_verifier()
        code = await sign_in_for_code(
            http, client, email="ada.lovelace@example.com", password=PASSWORD, verifier=verifier
        )
        response = await http.post("/oauth/token", data=_code_form(client, code, verifier))
        assert response.headers["cache-control"] == "no-store"

    async def test_requested_scope_is_narrowed_to_what_a_customer_may_hold(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        await _register(http)
        client = await kit.sign_in_client(scopes={"me:read"})
        tokens = await authorization_code_flow(
            http, client, email="ada.lovelace@example.com", password=PASSWORD, scope="me:read"
        )
        assert tokens.body["scope"] == "me:read"
        patch = await http.patch("/v1/me", json={"name": "Countess"}, headers=bearer(tokens.access_token))
        assert patch.status_code == 403
        assert 'error="insufficient_scope"' in patch.headers["www-authenticate"]

    async def test_a_scope_the_client_may_not_request_comes_back_as_invalid_scope(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client = await kit.sign_in_client(scopes={"me:read"})
        params = authorize_params(client, verifier=new_verifier(), scope="me:read catalog:write")
        response = await http.get("/oauth/authorize", params=params)
        assert response.status_code == 303
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert query["error"] == ["invalid_scope"]
        assert query["state"] == ["st-123"]

    async def test_wrong_password_shows_the_form_again_without_a_code(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        await _register(http)
        client = await kit.sign_in_client()
        page = await http.get("/oauth/authorize", params=authorize_params(client, verifier=new_verifier()))
        fields = form_fields(page.text)
        fields.update(email="ada.lovelace@example.com", password="not-the-password-at-all")
        response = await http.post("/oauth/authorize", data=fields)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert "Wrong e-mail address or password" in response.text
        # The same message for an account that does not exist: no enumeration.
        fields = form_fields(response.text)
        fields.update(email="nobody@example.com", password="not-the-password-at-all")
        unknown = await http.post("/oauth/authorize", data=fields)
        assert unknown.status_code == 400
        assert "Wrong e-mail address or password" in unknown.text

    async def test_form_posted_without_the_page_csrf_token_is_refused(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        await _register(http)
        client = await kit.sign_in_client()
        page = await http.get("/oauth/authorize", params=authorize_params(client, verifier=new_verifier()))
        fields = form_fields(page.text)
        fields.update(email="ada.lovelace@example.com", password=PASSWORD, csrf_token="forged")
        response = await http.post("/oauth/authorize", data=fields)
        assert response.status_code == 403
        assert "location" not in response.headers

        http.cookies.clear()  # a cross-site post carries no SameSite=Strict cookie
        fields = form_fields(page.text)
        fields.update(email="ada.lovelace@example.com", password=PASSWORD)
        response = await http.post("/oauth/authorize", data=fields)
        assert response.status_code == 403

    async def test_staff_sign_in_client_signs_in_staff_and_the_token_carries_the_role(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        await kit.identity.create_staff_member(
            CreateStaffMember(email="ops@example.com", password=PASSWORD, role="support")
        )
        client = await kit.sign_in_client(sign_in="staff")
        tokens = await authorization_code_flow(http, client, email="ops@example.com", password=PASSWORD)
        assert tokens.status == 200, tokens.body
        # The client may ask for every staff scope; a support member gets support's only.
        assert set(tokens.body["scope"].split()) == {
            "me:read",
            "me:write",
            "orders:read",
            "customers:read",
            "payments:read",
        }
        me = (await http.get("/v1/me", headers=bearer(tokens.access_token))).json()
        assert me["kind"] == "staff"
        assert me["role"] == "support"


class TestPkceIsMandatory:
    async def test_plain_code_challenge_method_is_rejected(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client = await kit.sign_in_client()
        verifier = new_verifier()
        params = authorize_params(
            client, verifier=verifier, code_challenge=verifier, code_challenge_method="plain"
        )
        response = await http.get("/oauth/authorize", params=params)
        assert response.status_code == 303
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert query["error"] == ["invalid_request"]
        assert "S256" in query["error_description"][0]

    async def test_missing_code_challenge_is_rejected(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        client = await kit.sign_in_client()
        params = authorize_params(client, verifier=new_verifier())
        del params["code_challenge"], params["code_challenge_method"]
        response = await http.get("/oauth/authorize", params=params)
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert query["error"] == ["invalid_request"]

    async def test_code_with_the_wrong_verifier_is_refused(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        await _register(http)
        client = await kit.sign_in_client()
        verifier = new_verifier()
        code = await sign_in_for_code(
            http, client, email="ada.lovelace@example.com", password=PASSWORD, verifier=verifier
        )
        wrong = await token_request(http, _code_form(client, code, new_verifier()))
        assert wrong.status == 400
        assert wrong.body["error"] == "invalid_grant"
        missing = await token_request(http, {**_code_form(client, code, verifier), "code_verifier": ""})
        assert missing.status == 400
        assert missing.body["error"] == "invalid_request"
        # The real verifier still works: a failed guess does not burn the code.
        right = await token_request(http, _code_form(client, code, verifier))
        assert right.status == 200

    async def test_implicit_flow_is_not_offered(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        client = await kit.sign_in_client()
        params = authorize_params(client, verifier=new_verifier(), response_type="token")
        response = await http.get("/oauth/authorize", params=params)
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert query["error"] == ["unsupported_response_type"]


class TestCodesAreSingleUse:
    async def test_reused_code_is_rejected_and_revokes_the_tokens_it_issued(
        self, http: httpx.AsyncClient, kit: AuthKit, engine: AsyncEngine
    ) -> None:
        await _register(http)
        client = await kit.sign_in_client()
        verifier = new_verifier()
        code = await sign_in_for_code(
            http, client, email="ada.lovelace@example.com", password=PASSWORD, verifier=verifier
        )
        first = await token_request(http, _code_form(client, code, verifier))
        assert first.status == 200

        replay = await token_request(http, _code_form(client, code, verifier))
        assert replay.status == 400
        assert replay.body["error"] == "invalid_grant"

        refreshed = await token_request(http, _refresh_form(client, first.refresh_token))
        assert refreshed.status == 400
        assert refreshed.body["error"] == "invalid_grant"
        async with engine.connect() as conn:
            reason = await conn.scalar(select(token_families.c.revoked_reason))
        assert reason == "authorization code replayed"

    async def test_an_idempotency_key_cannot_replay_a_token_response(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        # OAuth endpoints are exempt from Idempotency-Key: a stored token
        # response replayed to a second exchange would defeat single-use codes.
        await _register(http)
        client = await kit.sign_in_client()
        verifier = new_verifier()
        code = await sign_in_for_code(
            http, client, email="ada.lovelace@example.com", password=PASSWORD, verifier=verifier
        )
        keyed = {"headers": {"Idempotency-Key": "same-key"}}
        first = await token_request(http, _code_form(client, code, verifier), **keyed)
        second = await token_request(http, _code_form(client, code, verifier), **keyed)

        assert first.status == 200
        assert second.status == 400
        assert second.body["error"] == "invalid_grant"

    async def test_expired_code_is_refused(
        self, http: httpx.AsyncClient, kit: AuthKit, engine: AsyncEngine
    ) -> None:
        await _register(http)
        client = await kit.sign_in_client()
        verifier = new_verifier()
        code = await sign_in_for_code(
            http, client, email="ada.lovelace@example.com", password=PASSWORD, verifier=verifier
        )
        async with engine.begin() as conn:
            lifetime = await conn.scalar(
                select(authorization_codes.c.expires_at - authorization_codes.c.created_at)
            )
            await conn.execute(
                update(authorization_codes).values(expires_at=authorization_codes.c.created_at)
            )
        assert lifetime is not None
        assert lifetime.total_seconds() <= 600
        expired = await token_request(http, _code_form(client, code, verifier))
        assert expired.status == 400
        assert expired.body["error"] == "invalid_grant"

    async def test_code_is_bound_to_its_redirect_uri_and_client(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        await _register(http)
        client = await kit.sign_in_client()
        other = await kit.sign_in_client()
        verifier = new_verifier()
        code = await sign_in_for_code(
            http, client, email="ada.lovelace@example.com", password=PASSWORD, verifier=verifier
        )
        moved = await token_request(
            http, {**_code_form(client, code, verifier), "redirect_uri": client.redirect_uri + "/x"}
        )
        assert moved.body["error"] == "invalid_grant"
        stolen = await token_request(
            http, {**_code_form(client, code, verifier), "client_id": other.client_id}
        )
        assert stolen.body["error"] == "invalid_grant"
        assert (await token_request(http, _code_form(client, code, verifier))).status == 200


class TestRefreshTokenRotation:
    async def _tokens(self, http: httpx.AsyncClient, kit: AuthKit) -> tuple[RegisteredClient, dict[str, str]]:
        await _register(http)
        client = await kit.sign_in_client()
        tokens = await authorization_code_flow(
            http, client, email="ada.lovelace@example.com", password=PASSWORD
        )
        assert tokens.status == 200
        return client, {"access": tokens.access_token, "refresh": tokens.refresh_token}

    async def test_each_refresh_returns_a_new_refresh_token_and_spends_the_old_one(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client, tokens = await self._tokens(http, kit)
        second = await token_request(http, _refresh_form(client, tokens["refresh"]))
        assert second.status == 200, second.body
        assert second.refresh_token != tokens["refresh"]
        assert second.access_token != tokens["access"]
        third = await token_request(http, _refresh_form(client, second.refresh_token))
        assert third.status == 200
        me = await http.get("/v1/me", headers=bearer(third.access_token))
        assert me.status_code == 200

    async def test_replaying_a_rotated_refresh_token_revokes_the_whole_family(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client, tokens = await self._tokens(http, kit)
        rotated = await token_request(http, _refresh_form(client, tokens["refresh"]))
        assert rotated.status == 200

        replay = await token_request(http, _refresh_form(client, tokens["refresh"]))
        assert replay.status == 400
        assert replay.body["error"] == "invalid_grant"
        # The attacker's copy and the client's current token both stop working.
        current = await token_request(http, _refresh_form(client, rotated.refresh_token))
        assert current.status == 400
        assert current.body["error"] == "invalid_grant"

    async def test_two_parallel_refreshes_with_one_token_let_at_most_one_through(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client, tokens = await self._tokens(http, kit)
        results = await asyncio.gather(
            *(token_request(http, _refresh_form(client, tokens["refresh"])) for _ in range(2))
        )
        statuses = sorted(r.status for r in results)
        assert statuses.count(200) <= 1, statuses
        assert all(r.status in (200, 400) for r in results)
        # The loser is a replay: the family is revoked, so even the winner's token is dead.
        winners = [r for r in results if r.status == 200]
        for winner in winners:
            again = await token_request(http, _refresh_form(client, winner.refresh_token))
            assert again.status == 400

    async def test_refresh_by_another_client_is_refused_without_revoking(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client, tokens = await self._tokens(http, kit)
        other = await kit.sign_in_client()
        stolen = await token_request(http, _refresh_form(other, tokens["refresh"]))
        assert stolen.body["error"] == "invalid_grant"
        assert (await token_request(http, _refresh_form(client, tokens["refresh"]))).status == 200

    async def test_refresh_cannot_widen_the_scope(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        client, tokens = await self._tokens(http, kit)
        wider = await token_request(
            http, {**_refresh_form(client, tokens["refresh"]), "scope": "me:read catalog:write"}
        )
        assert wider.status == 400
        assert wider.body["error"] == "invalid_scope"
        narrower = await token_request(http, {**_refresh_form(client, tokens["refresh"]), "scope": "me:read"})
        assert narrower.status == 200
        assert narrower.body["scope"] == "me:read"
