"""Webhook signatures: what the simulator signs, Orderly verifies; anything else is refused."""

from __future__ import annotations

import pytest

from orderly.modules.payments.adapters.webhooks import WebhookRejected, verify_signature
from orderly.paymentsim.signing import signature, signature_header

SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"payment_intent.authorized"}'
NOW = 1_800_000_000


def check(header: str | None, body: bytes = BODY, *, now: int = NOW, secret: str = SECRET) -> None:
    verify_signature(header, body, secret=secret, tolerance_s=300, now=now)


def rejection(header: str | None, body: bytes = BODY, **kw: int | str) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as caught:
        check(header, body, **kw)  # type: ignore[arg-type]
    return caught.value


class TestGenuineDeliveries:
    def test_simulator_signature_verifies(self) -> None:
        check(signature_header(SECRET, BODY, timestamp=NOW))

    def test_signature_within_tolerance_either_side_verifies(self) -> None:
        check(signature_header(SECRET, BODY, timestamp=NOW - 300))
        check(signature_header(SECRET, BODY, timestamp=NOW + 300))

    def test_any_matching_v1_verifies_during_a_secret_rotation(self) -> None:
        old = signature("whsec_old", NOW, BODY)
        new = signature(SECRET, NOW, BODY)
        check(f"t={NOW},v1={old},v1={new}")


class TestRefusedDeliveries:
    def test_tampered_body_is_unauthenticated(self) -> None:
        header = signature_header(SECRET, BODY, timestamp=NOW)
        found = rejection(header, BODY.replace(b"authorized", b"captured"))
        assert (found.status, found.slug) == (401, "webhook-signature-invalid")

    def test_signature_with_another_secret_is_unauthenticated(self) -> None:
        found = rejection(signature_header("whsec_other", BODY, timestamp=NOW))
        assert (found.status, found.slug) == (401, "webhook-signature-invalid")

    def test_timestamp_swapped_after_signing_is_unauthenticated(self) -> None:
        header = signature_header(SECRET, BODY, timestamp=NOW - 10)
        forged = header.replace(f"t={NOW - 10}", f"t={NOW}")
        assert rejection(forged).slug == "webhook-signature-invalid"

    def test_old_signature_is_refused_as_expired(self) -> None:
        found = rejection(signature_header(SECRET, BODY, timestamp=NOW - 301))
        assert (found.status, found.slug) == (401, "webhook-signature-expired")

    @pytest.mark.parametrize(
        "header",
        ["", "garbage", f"t={NOW}", "v1=abcd", f"t=abc,v1={'0' * 64}", f"t={NOW},v1=", f"t=-{NOW},v1=ab"],
    )
    def test_malformed_header_is_a_bad_request(self, header: str) -> None:
        found = rejection(header)
        assert found.status == 400
        assert found.slug in {"webhook-signature-missing", "webhook-signature-malformed"}

    def test_missing_header_is_a_bad_request(self) -> None:
        assert rejection(None).slug == "webhook-signature-missing"
