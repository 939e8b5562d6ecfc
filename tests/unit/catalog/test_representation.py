"""The JSON documents the read path builds match the schemas the OpenAPI document declares."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import orjson

from orderly.modules.catalog.adapters.representation import page_json, product_json
from orderly.modules.catalog.adapters.schemas import ProductOut, ProductPageOut
from orderly.modules.catalog.application.queries import PriceView, ProductView, VariantView
from orderly.modules.catalog.domain.product import ProductStatus


def _view() -> ProductView:
    now = datetime.now(UTC)
    return ProductView(
        id=uuid.uuid4(),
        slug="mug",
        name="Mug",
        description="",
        status=ProductStatus.PUBLISHED,
        version=3,
        created_at=now,
        updated_at=now,
        published_at=now,
        category_ids=[uuid.uuid4()],
        variants=[
            VariantView(
                sku="MUG-S",
                attributes={"size": "S"},
                prices=[PriceView(Decimal("12.5000"), "EUR"), PriceView(Decimal("1500.0000"), "JPY")],
                available=3,
            ),
            VariantView(sku="MUG-L", attributes={"size": "L"}, prices=[PriceView(Decimal("14"), "EUR")]),
        ],
    )


class TestDocuments:
    def test_a_storefront_product_matches_its_schema_with_amounts_in_minor_units(self) -> None:
        document = orjson.loads(product_json(_view(), staff=False))
        parsed = ProductOut.model_validate(document)
        assert [(p.amount, p.currency) for p in parsed.variants[0].prices] == [
            ("12.50", "EUR"),
            ("1500", "JPY"),
        ]
        assert parsed.variants[0].price.amount == "12.50"
        assert [v.availability for v in parsed.variants] == ["low", "out_of_stock"]
        assert parsed.availability == "low"
        assert "available" not in document["variants"][0]

    def test_staff_see_the_units_available(self) -> None:
        document = orjson.loads(product_json(_view(), staff=True))
        assert [v["available"] for v in document["variants"]] == [3, None]

    def test_a_page_matches_its_schema(self) -> None:
        ProductPageOut.model_validate(orjson.loads(page_json([_view()], "abc.def", staff=False)))
