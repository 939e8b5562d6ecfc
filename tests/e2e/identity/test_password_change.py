"""POST /v1/me/password through HTTP, with accounts signed in through the real sign-in page."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.identity.adapters.tables import outbox
from orderly.platform.settings import Settings
from tests.support.auth import (
    DEFAULT_PASSWORD,
    AuthKit,
    RegisteredClient,
    TokenResponse,
    authorization_code_flow,
    authorize_params,
    bearer,
    form_fields,
    identity_app,
    new_verifier,
    token_request,
)
from tests.support.http import assert_problem, invalid_field_names

NEW = "quiet-orchard-compass-42"


async def _sign_in(
    http: httpx.AsyncClient, client: RegisteredClient, email: str, password: str
) -> TokenResponse:
    tokens = await authorization_code_flow(http, client, email=email, password=password)
    assert tokens.status == 200, tokens.body
    return tokens


async def _sign_in_form(http: httpx.AsyncClient, client: RegisteredClient, email: str, password: str) -> int:
    """The status of the sign-in form's answer: 303 signed in, 400 wrong password, 429 throttled."""
    page = await http.get("/oauth/authorize", params=authorize_params(client, verifier=new_verifier()))
    fields = form_fields(page.text)
    fields.update(email=email, password=password)
    return (await http.post("/oauth/authorize", data=fields)).status_code


async def _refresh(http: httpx.AsyncClient, client: RegisteredClient, refresh_token: str) -> TokenResponse:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client.client_id}
    return await token_request(http, form)


async def _change(
    http: httpx.AsyncClient, token: str, current: str, new: str = NEW, *, key: str | None = None
) -> httpx.Response:
    headers = bearer(token) | ({"Idempotency-Key": key} if key else {})
    body = {"current_password": current, "new_password": new}
    return await http.post("/v1/me/password", json=body, headers=headers)


class TestAChangeTakesEffect:
    async def test_the_old_password_no_longer_signs_in_and_the_new_one_does(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        customer = await kit.customer()
        client = await kit.sign_in_client()
        tokens = await _sign_in(http, client, customer.email, customer.password)
        changed = await _change(http, tokens.access_token, customer.password)
        assert changed.status_code == 204, changed.text
        assert changed.content == b""
        assert await _sign_in_form(http, client, customer.email, customer.password) == 400
        await _sign_in(http, client, customer.email, NEW)

    async def test_other_sign_ins_end_and_the_one_that_changed_it_stays(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        customer = await kit.customer()
        client = await kit.sign_in_client()
        phone = await _sign_in(http, client, customer.email, customer.password)
        laptop = await _sign_in(http, client, customer.email, customer.password)
        assert (await _change(http, phone.access_token, customer.password)).status_code == 204

        refused = await _refresh(http, client, laptop.refresh_token)
        assert refused.status == 400
        assert refused.body["error"] == "invalid_grant"
        service = await kit.service_client(scopes={"oauth:introspect"})
        introspected = await http.post(
            "/oauth/introspect",
            data={
                "token": laptop.access_token,
                "client_id": service.client_id,
                "client_secret": service.client_secret or "",
            },
        )
        assert introspected.json() == {"active": False}
        assert (await _refresh(http, client, phone.refresh_token)).status == 200

    async def test_with_a_token_identity_has_no_record_of_every_sign_in_ends(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        customer = await kit.customer()  # its token skipped the token endpoint: no record
        client = await kit.sign_in_client()
        earlier = await _sign_in(http, client, customer.email, customer.password)
        assert (await _change(http, customer.token, customer.password)).status_code == 204
        refused = await _refresh(http, client, earlier.refresh_token)
        assert (refused.status, refused.body["error"]) == (400, "invalid_grant")

    async def test_the_change_is_announced_through_the_outbox_without_the_hash(
        self, http: httpx.AsyncClient, kit: AuthKit, engine: AsyncEngine
    ) -> None:
        customer = await kit.customer()
        assert (await _change(http, customer.token, customer.password)).status_code == 204
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(outbox.c.aggregate_id, outbox.c.payload).where(
                        outbox.c.event_type == "identity.password_changed.v1",
                        outbox.c.aggregate_id == str(customer.id),
                    )
                )
            ).all()
        assert len(rows) == 1
        payload = rows[0].payload
        assert payload["subject_id"] == str(customer.id)
        assert payload["subject_kind"] == "customer"
        assert "argon2" not in str(payload)
        assert NEW not in str(payload)


class TestStaff:
    async def test_a_staff_member_signed_in_through_the_staff_client_changes_theirs(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        email = f"staff-{uuid.uuid4().hex[:8]}@orderly.test"
        await kit.staff_token(role="support", email=email)
        client = await kit.sign_in_client(sign_in="staff")
        tokens = await _sign_in(http, client, email, DEFAULT_PASSWORD)
        assert "me:write" in tokens.body["scope"].split()
        assert (await _change(http, tokens.access_token, DEFAULT_PASSWORD)).status_code == 204
        assert await _sign_in_form(http, client, email, DEFAULT_PASSWORD) == 400
        await _sign_in(http, client, email, NEW)


class TestRefusals:
    async def test_a_weak_or_unchanged_new_password_is_422_naming_new_password(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        customer = await kit.customer()
        for new in ("password1234", customer.password):
            problem = assert_problem(
                await _change(http, customer.token, customer.password, new), 422, "weak-password"
            )
            assert invalid_field_names(problem) == {"new_password"}
        await _sign_in(http, await kit.sign_in_client(), customer.email, customer.password)

    async def test_without_a_token_it_is_401(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        response = await http.post("/v1/me/password", json={"current_password": "x", "new_password": NEW})
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")

    async def test_a_service_token_or_one_without_me_write_is_403(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        service = await kit.service_token(scopes={"me:write"})
        assert_problem(await _change(http, service, "whatever-it-is-1"), 403, "forbidden")
        reader = await kit.staff_token(scopes={"me:read", "catalog:write"})
        refused = await _change(http, reader, "whatever-it-is-1")
        assert_problem(refused, 403, "forbidden")
        assert 'scope="me:write"' in refused.headers["www-authenticate"]

    async def test_wrong_current_passwords_are_403_and_counted_until_429_with_retry_after(
        self, settings: Settings, database_url: str, engine: AsyncEngine
    ) -> None:
        limited = settings.model_copy(
            update={"identity_signin_account_limit": 3, "identity_signin_window_s": 120}
        )
        async with identity_app(limited, database_url) as (http, kit):
            customer = await kit.customer()
            client = await kit.sign_in_client()
            for new in ("short", NEW):
                wrong = await _change(http, customer.token, "not-the-password-1", new)
                problem = assert_problem(wrong, 403, "wrong-current-password")
                assert "errors" not in problem
            assert await _sign_in_form(http, client, customer.email, "not-the-password-2") == 400

            throttled = await _change(http, customer.token, customer.password)
            problem = assert_problem(throttled, 429, "too-many-sign-in-attempts")
            retry_after = int(throttled.headers["retry-after"])
            assert 0 < retry_after <= 120
            assert problem["retry_after"] == retry_after
            # One counter for the account: the sign-in page is closed to it too.
            assert await _sign_in_form(http, client, customer.email, customer.password) == 429
            other = await kit.customer()
            await _sign_in(http, client, other.email, other.password)

    async def test_a_retry_with_the_same_key_is_replayed_and_one_without_is_403(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        customer = await kit.customer()
        key = str(uuid.uuid4())
        first = await _change(http, customer.token, customer.password, key=key)
        assert first.status_code == 204
        replayed = await _change(http, customer.token, customer.password, key=key)
        assert replayed.status_code == 204
        assert replayed.headers["idempotent-replayed"] == "true"
        assert_problem(await _change(http, customer.token, customer.password), 403, "wrong-current-password")
        await _sign_in(http, await kit.sign_in_client(), customer.email, NEW)
