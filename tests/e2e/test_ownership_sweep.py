"""Object-level authorization across every module: one customer's things, another customer's token.

Ada has a profile, an address, a cart with a line in it, and a confirmed order
with its payment, stock reservation and shipment, all made through the API.
Eve is another signed-in customer, with every customer scope. The sweep walks
the app's own routes (not a hand-written list): every route whose path names
one of Ada's objects is called with Eve's token and must answer 404 or 403,
with nothing of Ada's in the answer, and nothing of Ada's may change. A route
whose path names a kind of id this file does not know fails the sweep until
someone says whether it is a customer's object.

Then the fields a customer must never set (prices, statuses, roles, scopes,
owners) are sent by Ada on her own objects: refused, and nothing changes.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi.routing import iter_route_contexts
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.entrypoints.registry import all_outboxes
from orderly.modules.ordering.adapters import tables as ordering_tables
from orderly.modules.payments.adapters import tables as payment_tables
from orderly.platform.db import create_engine
from orderly.platform.settings import Settings
from tests.conftest import truncate_all
from tests.support.auth import AuthKit, SignedInCustomer, bearer, identity_app
from tests.support.http import assert_problem

pytestmark = pytest.mark.asyncio(loop_scope="module")

SKU = "SWEEP-MUG"
PRICE = "41.17"
WAREHOUSE = "SWEEP"
ADDRESS = {
    "recipient": "Ada Lovelace",
    "line1": "Analytical Mews 7",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
}
# What identifies Ada or her things; none of it may reach Eve (an id Eve sent
# herself may come back, e.g. in a 404's detail: she knew it already).
PERSONAL = ("Lovelace", "Analytical Mews")

# Path parameters naming an object that belongs to one customer, and those that do not.
OWNED = ("customer_id", "address_id", "cart_id", "order_id", "payment_id", "shipment_id", "reference")
NOT_OWNED = ("product_id", "category_id", "slug", "sku", "code")  # code: a warehouse, staff-only

# What Eve sends to each unsafe route of the sweep: valid for the route, so the
# only thing wrong with the request is whose object it names. An unsafe route
# missing here fails the sweep (someone must decide what a fair attempt is).
SWEEP_BODIES: dict[tuple[str, str], dict[str, Any] | None] = {
    ("PATCH", "/v1/me/addresses/{address_id}"): {"city": "Paris"},
    ("DELETE", "/v1/me/addresses/{address_id}"): None,
    ("PUT", "/v1/carts/{cart_id}/lines/{sku}"): {"quantity": 9},
    ("POST", "/v1/carts/{cart_id}/lines"): {"sku": SKU, "quantity": 1},
    ("DELETE", "/v1/carts/{cart_id}/lines/{sku}"): None,
    ("POST", "/v1/orders/{order_id}/cancel"): {"reason": "not mine"},
    ("POST", "/v1/orders/{order_id}/refunds"): {"amount": "1.00", "reason": "not mine"},
    ("POST", "/v1/payments/{payment_id}/refunds"): {"amount": "1.00"},
    ("POST", "/v1/shipments/{shipment_id}/ship"): {"tracking_number": "TRK-EVE"},
    ("POST", "/v1/shipments/{shipment_id}/deliver"): None,
    ("POST", "/v1/reservations/{reference}/confirm"): None,
    ("POST", "/v1/reservations/{reference}/release"): None,
}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class World:
    http: httpx.AsyncClient
    kit: AuthKit
    engine: AsyncEngine
    staff: dict[str, str]
    ada: SignedInCustomer
    eve: SignedInCustomer
    product_id: str
    address_id: str
    cart_id: str
    order_id: str
    payment_id: str
    reference: str
    shipment_id: str

    @property
    def ids(self) -> dict[str, str]:
        return {
            "customer_id": str(self.ada.id),
            "address_id": self.address_id,
            "cart_id": self.cart_id,
            "order_id": self.order_id,
            "payment_id": self.payment_id,
            "shipment_id": self.shipment_id,
            "reference": self.reference,
            "product_id": self.product_id,
            "sku": SKU,
        }

    @property
    def secrets(self) -> set[str]:
        """Everything of Ada's that no answer to Eve may contain."""
        return {*PERSONAL, self.ada.email, *(self.ids[name] for name in OWNED)}

    async def settled(self, timeout_s: float = 20) -> None:
        """Every module's outbox published: consumers have done what the last writes caused."""
        deadline = time.monotonic() + timeout_s
        while True:
            async with self.engine.connect() as conn:
                pending = 0
                for outbox in all_outboxes():
                    pending += int(
                        await conn.scalar(
                            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
                        )
                        or 0
                    )
            if pending == 0:
                return
            assert time.monotonic() < deadline, f"{pending} outbox rows unpublished"
            await asyncio.sleep(0.05)

    async def snapshot(self) -> dict[str, Any]:
        """Ada's objects as their owners (Ada, or staff for the back-office ones) see them."""
        reads = {
            "me": ("/v1/me", self.ada.headers),
            "address": (f"/v1/me/addresses/{self.address_id}", self.ada.headers),
            "cart": (f"/v1/carts/{self.cart_id}", self.ada.headers),
            "order": (f"/v1/orders/{self.order_id}", self.ada.headers),
            "orders": ("/v1/orders", self.ada.headers),
            "payment": (f"/v1/payments/{self.payment_id}", self.staff),
            "reservation": (f"/v1/reservations/{self.reference}", self.staff),
            "shipment": (f"/v1/shipments/{self.shipment_id}", self.staff),
            "product": (f"/v1/admin/products/{self.product_id}", self.staff),
        }
        state: dict[str, Any] = {}
        for name, (path, headers) in reads.items():
            response = await self.http.get(path, headers=headers)
            assert response.status_code == 200, (path, response.text)
            state[name] = response.json()
        # Reading a cart keeps it alive: its expiry moves, nothing else may.
        state["cart"].pop("expires_at")
        async with self.engine.connect() as conn:
            state["order_rows"] = await conn.scalar(select(func.count()).select_from(ordering_tables.orders))
        return state


async def _until(
    what: str, attempt: Callable[[], Awaitable[httpx.Response]], done: Callable[[httpx.Response], bool]
) -> httpx.Response:
    """Repeat ``attempt`` until ``done`` says so (what the relay and the saga do takes a moment)."""
    deadline = time.monotonic() + 20
    while True:
        response = await attempt()
        if done(response):
            return response
        assert time.monotonic() < deadline, (what, response.status_code, response.text)
        await asyncio.sleep(0.05)


def _status(code: int) -> Callable[[httpx.Response], bool]:
    return lambda response: response.status_code == code


async def _arrange(http: httpx.AsyncClient, kit: AuthKit, engine: AsyncEngine) -> World:
    """Ada's things, made the way a shop makes them: through the API."""
    staff = bearer(await kit.staff_token(role="admin"))
    ada = await kit.customer(name="Ada Lovelace")
    eve = await kit.customer(name="Eve")

    product = await http.post(
        "/v1/admin/products",
        json={
            "name": "Sweep mug",
            "status": "published",
            "variants": [{"sku": SKU, "prices": [{"amount": PRICE, "currency": "EUR"}]}],
        },
        headers=staff,
    )
    assert product.status_code == 201, product.text
    warehouse = await http.post("/v1/warehouses", json={"code": WAREHOUSE, "name": "Sweep"}, headers=staff)
    assert warehouse.status_code == 201, warehouse.text
    stock = {"sku": SKU, "warehouse": WAREHOUSE, "delta": 10, "reason": "received"}
    # Inventory learns the SKU from the catalog's event, a moment after the product.
    await _until(
        "stock", lambda: http.post("/v1/inventory/adjustments", json=stock, headers=staff), _status(201)
    )

    address = await http.post("/v1/me/addresses", json=ADDRESS, headers=ada.headers)
    assert address.status_code == 201, address.text
    cart = await http.post("/v1/carts", json={"currency": "EUR"}, headers=ada.headers)
    assert cart.status_code == 201, cart.text
    cart_id = str(cart.json()["id"])
    line = {"sku": SKU, "quantity": 1}
    assert (await http.post(f"/v1/carts/{cart_id}/lines", json=line, headers=ada.headers)).status_code == 200

    placed = await http.post(
        "/v1/checkouts",
        json={"cart_id": cart_id, "email": ada.email, "shipping_address": ADDRESS},
        headers={**ada.headers, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert placed.status_code == 201, placed.text
    order_id = str(placed.json()["id"])

    await _until(
        "order confirmed",
        lambda: http.get(f"/v1/orders/{order_id}", headers=ada.headers),
        lambda r: r.json()["status"] == "confirmed" and r.json()["progress"]["step"] == "done",
    )
    # Fulfilment learns of the order from its confirmation event, a moment later.
    shipment = await _until(
        "shipment",
        lambda: http.post("/v1/shipments", json={"order_id": order_id}, headers=staff),
        _status(201),
    )
    # The checkout emptied the cart; Ada fills it again, so it has something to lose.
    assert (await http.post(f"/v1/carts/{cart_id}/lines", json=line, headers=ada.headers)).status_code == 200

    async with engine.connect() as conn:
        payment = (
            await conn.execute(
                select(payment_tables.payments.c.id, payment_tables.payments.c.reference).where(
                    payment_tables.payments.c.order_id == uuid.UUID(order_id)
                )
            )
        ).one()
    world = World(
        http=http,
        kit=kit,
        engine=engine,
        staff=staff,
        ada=ada,
        eve=eve,
        product_id=str(product.json()["id"]),
        address_id=str(address.json()["id"]),
        cart_id=cart_id,
        order_id=order_id,
        payment_id=str(payment.id),
        reference=str(payment.reference),
        shipment_id=str(shipment.json()["id"]),
    )
    await world.settled()
    return world


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(database_url: str) -> AsyncIterator[World]:
    """The whole app, relay and consumers running, on tables emptied once for this module."""
    settings = Settings(database_url=database_url, relay_poll_interval_s=0.02, log_json=False)
    engine = create_engine(settings, database_url, pool_size=2)
    try:
        await truncate_all(engine)
        async with identity_app(settings, database_url, run_background=True) as (http, kit):
            yield await _arrange(http, kit, engine)
    finally:
        await engine.dispose()


def _owned_routes(world: World) -> list[tuple[str, str]]:
    """(method, path template) of every route whose path names a customer's object."""
    assert world.kit.app is not None
    routes: list[tuple[str, str]] = []
    unknown: set[str] = set()
    for route in iter_route_contexts(world.kit.app.routes):
        path = str(route.path_format)
        params = set(re.findall(r"\{(\w+)\}", path))
        unknown |= params - {*OWNED, *NOT_OWNED}
        if params & set(OWNED):
            routes += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    assert not unknown, f"path parameters neither OWNED nor NOT_OWNED here: {sorted(unknown)}"
    return routes


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)


def _leaks(response: httpx.Response, secrets: set[str], sent: str) -> list[str]:
    return [secret for secret in secrets if secret not in sent and secret in response.text]


class TestAnotherCustomersObjects:
    async def test_every_route_naming_adas_object_hides_it_from_eve_and_changes_nothing(
        self, world: World
    ) -> None:
        routes = _owned_routes(world)
        # The sweep reaches every module that keeps a customer's things.
        assert {path.split("/")[2] for _, path in routes} >= {
            "me",
            "customers",
            "carts",
            "orders",
            "payments",
            "shipments",
            "reservations",
        }
        unsafe_without_body = {r for r in routes if r[0] in UNSAFE} - SWEEP_BODIES.keys()
        assert not unsafe_without_body, f"add these to SWEEP_BODIES: {sorted(unsafe_without_body)}"
        before = await world.snapshot()

        answers: dict[tuple[str, str], int] = {}
        for method, template in routes:
            path = _fill(template, world.ids)
            headers = {**world.eve.headers}
            if method in UNSAFE:
                headers["Idempotency-Key"] = str(uuid.uuid4())
            body = SWEEP_BODIES.get((method, template))
            response = await world.http.request(method, path, json=body, headers=headers)
            answers[method, template] = response.status_code
            assert response.status_code in (403, 404), (method, template, response.status_code, response.text)
            assert response.headers["content-type"].startswith("application/problem+json"), template
            leaked = _leaks(response, world.secrets, path)
            assert not leaked, (method, template, leaked, response.text)

        await world.settled()
        assert await world.snapshot() == before
        # Eve holds the customer scopes, so the customer routes answer as if nothing
        # were there, not "forbidden": a customer cannot even learn that it exists.
        for key in (
            ("GET", "/v1/me/addresses/{address_id}"),
            ("GET", "/v1/carts/{cart_id}"),
            ("GET", "/v1/orders/{order_id}"),
            ("POST", "/v1/orders/{order_id}/cancel"),
            ("GET", "/v1/customers/{customer_id}"),
        ):
            assert answers[key] == 404, (key, answers[key])

    async def test_naming_adas_cart_or_order_in_a_body_is_refused_and_changes_nothing(
        self, world: World
    ) -> None:
        before = await world.snapshot()
        attempts = [
            ("/v1/me/cart/merge", {"guest_cart_id": world.cart_id}),
            (
                "/v1/checkouts",
                {"cart_id": world.cart_id, "email": world.eve.email, "shipping_address": ADDRESS},
            ),
            ("/v1/shipments", {"order_id": world.order_id}),
        ]
        for path, body in attempts:
            headers = {**world.eve.headers, "Idempotency-Key": str(uuid.uuid4())}
            response = await world.http.post(path, json=body, headers=headers)
            assert response.status_code in (403, 404), (path, response.status_code, response.text)
            leaked = _leaks(response, world.secrets - {world.cart_id, world.order_id}, "")
            assert not leaked, (path, leaked)
        await world.settled()
        assert await world.snapshot() == before

    async def test_no_list_or_me_route_shows_eve_anything_of_adas(self, world: World) -> None:
        assert world.kit.app is not None
        lists = [
            str(route.path_format)
            for route in iter_route_contexts(world.kit.app.routes)
            if "GET" in (route.methods or ()) and "{" not in str(route.path_format)
        ]
        assert {"/v1/me", "/v1/me/addresses", "/v1/me/cart", "/v1/orders"} <= set(lists)
        shown = set()
        for path in lists:
            # The owner's id as a filter must not widen what a customer sees either.
            for params in ({}, {"customer_id": str(world.ada.id)}):
                response = await world.http.get(path, params=params, headers=world.eve.headers)
                assert response.status_code < 500, (path, response.text)
                leaked = _leaks(response, world.secrets, "")
                assert not leaked, (path, params, leaked)
                if response.status_code == 200:
                    shown.add(path)
        # Eve's own views answered (empty); she has no cart, so hers is 404.
        assert {"/v1/me", "/v1/me/addresses", "/v1/orders", "/v1/products"} <= shown


class TestReadOnlyFields:
    """Ada, on her own objects, tries to set what only the system or staff may set."""

    async def test_prices_and_owners_of_cart_lines_cannot_be_sent(self, world: World) -> None:
        before = await world.snapshot()
        cart = f"/v1/carts/{world.cart_id}"
        for method, path, body in (
            (
                "POST",
                f"{cart}/lines",
                {"sku": SKU, "quantity": 1, "unit_price": {"amount": "0.01", "currency": "EUR"}},
            ),
            ("POST", f"{cart}/lines", {"sku": SKU, "quantity": 1, "price": "0.01"}),
            ("PUT", f"{cart}/lines/{SKU}", {"quantity": 1, "unit_price": "0.01"}),
            ("PUT", f"{cart}/lines/{SKU}", {"quantity": 1, "status": "ok", "line_total": "0.01"}),
            ("POST", "/v1/carts", {"currency": "EUR", "customer_id": str(world.eve.id)}),
            ("POST", "/v1/carts", {"currency": "EUR", "id": world.cart_id}),
        ):
            response = await world.http.request(method, path, json=body, headers=world.ada.headers)
            assert_problem(response, 422, "validation-error")
        after = await world.snapshot()
        assert after == before
        [line] = after["cart"]["lines"]
        assert line["unit_price"] == {"amount": PRICE, "currency": "EUR"}

    async def test_an_order_cannot_be_placed_or_cancelled_with_a_price_status_or_owner(
        self, world: World
    ) -> None:
        before = await world.snapshot()
        checkout = {"cart_id": world.cart_id, "email": world.ada.email, "shipping_address": ADDRESS}
        for extra in (
            {"total": "0.01"},
            {"subtotal": "0.01"},
            {"lines": [{"sku": SKU, "quantity": 1, "unit_price": "0.01"}]},
            {"status": "confirmed"},
            {"customer_id": str(world.eve.id)},
        ):
            response = await world.http.post(
                "/v1/checkouts",
                json={**checkout, **extra},
                headers={**world.ada.headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert_problem(response, 422, "validation-error")
        for body in ({"status": "refunded"}, {"reason": "x", "refunded": "41.17"}):
            response = await world.http.post(
                f"/v1/orders/{world.order_id}/cancel",
                json=body,
                headers={**world.ada.headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            assert_problem(response, 422, "validation-error")
        # Moving money back is for staff, even on one's own order.
        refund = await world.http.post(
            f"/v1/orders/{world.order_id}/refunds",
            json={"amount": "41.17", "reason": "I would like my money"},
            headers={**world.ada.headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert_problem(refund, 403, "forbidden")
        await world.settled()
        after = await world.snapshot()
        assert after == before
        assert after["order"]["status"] == "confirmed"
        assert after["payment"]["refunded_amount"] in {"0", "0.00"}

    async def test_a_customer_cannot_write_role_scopes_identity_or_an_addresses_owner(
        self, world: World
    ) -> None:
        before = await world.snapshot()
        for body in (
            {"role": "admin"},
            {"scopes": ["catalog:write"]},
            {"kind": "staff"},
            {"id": str(world.eve.id)},
            {"customer_id": str(world.eve.id)},
        ):
            assert_problem(
                await world.http.patch("/v1/me", json=body, headers=world.ada.headers),
                422,
                "validation-error",
            )
        address = f"/v1/me/addresses/{world.address_id}"
        owner_fields: list[dict[str, Any]] = [
            {"customer_id": str(world.eve.id)},
            {"id": str(uuid.uuid4())},
            {"version": 99},
        ]
        for owner_field in owner_fields:
            response = await world.http.patch(address, json=owner_field, headers=world.ada.headers)
            assert_problem(response, 422, "validation-error")
        after = await world.snapshot()
        assert after == before
        assert after["me"]["role"] is None
        assert "catalog:write" not in after["me"]["scopes"]

    async def test_a_customer_cannot_reprice_or_publish_a_product(self, world: World) -> None:
        before = await world.snapshot()
        product = f"/v1/admin/products/{world.product_id}"
        reprice = {"variants": [{"sku": SKU, "prices": [{"amount": "0.01", "currency": "EUR"}]}]}
        for method, path, body in (
            ("PATCH", product, reprice),
            ("POST", f"{product}/archive", None),
            (
                "POST",
                "/v1/products",
                {"name": "Mine", "variants": [{"sku": "EVE-1", "price": {"amount": "1", "currency": "EUR"}}]},
            ),
        ):
            headers = {**world.ada.headers, "If-Match": "*", "Idempotency-Key": str(uuid.uuid4())}
            response = await world.http.request(method, path, json=body, headers=headers)
            assert_problem(response, 403, "forbidden")
        public = await world.http.get(f"/v1/products/{world.product_id}")
        assert public.json()["variants"][0]["price"] == {"amount": PRICE, "currency": "EUR"}
        assert await world.snapshot() == before
