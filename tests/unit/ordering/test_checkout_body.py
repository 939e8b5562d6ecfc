"""The checkout body says where the order goes exactly one way: a typed address or a saved one's id."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from orderly.modules.ordering.adapters.schemas import CheckoutIn

ADDRESS = {
    "recipient": "Ada Lovelace",
    "line1": "Unter den Linden 1",
    "city": "Berlin",
    "postal_code": "10117",
    "country": "DE",
}


def errors(body: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as raised:
        CheckoutIn.model_validate(body)
    return [(error["loc"], error["msg"]) for error in raised.value.errors()]


class TestWhereTheOrderGoes:
    def test_both_a_typed_address_and_a_saved_ones_id_is_refused(self) -> None:
        body = {"cart_id": "c", "shipping_address": ADDRESS, "shipping_address_id": str(uuid.uuid4())}
        assert errors(body) == [
            (("shipping_address",), "send shipping_address or shipping_address_id, not both")
        ]

    def test_neither_is_refused(self) -> None:
        assert errors({"cart_id": "c", "email": "ada@example.com"}) == [
            (("shipping_address",), "send shipping_address, or shipping_address_id for a saved address")
        ]

    def test_a_malformed_id_is_blamed_on_the_id_alone(self) -> None:
        [(loc, _)] = errors({"cart_id": "c", "shipping_address_id": "not-a-uuid"})
        assert loc == ("shipping_address_id",)

    def test_either_one_alone_is_accepted_and_email_may_be_left_out(self) -> None:
        typed = CheckoutIn.model_validate({"cart_id": "c", "shipping_address": ADDRESS})
        assert (typed.shipping_address_id, typed.email) == (None, None)
        address_id = uuid.uuid4()
        saved = CheckoutIn.model_validate({"cart_id": "c", "shipping_address_id": str(address_id)})
        assert (saved.shipping_address, saved.shipping_address_id) == (None, address_id)
