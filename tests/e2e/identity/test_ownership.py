"""Object-level authorization: a customer reaches only their own profile and addresses.

The sweep walks every route of the app that takes a customer's object id, so a
new route added without an ownership check fails here.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.modules.identity.adapters.tables import addresses, customers
from tests.support.auth import AuthKit, SignedInCustomer, bearer
from tests.support.http import assert_problem

ADDRESS = {
    "recipient": "Ada Lovelace",
    "line1": "12 St James's Square",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
    "phone": "+44 20 7946 0000",
}
# Routes whose path names an object that belongs to one customer.
OWNED_OBJECT_PARAMS = ("{address_id}", "{customer_id}")
BODIES: dict[str, dict[str, Any]] = {"PATCH": {"city": "Paris"}, "PUT": ADDRESS, "POST": ADDRESS}


async def _with_address(http: httpx.AsyncClient, customer: SignedInCustomer) -> str:
    response = await http.post("/v1/me/addresses", json=ADDRESS, headers=customer.headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"].endswith(response.json()["id"])
    return str(response.json()["id"])


def _owned_routes(openapi: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of every documented operation whose path names a customer's object."""
    return [
        (method.upper(), path)
        for path, operations in openapi["paths"].items()
        if any(p in path for p in OWNED_OBJECT_PARAMS)
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    ]


class TestAddressBook:
    async def test_customer_adds_lists_changes_and_removes_addresses(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        ada = await kit.customer()
        address_id = await _with_address(http, ada)
        listed = (await http.get("/v1/me/addresses", headers=ada.headers)).json()["items"]
        assert [a["id"] for a in listed] == [address_id]
        changed = await http.patch(
            f"/v1/me/addresses/{address_id}", json={"city": "Paris", "country": "fr"}, headers=ada.headers
        )
        assert changed.status_code == 200
        assert changed.json()["city"] == "Paris"
        assert changed.json()["country"] == "FR"
        assert changed.json()["version"] == 2
        deleted = await http.delete(f"/v1/me/addresses/{address_id}", headers=ada.headers)
        assert deleted.status_code == 204
        again = await http.get(f"/v1/me/addresses/{address_id}", headers=ada.headers)
        assert_problem(again, 404, "not-found")

    async def test_a_customer_keeps_at_most_twenty_addresses(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        ada = await kit.customer()
        for _ in range(20):
            await _with_address(http, ada)
        response = await http.post("/v1/me/addresses", json=ADDRESS, headers=ada.headers)
        assert_problem(response, 422, "too-many-addresses")

    async def test_staff_tokens_cannot_use_the_customer_address_book(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        staff = await kit.staff_token(scopes={"me:read", "me:write", "customers:read"})
        response = await http.get("/v1/me/addresses", headers=bearer(staff))
        assert_problem(response, 403, "forbidden")


class TestOwnershipSweep:
    async def test_every_owned_object_route_hides_another_customers_object(
        self, app: tuple[httpx.AsyncClient, AuthKit], engine: AsyncEngine
    ) -> None:
        http, kit = app
        ada, eve = await kit.customer(name="Ada"), await kit.customer(name="Eve")
        address_id = await _with_address(http, ada)
        ids = {"{address_id}": address_id, "{customer_id}": str(ada.id)}
        assert kit.app is not None
        routes = _owned_routes(kit.app.openapi())
        assert {path for _, path in routes} >= {
            "/v1/me/addresses/{address_id}",
            "/v1/customers/{customer_id}",
        }

        for method, template in routes:
            path = template
            for param, value in ids.items():
                path = path.replace(param, value)
            response = await http.request(method, path, json=BODIES.get(method), headers=eve.headers)
            assert response.status_code in (403, 404), (method, template, response.status_code)
            for secret in (ada.email, "Lovelace", "SW1Y", address_id):
                assert secret not in response.text, (method, template, secret)

        # And nothing changed: Ada's address is as she left it.
        async with engine.connect() as conn:
            row = (await conn.execute(select(addresses).where(addresses.c.id == uuid.UUID(address_id)))).one()
        assert row.city == "London"
        assert row.version == 1

    async def test_another_customers_addresses_never_appear_in_a_list(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        ada, eve = await kit.customer(), await kit.customer()
        await _with_address(http, ada)
        listed = await http.get("/v1/me/addresses", headers=eve.headers)
        assert listed.json() == {"items": []}

    async def test_a_missing_and_a_foreign_address_answer_the_same(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        ada, eve = await kit.customer(), await kit.customer()
        foreign = await http.get(f"/v1/me/addresses/{await _with_address(http, ada)}", headers=eve.headers)
        missing = await http.get(f"/v1/me/addresses/{uuid.uuid4()}", headers=eve.headers)
        assert foreign.status_code == missing.status_code == 404
        strip = re.compile(r'"request_id":"[^"]*"')
        assert strip.sub("", foreign.text) == strip.sub("", missing.text)

    async def test_support_staff_may_read_a_customer_profile(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        ada = await kit.customer()
        support = await kit.staff_token(role="support")
        response = await http.get(f"/v1/customers/{ada.id}", headers=bearer(support))
        assert response.status_code == 200
        assert response.json()["email"] == ada.email
        catalog = await kit.staff_token(role="catalog_manager")
        hidden = await http.get(f"/v1/customers/{ada.id}", headers=bearer(catalog))
        assert hidden.status_code == 404


class TestReadOnlyFields:
    async def test_a_customer_cannot_write_role_scopes_or_identity(
        self, http: httpx.AsyncClient, kit: AuthKit, engine: AsyncEngine
    ) -> None:
        ada = await kit.customer(name="Ada")
        for forbidden in (
            {"role": "admin"},
            {"scopes": ["catalog:write"]},
            {"scope": "catalog:write"},
            {"id": str(uuid.uuid4())},
            {"email": "eve@example.com"},
            {"kind": "staff"},
            {"name": "Ada", "roles": ["admin"]},
        ):
            response = await http.patch("/v1/me", json=forbidden, headers=ada.headers)
            problem = assert_problem(response, 422, "validation-error")
            assert problem["errors"], forbidden
        me = (await http.get("/v1/me", headers=ada.headers)).json()
        assert me["kind"] == "customer"
        assert me["role"] is None
        assert me["email"] == ada.email
        assert me["name"] == "Ada"
        assert "catalog:write" not in me["scopes"]
        async with engine.connect() as conn:
            assert await conn.scalar(select(customers.c.version).where(customers.c.id == ada.id)) == 1

    async def test_registration_accepts_no_role_scopes_or_id(self, http: httpx.AsyncClient) -> None:
        body = {"email": "mallory@example.com", "password": "quiet-otter-paints-9"}
        for extra in ({"role": "admin"}, {"scopes": "catalog:write"}, {"id": str(uuid.uuid4())}):
            response = await http.post("/v1/customers", json={**body, **extra})
            assert_problem(response, 422, "validation-error")
        assert (await http.post("/v1/customers", json=body)).status_code == 201

    async def test_an_address_owner_cannot_be_moved_to_another_customer(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        ada, eve = await kit.customer(), await kit.customer()
        address_id = await _with_address(http, ada)
        response = await http.patch(
            f"/v1/me/addresses/{address_id}", json={"customer_id": str(eve.id)}, headers=ada.headers
        )
        assert_problem(response, 422, "validation-error")
        assert (await http.get(f"/v1/me/addresses/{address_id}", headers=ada.headers)).status_code == 200

    async def test_patching_my_name_changes_only_my_name(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        ada = await kit.customer(name="Ada")
        response = await http.patch("/v1/me", json={"name": "  Countess of Lovelace "}, headers=ada.headers)
        assert response.status_code == 200
        assert response.json()["name"] == "Countess of Lovelace"
