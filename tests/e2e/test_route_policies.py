"""Who may call which route: one table for every route of the app, checked through HTTP.

``POLICIES`` names the policy of each (method, path) the app serves. A route
missing from it fails ``test_every_route_of_the_app_has_a_policy``, so a new
endpoint cannot ship without someone deciding who may call it; an entry
without a route fails too, so the table never describes an API that is gone.

For every protected route the table is then held against the running app:
no token is 401 with a Bearer challenge, a token that does not verify is 401
``invalid_token``, a token with every scope but the route's is 403
``insufficient_scope``, a token of the wrong kind of caller is 403, and the
right token gets past authorization (whatever the handler then says of the
made-up ids and bodies: 404, 409, 422...). Public routes answer without a
token. The OpenAPI document declares the scheme and the 401/403 answers of
every protected operation.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from orderly.modules.identity.domain.scopes import (
    CUSTOMER_SCOPES,
    KNOWN_SCOPES,
    ROLE_SCOPES,
    SERVICE_SCOPES,
    STAFF_SCOPES,
    Role,
)
from orderly.platform.settings import Settings
from tests.support.auth import AuthKit, bearer, identity_app
from tests.support.http import assert_problem

# One app for the whole module (see the ``caller`` fixture); set on each async class.
ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


@dataclass(frozen=True)
class Public:
    """Anyone, no token. ``client_auth``: an OAuth endpoint that authenticates the client itself."""

    why: str
    client_auth: bool = False


@dataclass(frozen=True)
class Staff:
    """A staff member's or a service's token carrying ``scope``; customers are refused."""

    scope: str


@dataclass(frozen=True)
class Customer:
    """Only a customer's own token, carrying ``scope``; staff and services are refused."""

    scope: str


@dataclass(frozen=True)
class SignedIn:
    """Any valid token (with ``scope`` if set); what it shows is narrowed to the caller's objects."""

    scope: str | None


@dataclass(frozen=True)
class GuestOrCustomer:
    """No token (a guest), or a customer's token carrying ``scope``; staff and services are refused."""

    scope: str


@dataclass(frozen=True)
class TokenOrOrderToken:
    """A token carrying ``scope``, or a guest's ``X-Order-Token`` for that one order."""

    scope: str


Policy = Public | Staff | Customer | SignedIn | GuestOrCustomer | TokenOrOrderToken

STOREFRONT = Public("storefront read: published products and categories")
DOCS = Public("the API description")
PROBE = Public("liveness and readiness probes")
DISCOVERY = Public("OAuth/OIDC discovery and the signing keys verifiers fetch")
SIGN_IN = Public("the sign-in page of the authorization-code flow")
OAUTH_CLIENT = Public("OAuth endpoint: authenticates the client (RFC 6749 section 2.3), not a bearer", True)

POLICIES: dict[tuple[str, str], Policy] = {
    # platform
    ("GET", "/openapi.json"): DOCS,
    ("GET", "/docs"): DOCS,
    ("GET", "/docs/oauth2-redirect"): DOCS,
    ("GET", "/redoc"): DOCS,
    ("GET", "/metrics"): Public("Prometheus scrapes; deployments keep it off the public port"),
    ("GET", "/healthz"): PROBE,
    ("GET", "/readyz"): PROBE,
    # identity
    ("GET", "/.well-known/openid-configuration"): DISCOVERY,
    ("GET", "/.well-known/oauth-authorization-server"): DISCOVERY,
    ("GET", "/oauth/jwks"): DISCOVERY,
    ("GET", "/oauth/authorize"): SIGN_IN,
    ("POST", "/oauth/authorize"): SIGN_IN,
    ("POST", "/oauth/token"): OAUTH_CLIENT,
    ("POST", "/oauth/revoke"): OAUTH_CLIENT,
    ("POST", "/oauth/introspect"): OAUTH_CLIENT,
    ("POST", "/v1/customers"): Public("customer registration"),
    ("GET", "/v1/customers/{customer_id}"): SignedIn(None),
    ("GET", "/v1/me"): SignedIn("me:read"),
    ("PATCH", "/v1/me"): Customer("me:write"),
    ("POST", "/v1/me/password"): SignedIn("me:write"),
    ("GET", "/v1/me/addresses"): Customer("me:read"),
    ("POST", "/v1/me/addresses"): Customer("me:write"),
    ("GET", "/v1/me/addresses/{address_id}"): Customer("me:read"),
    ("PATCH", "/v1/me/addresses/{address_id}"): Customer("me:write"),
    ("DELETE", "/v1/me/addresses/{address_id}"): Customer("me:write"),
    # catalog
    ("GET", "/v1/products"): STOREFRONT,
    ("GET", "/v1/products/by-slug/{slug}"): STOREFRONT,
    ("GET", "/v1/products/{product_id}"): STOREFRONT,
    ("GET", "/v1/categories"): STOREFRONT,
    ("POST", "/v1/products"): Staff("catalog:write"),
    ("POST", "/v1/admin/products"): Staff("catalog:write"),
    ("GET", "/v1/admin/products"): Staff("catalog:read"),
    ("GET", "/v1/admin/products/{product_id}"): Staff("catalog:read"),
    ("PATCH", "/v1/admin/products/{product_id}"): Staff("catalog:write"),
    ("POST", "/v1/admin/products/{product_id}/publish"): Staff("catalog:write"),
    ("POST", "/v1/admin/products/{product_id}/archive"): Staff("catalog:write"),
    ("POST", "/v1/admin/categories"): Staff("catalog:write"),
    ("PATCH", "/v1/admin/categories/{category_id}"): Staff("catalog:write"),
    # inventory
    ("POST", "/v1/warehouses"): Staff("inventory:write"),
    ("GET", "/v1/warehouses"): Staff("inventory:read"),
    ("GET", "/v1/warehouses/{code}"): Staff("inventory:read"),
    ("PATCH", "/v1/warehouses/{code}"): Staff("inventory:write"),
    ("POST", "/v1/inventory/adjustments"): Staff("inventory:write"),
    ("GET", "/v1/inventory/{sku}"): Staff("inventory:read"),
    ("GET", "/v1/inventory/{sku}/movements"): Staff("inventory:read"),
    ("POST", "/v1/reservations"): Staff("inventory:write"),
    ("GET", "/v1/reservations/{reference}"): Staff("inventory:read"),
    ("POST", "/v1/reservations/{reference}/confirm"): Staff("inventory:write"),
    ("POST", "/v1/reservations/{reference}/release"): Staff("inventory:write"),
    # cart
    ("POST", "/v1/carts"): GuestOrCustomer("carts:write"),
    ("GET", "/v1/carts/{cart_id}"): GuestOrCustomer("carts:write"),
    ("PUT", "/v1/carts/{cart_id}/lines/{sku}"): GuestOrCustomer("carts:write"),
    ("POST", "/v1/carts/{cart_id}/lines"): GuestOrCustomer("carts:write"),
    ("DELETE", "/v1/carts/{cart_id}/lines/{sku}"): GuestOrCustomer("carts:write"),
    ("GET", "/v1/me/cart"): Customer("carts:write"),
    ("POST", "/v1/me/cart/merge"): Customer("carts:write"),
    # payments
    ("POST", "/v1/payments/webhooks/sim"): Public("the payment provider: its signature authenticates it"),
    ("GET", "/v1/payments"): Staff("payments:read"),
    ("GET", "/v1/payments/{payment_id}"): Staff("payments:read"),
    ("POST", "/v1/payments/{payment_id}/refunds"): Staff("payments:write"),
    # ordering
    ("POST", "/v1/checkouts"): GuestOrCustomer("orders:write"),
    ("GET", "/v1/orders/{order_id}"): TokenOrOrderToken("orders:read"),
    ("GET", "/v1/orders/{order_id}/history"): TokenOrOrderToken("orders:read"),
    ("GET", "/v1/orders"): SignedIn("orders:read"),
    ("POST", "/v1/orders/{order_id}/cancel"): TokenOrOrderToken("orders:write"),
    ("POST", "/v1/orders/{order_id}/refunds"): Staff("orders:write"),
    # fulfilment
    ("POST", "/v1/shipments"): Staff("orders:write"),
    ("POST", "/v1/shipments/{shipment_id}/ship"): Staff("orders:write"),
    ("POST", "/v1/shipments/{shipment_id}/deliver"): Staff("orders:write"),
    ("GET", "/v1/shipments/{shipment_id}"): Staff("orders:read"),
    ("GET", "/v1/shipments"): Staff("orders:read"),
}

# Made-up but well-formed path values: authorization is decided before any lookup.
PATH_VALUES = {
    "product_id": str(uuid.uuid4()),
    "category_id": str(uuid.uuid4()),
    "customer_id": str(uuid.uuid4()),
    "address_id": str(uuid.uuid4()),
    "order_id": str(uuid.uuid4()),
    "payment_id": str(uuid.uuid4()),
    "shipment_id": str(uuid.uuid4()),
    "slug": "no-such-product",
    "sku": "NO-SUCH-SKU",
    "code": "NO-SUCH-WAREHOUSE",
    "reference": "no-such-reservation",
    "cart_id": "N" * 32,
}
# Routes that look at the caller inside the handler, after FastAPI has parsed
# the body: a body that parses, so that the answer is about the caller.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/checkouts"): {
        "cart_id": "N" * 32,
        "email": "ada@example.com",
        "shipping_address": {
            "recipient": "Ada Lovelace",
            "line1": "12 St James's Square",
            "city": "London",
            "postal_code": "SW1Y 4JH",
            "country": "GB",
        },
    },
    ("POST", "/v1/orders/{order_id}/refunds"): {"amount": "1.00", "reason": "policy check"},
}
PROTECTED = sorted(key for key, policy in POLICIES.items() if not isinstance(policy, Public))
PUBLIC = sorted(key for key, policy in POLICIES.items() if isinstance(policy, Public))
SCOPED = [key for key in PROTECTED if getattr(POLICIES[key], "scope", None) is not None]
# Routes only one kind of caller may use (staff and services, or customers).
ONE_KIND = [key for key in PROTECTED if isinstance(POLICIES[key], Staff | Customer | GuestOrCustomer)]
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
EVERY_SCOPE = frozenset(KNOWN_SCOPES)


def route_table(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves; HEAD goes with GET."""
    served: set[tuple[str, str]] = set()
    for route in iter_route_contexts(app.routes):
        for method in route.methods or ():
            if method != "HEAD":
                served.add((method, str(route.path_format)))
    return served


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)


@dataclass
class Caller:
    """The running app, its client (anonymous unless told), and tokens by kind and scopes."""

    http: httpx.AsyncClient
    kit: AuthKit
    _tokens: dict[tuple[str, frozenset[str]], str] = field(default_factory=dict)

    async def staff(self, scopes: frozenset[str]) -> dict[str, str]:
        if ("staff", scopes) not in self._tokens:
            self._tokens["staff", scopes] = await self.kit.staff_token(scopes=scopes)
        return bearer(self._tokens["staff", scopes])

    async def customer(self, scopes: frozenset[str] = CUSTOMER_SCOPES) -> dict[str, str]:
        if ("customer", scopes) not in self._tokens:
            self._tokens["customer", scopes] = (await self.kit.customer(scopes=scopes)).token
        return bearer(self._tokens["customer", scopes])

    async def call(self, method: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        sent = dict(headers or {})
        body = BODIES.get((method, path))
        if method in UNSAFE:
            sent["Idempotency-Key"] = str(uuid.uuid4())
            if body is None:
                body = {}
        return await self.http.request(method, concrete(path), json=body, headers=sent)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def caller(database_url: str) -> AsyncIterator[Caller]:
    """The whole app (every module), anonymous client; tables as they are."""
    settings = Settings(database_url=database_url, log_json=False)
    async with identity_app(settings, database_url) as (http, kit):
        yield Caller(http=http, kit=kit)


def challenge(response: httpx.Response) -> str:
    return str(response.headers.get("www-authenticate", ""))


def assert_unauthenticated(response: httpx.Response, *, invalid_token: bool) -> None:
    assert_problem(response, 401, "unauthenticated")
    assert challenge(response).startswith('Bearer realm="orderly"'), response.headers
    # RFC 6750 section 3.1: no error code when the request carried no credentials.
    assert ('error="invalid_token"' in challenge(response)) is invalid_token, challenge(response)


def assert_refused(response: httpx.Response, *, scope: str | None = None) -> None:
    assert_problem(response, 403, "forbidden")
    if scope is not None:
        assert 'error="insufficient_scope"' in challenge(response), challenge(response)
        assert f'scope="{scope}"' in challenge(response), challenge(response)


def assert_admitted(response: httpx.Response) -> None:
    assert response.status_code not in (401, 403), (response.request.url, response.status_code, response.text)


@ON_MODULE_LOOP
class TestTheTableCoversTheApp:
    async def test_every_route_of_the_app_has_a_policy(self, caller: Caller) -> None:
        assert caller.kit.app is not None
        missing = route_table(caller.kit.app) - POLICIES.keys()
        assert not missing, f"routes without a policy (add them to POLICIES): {sorted(missing)}"

    async def test_every_policy_names_a_route_the_app_serves(self, caller: Caller) -> None:
        assert caller.kit.app is not None
        stale = POLICIES.keys() - route_table(caller.kit.app)
        assert not stale, f"policies of routes that no longer exist: {sorted(stale)}"


class TestTheTableIsConsistent:
    def test_every_scope_a_route_needs_is_one_identity_grants(self) -> None:
        needed = {
            policy.scope
            for policy in POLICIES.values()
            if not isinstance(policy, Public) and policy.scope is not None
        }
        assert needed <= EVERY_SCOPE, needed - EVERY_SCOPE
        for key, policy in POLICIES.items():
            if isinstance(policy, Staff):
                assert policy.scope in STAFF_SCOPES, key
                assert policy.scope in SERVICE_SCOPES, key
            if isinstance(policy, Customer | GuestOrCustomer):
                assert policy.scope in CUSTOMER_SCOPES, key

    def test_every_path_parameter_has_a_made_up_value(self) -> None:
        named = {name for _, path in POLICIES for name in re.findall(r"\{(\w+)\}", path)}
        assert named <= PATH_VALUES.keys(), named - PATH_VALUES.keys()


def ids(keys: list[tuple[str, str]]) -> list[str]:
    return [f"{method} {path}" for method, path in keys]


@ON_MODULE_LOOP
@pytest.mark.parametrize(("method", "path"), PUBLIC, ids=ids(PUBLIC))
class TestPublicRoutes:
    async def test_answers_without_a_token_and_asks_for_none(
        self, caller: Caller, method: str, path: str
    ) -> None:
        policy = POLICIES[method, path]
        assert isinstance(policy, Public)
        response = await caller.call(method, path)
        assert response.status_code < 500, response.text
        assert not challenge(response).startswith("Bearer"), (policy.why, response.headers)
        if not policy.client_auth:
            assert response.status_code not in (401, 403), (policy.why, response.status_code, response.text)


@ON_MODULE_LOOP
class TestProtectedRoutes:
    @pytest.mark.parametrize(("method", "path"), PROTECTED, ids=ids(PROTECTED))
    async def test_no_token_is_401_with_a_bearer_challenge_unless_guests_may_call(
        self, caller: Caller, method: str, path: str
    ) -> None:
        response = await caller.call(method, path)
        if isinstance(POLICIES[method, path], GuestOrCustomer):
            assert_admitted(response)
        else:
            assert_unauthenticated(response, invalid_token=False)

    @pytest.mark.parametrize(("method", "path"), PROTECTED, ids=ids(PROTECTED))
    async def test_a_token_that_does_not_verify_is_401_invalid_token(
        self, caller: Caller, method: str, path: str
    ) -> None:
        forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0."
        for headers in ({"Authorization": f"Bearer {forged}"}, {"Authorization": "Bearer not-a-jwt"}):
            assert_unauthenticated(await caller.call(method, path, headers), invalid_token=True)

    @pytest.mark.parametrize(("method", "path"), SCOPED, ids=ids(SCOPED))
    async def test_a_token_with_every_scope_but_the_routes_is_403_naming_it(
        self, caller: Caller, method: str, path: str
    ) -> None:
        policy = POLICIES[method, path]
        assert not isinstance(policy, Public)
        assert policy.scope is not None
        if isinstance(policy, Staff):
            headers = await caller.staff(EVERY_SCOPE - {policy.scope})
        else:
            headers = await caller.customer(CUSTOMER_SCOPES - {policy.scope})
        assert_refused(await caller.call(method, path, headers), scope=policy.scope)

    @pytest.mark.parametrize(("method", "path"), ONE_KIND, ids=ids(ONE_KIND))
    async def test_the_wrong_kind_of_caller_is_403(self, caller: Caller, method: str, path: str) -> None:
        if isinstance(POLICIES[method, path], Staff):
            # A customer's token, whatever customer scopes it carries.
            assert_refused(await caller.call(method, path, await caller.customer()))
        else:
            # Staff with every scope still do not act as a customer.
            assert_refused(await caller.call(method, path, await caller.staff(EVERY_SCOPE)))

    @pytest.mark.parametrize(("method", "path"), PROTECTED, ids=ids(PROTECTED))
    async def test_the_right_token_gets_past_authorization(
        self, caller: Caller, method: str, path: str
    ) -> None:
        policy = POLICIES[method, path]
        if isinstance(policy, Staff):
            headers = await caller.staff(frozenset({policy.scope}))
        else:
            headers = await caller.customer()
        assert_admitted(await caller.call(method, path, headers))


@ON_MODULE_LOOP
class TestRolesReachTheirRoutes:
    """The role bundles of identity's scopes.py, through the routes they exist for."""

    @pytest.mark.parametrize(
        ("role", "method", "path", "admitted"),
        [
            ("catalog_manager", "POST", "/v1/admin/products", True),
            ("catalog_manager", "GET", "/v1/admin/products", True),
            ("catalog_manager", "GET", "/v1/warehouses", True),
            ("catalog_manager", "POST", "/v1/inventory/adjustments", False),
            ("catalog_manager", "PATCH", "/v1/warehouses/{code}", False),
            ("inventory_manager", "PATCH", "/v1/warehouses/{code}", True),
            ("inventory_manager", "POST", "/v1/reservations", True),
            ("inventory_manager", "POST", "/v1/admin/products", False),
            ("support", "GET", "/v1/payments/{payment_id}", True),
            ("support", "POST", "/v1/payments/{payment_id}/refunds", False),
            ("support", "PATCH", "/v1/admin/products/{product_id}", False),
            ("admin", "POST", "/v1/payments/{payment_id}/refunds", True),
            ("admin", "POST", "/v1/reservations/{reference}/release", True),
        ],
    )
    async def test_a_staff_role_reaches_what_its_scopes_allow(
        self, caller: Caller, role: str, method: str, path: str, admitted: bool
    ) -> None:
        headers = await caller.staff(ROLE_SCOPES[Role(role)])
        response = await caller.call(method, path, headers)
        if admitted:
            assert_admitted(response)
        else:
            assert_refused(response, scope=_needed(method, path))


def _needed(method: str, path: str) -> str:
    policy = POLICIES[method, path]
    assert isinstance(policy, Staff)
    return policy.scope


@ON_MODULE_LOOP
class TestOpenApiDeclaresIt:
    @pytest.fixture
    def operations(self, caller: Caller) -> dict[tuple[str, str], dict[str, Any]]:
        assert caller.kit.app is not None
        schema = caller.kit.app.openapi()
        return {
            (method.upper(), path): operation
            for path, item in schema["paths"].items()
            for method, operation in item.items()
        }

    async def test_the_bearer_scheme_is_declared(self, caller: Caller) -> None:
        assert caller.kit.app is not None
        schemes = caller.kit.app.openapi()["components"]["securitySchemes"]
        assert schemes["HTTPBearer"]["type"] == "http"
        assert schemes["HTTPBearer"]["scheme"] == "bearer"
        assert schemes["HTTPBearer"]["bearerFormat"] == "JWT"

    async def test_every_protected_operation_names_the_scheme_and_its_401_and_403(
        self, operations: dict[tuple[str, str], dict[str, Any]]
    ) -> None:
        undocumented = []
        for key in PROTECTED:
            operation = operations[key]
            if {"HTTPBearer": []} not in operation.get("security", []):
                undocumented.append((key, "security"))
            undocumented += [
                (key, status) for status in ("401", "403") if status not in operation["responses"]
            ]
        assert not undocumented, undocumented

    async def test_the_403_of_a_back_office_route_names_its_scope(
        self, operations: dict[tuple[str, str], dict[str, Any]]
    ) -> None:
        # The catalog's, inventory's and payments' staff routes.
        prefixes = ("/v1/admin/", "/v1/products", "/v1/warehouses", "/v1/inventory/", "/v1/reservations")
        checked = 0
        for (method, path), policy in POLICIES.items():
            if isinstance(policy, Staff) and path.startswith((*prefixes, "/v1/payments")):
                description = operations[method, path]["responses"]["403"]["description"]
                assert f"`{policy.scope}`" in description, (method, path, description)
                checked += 1
        assert checked == 23

    async def test_routes_that_serve_guests_say_a_token_is_optional(
        self, operations: dict[tuple[str, str], dict[str, Any]]
    ) -> None:
        # Found by tests/e2e/test_api_contract.py: guest routes were documented as
        # refusing requests without a token. `{}` is OpenAPI's "no credentials".
        for key in PROTECTED:
            guests = isinstance(POLICIES[key], GuestOrCustomer | TokenOrOrderToken)
            assert ({} in operations[key]["security"]) is guests, key

    async def test_storefront_reads_ask_for_no_token(
        self, operations: dict[tuple[str, str], dict[str, Any]]
    ) -> None:
        for key, policy in POLICIES.items():
            if policy is STOREFRONT:
                assert "security" not in operations[key], key


@ON_MODULE_LOOP
class TestColdStart:
    async def test_a_burst_of_valid_tokens_on_a_fresh_app_is_all_admitted(
        self, settings: Settings, database_url: str
    ) -> None:
        async with identity_app(settings, database_url) as (http, kit):
            headers = bearer(await kit.staff_token(scopes={"inventory:read"}))
            answers = await asyncio.gather(*(http.get("/v1/warehouses", headers=headers) for _ in range(20)))
        assert [a.status_code for a in answers] == [200] * 20
