"""Rate limits without Redis: which policy a request spends, the settings that shape it,
and the fields it answers with."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

from orderly.platform.ratelimit import Decision, PolicyTable, Quota
from orderly.platform.ratelimit.clients import bucket_key
from orderly.platform.ratelimit.headers import limit_field, policy_field, rate_limit_headers
from orderly.platform.ratelimit.middleware import OperationTable
from orderly.platform.ratelimit.openapi import document_rate_limits
from orderly.platform.ratelimit.policy import Policy
from orderly.platform.settings import Settings, SettingsError, load_settings


def table(**settings: Any) -> PolicyTable:
    return PolicyTable.from_settings(Settings(**settings))


def name_of(policies: PolicyTable, method: str, route: str) -> str | None:
    policy = policies.policy(method, route)
    return None if policy is None else policy.name


class TestPolicySelection:
    def test_reads_spend_the_read_quota(self) -> None:
        policy = table().policy("GET", "/v1/products/{product_id}")

        assert policy == Policy("read", Quota(limit=600, window_s=60))

    @pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
    def test_unsafe_methods_spend_the_stricter_write_quota(self, method: str) -> None:
        policy = table().policy(method, "/v1/carts/{cart_id}/lines/{sku}")

        assert policy == Policy("write", Quota(limit=120, window_s=60))

    def test_checkout_has_the_strictest_quota(self) -> None:
        assert table().policy("POST", "/v1/checkouts") == Policy("checkout", Quota(limit=10, window_s=60))

    @pytest.mark.parametrize(
        "route", ["/oauth/authorize", "/oauth/token", "/oauth/revoke", "/oauth/introspect", "/v1/customers"]
    )
    def test_sign_in_tokens_and_registration_spend_the_auth_quota(self, route: str) -> None:
        assert table().policy("POST", route) == Policy("auth", Quota(limit=60, window_s=60))

    def test_the_sign_in_page_itself_is_a_read(self) -> None:
        assert name_of(table(), "GET", "/oauth/authorize") == "read"

    @pytest.mark.parametrize("route", ["/healthz", "/readyz", "/metrics"])
    def test_probes_and_metrics_are_never_limited_whatever_the_settings_say(self, route: str) -> None:
        policies = table(rate_limit_routes={f"GET {route}": "read"})

        assert policies.policy("GET", route) is None

    def test_the_payment_providers_webhooks_are_not_limited(self) -> None:
        assert table().policy("POST", "/v1/payments/webhooks/sim") is None

    def test_settings_move_a_route_to_another_class_or_out_of_every_class(self) -> None:
        policies = table(
            rate_limit_routes={"POST /v1/orders/{order_id}/cancel": "checkout", "GET /v1/me": "none"}
        )

        assert name_of(policies, "POST", "/v1/orders/{order_id}/cancel") == "checkout"
        assert policies.policy("GET", "/v1/me") is None
        assert name_of(policies, "POST", "/v1/checkouts") == "checkout"

    def test_settings_can_limit_what_the_built_in_table_leaves_out(self) -> None:
        policies = table(rate_limit_routes={"POST /v1/payments/webhooks/sim": "write"})

        assert name_of(policies, "POST", "/v1/payments/webhooks/sim") == "write"

    def test_each_class_takes_its_quota_from_the_settings(self) -> None:
        policies = table(
            rate_limit_read={"limit": 5, "window_s": 2},
            rate_limit_write={"limit": 4, "window_s": 3},
            rate_limit_checkout={"limit": 3, "window_s": 4},
            rate_limit_auth={"limit": 2, "window_s": 5},
        )

        assert policies.policy("GET", "/v1/products") == Policy("read", Quota(5, 2))
        assert policies.policy("DELETE", "/v1/me/addresses/{address_id}") == Policy("write", Quota(4, 3))
        assert policies.policy("POST", "/v1/checkouts") == Policy("checkout", Quota(3, 4))
        assert policies.policy("POST", "/oauth/token") == Policy("auth", Quota(2, 5))


class TestSettings:
    def test_limits_are_on_by_default(self) -> None:
        # Read from the field: the test suite turns limits off in its environment.
        assert Settings.model_fields["rate_limit_enabled"].default is True

    @pytest.mark.parametrize("operation", ["post /v1/checkouts", "POST v1/checkouts", "/v1/checkouts", "GET"])
    def test_a_route_must_be_named_as_method_and_template(self, operation: str) -> None:
        with pytest.raises(SettingsError, match="ORDERLY_RATE_LIMIT_ROUTES"):
            load_settings(rate_limit_routes={operation: "write"})

    def test_a_route_can_only_move_to_a_known_class(self) -> None:
        with pytest.raises(SettingsError, match="ORDERLY_RATE_LIMIT_ROUTES"):
            load_settings(rate_limit_routes={"POST /v1/checkouts": "gentle"})

    @pytest.mark.parametrize(
        "quota", [{"limit": 0, "window_s": 60}, {"limit": 10, "window_s": 0}, {"limit": 10}, {"per": 60}]
    )
    def test_a_quota_needs_a_positive_limit_and_window(self, quota: dict[str, int]) -> None:
        with pytest.raises(SettingsError, match="ORDERLY_RATE_LIMIT_CHECKOUT"):
            load_settings(rate_limit_checkout=quota)

    @pytest.mark.parametrize(
        ("name", "value"), [("rate_limit_redis_budget_s", 0), ("rate_limit_redis_budget_s", 6)]
    )
    def test_the_redis_budget_is_small_and_positive(self, name: str, value: float) -> None:
        with pytest.raises(SettingsError, match=f"ORDERLY_{name.upper()}"):
            load_settings(**{name: value})


def _app() -> FastAPI:
    app = FastAPI()
    products = APIRouter(prefix="/v1/products")

    @products.get("")
    async def listing() -> None: ...

    @products.get("/by-slug/{slug}")
    async def by_slug(slug: str) -> None: ...

    @products.get("/{product_id}")
    async def one(product_id: str) -> None: ...

    @products.patch("/{product_id}")
    async def change(product_id: str) -> None: ...

    @app.get("/healthz")
    async def health() -> None: ...

    app.include_router(products)
    return app


def _scope(method: str, path: str, root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": root_path + path, "root_path": root_path}


class TestOperationTable:
    @pytest.fixture
    def operations(self) -> OperationTable:
        return OperationTable(_app().router.routes, table())

    @pytest.mark.parametrize(
        ("method", "path", "operation"),
        [
            ("GET", "/v1/products", "GET /v1/products"),
            ("GET", "/v1/products/by-slug/mug", "GET /v1/products/by-slug/{slug}"),
            ("GET", "/v1/products/0190a1b2", "GET /v1/products/{product_id}"),
            ("PATCH", "/v1/products/0190a1b2", "PATCH /v1/products/{product_id}"),
        ],
    )
    def test_a_request_finds_its_route_template_through_included_routers(
        self, operations: OperationTable, method: str, path: str, operation: str
    ) -> None:
        found = operations.lookup(_scope(method, path))

        assert found is not None
        assert found.operation == operation

    def test_the_mount_path_of_the_app_is_not_part_of_the_template(self, operations: OperationTable) -> None:
        found = operations.lookup(_scope("GET", "/v1/products/x", root_path="/shop"))

        assert found is not None
        assert found.operation == "GET /v1/products/{product_id}"

    @pytest.mark.parametrize(
        ("method", "path"), [("GET", "/nowhere"), ("DELETE", "/v1/products/x"), ("GET", "/healthz")]
    )
    def test_unrouted_requests_and_probes_are_not_limited(
        self, operations: OperationTable, method: str, path: str
    ) -> None:
        assert operations.lookup(_scope(method, path)) is None


class TestBucketKeys:
    def test_one_bucket_per_client_and_operation(self) -> None:
        keys = {
            bucket_key("read", operation, client)
            for operation in ("GET /v1/products", "GET /v1/products/{product_id}")
            for client in ("address:10.0.0.1", "address:10.0.0.2", "token:web:0190")
        }

        assert len(keys) == 6

    def test_a_key_carries_no_client_data_and_no_hash_tag(self) -> None:
        key = bucket_key("read", "GET /v1/products/{product_id}", "address:10.0.0.1")

        assert key.startswith("read:")
        assert "10.0.0.1" not in key
        assert "{" not in key


class TestHeaders:
    POLICY = Policy("read", Quota(limit=600, window_s=60))

    def test_the_policy_field_names_the_quota_and_its_window(self) -> None:
        assert policy_field(self.POLICY) == '"read";q=600;w=60'

    def test_the_limit_field_says_what_is_left_and_when_more_comes_free(self) -> None:
        decision = Decision(admitted=True, remaining=599, wait_s=0.1)

        assert limit_field(self.POLICY, decision) == '"read";r=599;t=1'

    @pytest.mark.parametrize(("wait_s", "seconds"), [(0.001, 1), (1.0, 1), (1.2, 2), (59.5, 60)])
    def test_waits_round_up_to_whole_seconds(self, wait_s: float, seconds: int) -> None:
        assert Decision(admitted=False, remaining=0, wait_s=wait_s).wait_whole_s == seconds

    def test_a_refusal_says_none_left_until_its_retry_after(self) -> None:
        headers = rate_limit_headers(self.POLICY, Decision(admitted=False, remaining=0, wait_s=2.5))

        assert headers == {
            "RateLimit-Policy": '"read";q=600;w=60',
            "RateLimit": '"read";r=0;t=3',
            "Retry-After": "3",
        }

    def test_an_admitted_request_has_no_retry_after(self) -> None:
        headers = rate_limit_headers(self.POLICY, Decision(admitted=True, remaining=3, wait_s=0.1))

        assert set(headers) == {"RateLimit-Policy", "RateLimit"}

    def test_without_redis_only_the_policy_is_known(self) -> None:
        assert rate_limit_headers(self.POLICY, None) == {"RateLimit-Policy": '"read";q=600;w=60'}


class TestOpenApi:
    def test_every_limited_operation_declares_its_429_and_policy(self) -> None:
        app = _app()
        document_rate_limits(app, table(rate_limit_routes={"PATCH /v1/products/{product_id}": "none"}))

        paths = app.openapi()["paths"]

        answer = paths["/v1/products/{product_id}"]["get"]["responses"]["429"]
        assert '"read" (600 per 60 s)' in answer["description"]
        assert set(answer["headers"]) == {"Retry-After", "RateLimit-Policy", "RateLimit"}
        assert "application/problem+json" in answer["content"]
        assert "429" not in paths["/v1/products/{product_id}"]["patch"]["responses"]
        assert "429" not in paths["/healthz"]["get"]["responses"]
