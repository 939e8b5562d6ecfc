"""Bad input through HTTP: a 4xx problem document that names the field, never a
500, and not one row written anywhere (catalog tables, outboxes, projections)."""

from __future__ import annotations

import base64
import copy
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support.http import (
    assert_problem,
    invalid_field_names,
    product_body,
    writes_nothing,
)

# One app and engine for the whole module (see conftest): each case checks
# that its own request changed no row count, so they need no clean slate.
pytestmark = pytest.mark.asyncio(loop_scope="module")

Body = dict[str, Any]
JSON = {"content-type": "application/json"}


def _set(path: str, value: Any) -> Callable[[Body], Body]:
    """A body with the value at a dotted path replaced (``variants.0.price.amount``)."""

    def mutate(body: Body) -> Body:
        body = copy.deepcopy(body)
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value
        return body

    return mutate


def _drop(path: str) -> Callable[[Body], Body]:
    def mutate(body: Body) -> Body:
        body = copy.deepcopy(body)
        *parents, last = path.split(".")
        node: Any = body
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]
        return body

    return mutate


def _amount(value: Any, currency: str = "EUR") -> Callable[[Body], Body]:
    return _set("variants.0.price", {"amount": value, "currency": currency})


def _currency(value: Any) -> Callable[[Body], Body]:
    return _set("variants.0.price.currency", value)


def _cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


AMOUNT = "variants.0.price.amount"
CURRENCY = "variants.0.price.currency"

# (mutation of a valid body, the field the problem must name)
INVALID_BODIES = [
    # wrong types
    pytest.param(_set("name", 123), "name", id="name-is-a-number"),
    pytest.param(_set("name", None), "name", id="name-is-null"),
    pytest.param(_set("description", ["a"]), "description", id="description-is-a-list"),
    pytest.param(_set("variants", {"sku": "MUG-1"}), "variants", id="variants-is-an-object"),
    pytest.param(_set("variants.0.sku", 17), "variants.0.sku", id="sku-is-a-number"),
    pytest.param(_set("variants.0.price", "12.50 EUR"), "variants.0.price", id="price-is-a-string"),
    pytest.param(_currency(978), CURRENCY, id="currency-is-its-numeric-code"),
    # missing or empty
    pytest.param(_drop("name"), "name", id="name-missing"),
    pytest.param(_drop("variants"), "variants", id="variants-missing"),
    pytest.param(_set("variants", []), "variants", id="variants-empty"),
    pytest.param(_drop("variants.0.price.currency"), CURRENCY, id="currency-missing"),
    # unknown fields, at every level
    pytest.param(_set("colour", "red"), "colour", id="unknown-top-level-field"),
    pytest.param(_set("variants.0.stock", 5), "variants.0.stock", id="unknown-variant-field"),
    pytest.param(_set("variants.0.price.tax", "0.20"), "variants.0.price.tax", id="unknown-price-field"),
    pytest.param(_set("id", str(uuid.uuid4())), "id", id="client-chosen-id"),
    # amounts: decimal strings only, never negative, never a JSON number
    pytest.param(_amount("-1.00"), AMOUNT, id="negative-price"),
    pytest.param(_amount("-0"), AMOUNT, id="negative-zero-price"),
    pytest.param(_amount("twelve"), AMOUNT, id="non-numeric-price"),
    pytest.param(_amount("12,50"), AMOUNT, id="decimal-comma"),
    pytest.param(_amount("1e3"), AMOUNT, id="exponent-notation"),
    pytest.param(_amount("NaN"), AMOUNT, id="nan"),
    pytest.param(_amount("Infinity"), AMOUNT, id="infinity"),
    pytest.param(_amount("+12.50"), AMOUNT, id="explicit-plus"),
    pytest.param(_amount("012.50"), AMOUNT, id="leading-zero"),
    pytest.param(_amount(" 12.50"), AMOUNT, id="surrounding-space"),
    pytest.param(_amount(""), AMOUNT, id="empty-amount"),
    pytest.param(_amount("12345678901234567"), AMOUNT, id="beyond-the-column-range"),
    pytest.param(_amount(12.5), AMOUNT, id="price-as-json-number"),
    pytest.param(_amount(12), AMOUNT, id="price-as-json-integer"),
    pytest.param(_amount("12.345", "EUR"), AMOUNT, id="eur-with-3-decimals"),
    pytest.param(_amount("100.5", "JPY"), AMOUNT, id="jpy-with-1-decimal"),
    pytest.param(_amount("1.2345", "BHD"), AMOUNT, id="bhd-with-4-decimals"),
    # currencies: ISO 4217 codes of money a shop can charge in
    pytest.param(_currency("EUR1"), CURRENCY, id="currency-EUR1"),
    pytest.param(_currency("ABC"), CURRENCY, id="currency-ABC"),
    pytest.param(_currency("XXX"), CURRENCY, id="currency-XXX-no-currency"),
    pytest.param(_currency("XAU"), CURRENCY, id="currency-XAU-gold"),
    pytest.param(_currency("XTS"), CURRENCY, id="currency-XTS-testing"),
    pytest.param(_currency("eur"), CURRENCY, id="currency-lower-case"),
    pytest.param(_currency("EU"), CURRENCY, id="currency-too-short"),
    pytest.param(_currency(""), CURRENCY, id="currency-empty"),
    # strings PostgreSQL cannot store, or that break the SKU rules
    pytest.param(_set("name", "Mug\x00"), "name", id="nul-in-name"),
    pytest.param(_set("description", "\x00"), "description", id="nul-in-description"),
    pytest.param(_set("variants.0.sku", "MUG\x001"), "variants.0.sku", id="nul-in-sku"),
    pytest.param(_set("variants.0.sku", "MUG 1"), "variants.0.sku", id="space-in-sku"),
    pytest.param(_set("variants.0.sku", "MUG-1\n"), "variants.0.sku", id="newline-after-sku"),
    pytest.param(_set("variants.0.sku", ""), "variants.0.sku", id="empty-sku"),
    pytest.param(_set("variants.0.sku", "S" * 65), "variants.0.sku", id="sku-too-long"),
    pytest.param(_set("name", "n" * 201), "name", id="name-too-long"),
    pytest.param(_set("description", "d" * 10_001), "description", id="description-too-long"),
    pytest.param(
        _set(
            "variants", [{"sku": f"S-{i}", "price": {"amount": "1", "currency": "EUR"}} for i in range(101)]
        ),
        "variants",
        id="too-many-variants",
    ),
]


class TestCreateProductRefusesInvalidBodies:
    @pytest.mark.parametrize(("mutate", "field"), INVALID_BODIES)
    async def test_an_invalid_body_is_a_422_naming_the_field_and_writes_nothing(
        self,
        shared_client: httpx.AsyncClient,
        shared_engine: AsyncEngine,
        mutate: Callable[[Body], Body],
        field: str,
    ) -> None:
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/products", json=mutate(product_body()))
        problem = assert_problem(response, 422, "validation-error")
        assert field in invalid_field_names(problem), problem
        assert all(error["location"] == "body" for error in problem["errors"]), problem

    @pytest.mark.parametrize("body", [[], "Mug", 42, None], ids=["list", "string", "number", "null"])
    async def test_a_body_that_is_not_an_object_is_a_422(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine, body: Any
    ) -> None:
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/products", json=body)
        problem = assert_problem(response, 422, "validation-error")
        assert invalid_field_names(problem) == {"body"}

    async def test_a_blank_name_is_refused_by_the_domain_naming_it(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine
    ) -> None:
        # The edge accepts "   " as a string of length 3; the product's own rule
        # (names are stripped, then must not be empty) refuses it.
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/products", json=product_body(name="   "))
        problem = assert_problem(response, 422, "invalid-input")
        assert invalid_field_names(problem) == {"name"}

    async def test_the_same_sku_twice_in_one_product_is_a_422_naming_the_repeat(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine
    ) -> None:
        price = {"amount": "1.00", "currency": "EUR"}
        body = product_body(variants=[{"sku": "MUG-1", "price": price}, {"sku": "MUG-1", "price": price}])
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/products", json=body)
        problem = assert_problem(response, 422, "invalid-input")
        assert invalid_field_names(problem) == {"variants.1.sku"}
        assert problem["sku"] == "MUG-1"


class TestCreateProductRefusesUnreadableBodies:
    @pytest.mark.parametrize(
        "raw",
        [
            pytest.param(b'{"name": "Mug",', id="truncated"),
            pytest.param(b"{'name': 'Mug'}", id="single-quotes"),
            pytest.param(b'{"name": "Mug",}', id="trailing-comma"),
            pytest.param(b"name=Mug", id="form-encoded"),
            pytest.param(b'{"name": "\xff\xfe"}', id="invalid-utf8"),
            pytest.param(b"[" * 100_000, id="nesting-beyond-the-parser"),
            pytest.param(b'{"name": ' + b"9" * 5000 + b"}", id="integer-beyond-the-parser"),
        ],
    )
    async def test_a_body_that_is_not_json_is_a_400_malformed_json(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine, raw: bytes
    ) -> None:
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/products", content=raw, headers=JSON)
        assert_problem(response, 400, "malformed-json")

    async def test_an_empty_body_is_a_422_naming_the_body(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine
    ) -> None:
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/products", content=b"", headers=JSON)
        problem = assert_problem(response, 422, "validation-error")
        assert invalid_field_names(problem) == {"body"}

    async def test_json_sent_as_plain_text_is_refused(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine
    ) -> None:
        async with writes_nothing(shared_engine):
            response = await shared_client.post(
                "/v1/products",
                content=httpx.Request("POST", "/", json=product_body()).content,
                headers={"content-type": "text/plain"},
            )
        assert_problem(response, 422, "validation-error")


class TestCreateProductRefusesHugeBodies:
    TEN_MB = 10 * 1024 * 1024

    async def test_a_10_mb_body_with_its_length_declared_is_a_413(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine
    ) -> None:
        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/products", content=b" " * self.TEN_MB, headers=JSON)
        assert_problem(response, 413, "payload-too-large")

    async def test_a_10_mb_body_streamed_without_a_length_is_a_413(
        self, shared_client: httpx.AsyncClient, shared_engine: AsyncEngine
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            # A valid JSON object whose name alone is 10 MB.
            yield b'{"name": "'
            for _ in range(10):
                yield b"m" * (1024 * 1024)
            yield b'", "variants": []}'

        async with writes_nothing(shared_engine):
            response = await shared_client.post("/v1/products", content=chunks(), headers=JSON)
        assert "content-length" not in response.request.headers
        assert_problem(response, 413, "payload-too-large")


class TestReadingAProductRefusesBadIds:
    @pytest.mark.parametrize(
        "product_id",
        ["99999999999999999999999", "18446744073709551616", "-1", "0", "not-a-uuid", "%00", "1;DROP TABLE x"],
    )
    async def test_an_id_that_is_not_a_uuid_is_a_422_naming_the_path_parameter(
        self, shared_client: httpx.AsyncClient, product_id: str
    ) -> None:
        response = await shared_client.get(f"/v1/products/{product_id}")
        problem = assert_problem(response, 422, "validation-error")
        assert problem["errors"] == [
            {"name": "product_id", "reason": problem["errors"][0]["reason"], "location": "path"}
        ]

    async def test_an_unknown_product_is_a_404(self, shared_client: httpx.AsyncClient) -> None:
        unknown = uuid.uuid4()
        problem = assert_problem(await shared_client.get(f"/v1/products/{unknown}"), 404, "not-found")
        assert problem["product_id"] == str(unknown)


class TestListingRefusesBadPaging:
    @pytest.mark.parametrize("limit", ["0", "-1", "101", "abc", "1.5", "99999999999999999999999", ""])
    async def test_a_limit_out_of_range_is_a_422_naming_it(
        self, shared_client: httpx.AsyncClient, limit: str
    ) -> None:
        problem = assert_problem(
            await shared_client.get("/v1/products", params={"limit": limit}), 422, "validation-error"
        )
        assert problem["errors"][0]["name"] == "limit"
        assert problem["errors"][0]["location"] == "query"

    @pytest.mark.parametrize(
        "cursor",
        [
            pytest.param("garbage", id="garbage"),
            pytest.param(_cursor({"v": 1, "after": "evil"}), id="tampered-position"),
            pytest.param(_cursor({"v": 99, "after": str(uuid.uuid4())}), id="tampered-version"),
            pytest.param("é", id="not-ascii"),
        ],
    )
    async def test_a_cursor_this_api_did_not_issue_is_a_422_naming_it(
        self, shared_client: httpx.AsyncClient, cursor: str
    ) -> None:
        problem = assert_problem(
            await shared_client.get("/v1/products", params={"cursor": cursor}), 422, "invalid-input"
        )
        assert problem["errors"] == [
            {"name": "cursor", "reason": "the cursor is not one this API issued", "location": "query"}
        ]

    async def test_an_overlong_cursor_is_a_422_naming_it(self, shared_client: httpx.AsyncClient) -> None:
        problem = assert_problem(
            await shared_client.get("/v1/products", params={"cursor": "A" * 513}), 422, "validation-error"
        )
        assert invalid_field_names(problem) == {"cursor"}
