"""The payments REST endpoints: staff/ops reads and refunds, and the provider's webhooks.

Staff and services read payments with ``payments:read`` and refund with
``payments:write``. The provider's webhook carries no token: its signature
is what authenticates it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from orderly.modules.payments.adapters.queries import SqlPaymentQueries, result_of
from orderly.modules.payments.adapters.webhooks import (
    SIGNATURE_HEADER,
    WebhookRejected,
    parse_event,
    verify_signature,
)
from orderly.modules.payments.api import PaymentProviderUnavailable, PaymentResult, RefundResult
from orderly.modules.payments.application.commands import RefundPayment
from orderly.modules.payments.application.handlers import UowFactory, apply_provider_event, refund_payment
from orderly.modules.payments.application.ports import DuplicateDelivery, PaymentProvider
from orderly.platform.auth import requires
from orderly.platform.http.problems import problem_response, problem_responses, scope_problems
from orderly.shared_kernel.errors import NotFound

log = structlog.get_logger(module="payments.http")

AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?$"
RETRY_AFTER_S = 5
PAYMENTS_READ = "payments:read"
PAYMENTS_WRITE = "payments:write"


class RefundIn(BaseModel):
    """A refund of part or all of the captured amount, in the payment's currency."""

    model_config = ConfigDict(extra="forbid")

    amount: Annotated[str, StringConstraints(pattern=AMOUNT_PATTERN)] = Field(
        description='Decimal string, never a number: `"5.00"`.', examples=["5.00"]
    )


class RefundOut(BaseModel):
    id: uuid.UUID
    reference: str = Field(description="The Idempotency-Key the refund was requested with.")
    amount: str
    currency: str
    status: str = Field(description="requested | succeeded | failed")


class PaymentOut(BaseModel):
    id: uuid.UUID
    reference: str
    order_id: uuid.UUID
    status: str = Field(
        description="pending | authorized | failed | voided | captured | partially_refunded | refunded"
    )
    amount: str
    currency: str
    captured_amount: str
    refunded_amount: str
    failure_reason: str | None = Field(description="declined | error | timeout, when failed.")
    decline_code: str | None
    refunds: list[RefundOut]


class PaymentListOut(BaseModel):
    items: list[PaymentOut] = Field(description="Oldest first; an order normally has one payment.")


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool = Field(description="True when this event had been applied already; nothing changed.")


def _refund_out(refund: RefundResult) -> RefundOut:
    return RefundOut(
        id=refund.refund_id,
        reference=refund.refund_reference,
        amount=str(refund.amount),
        currency=refund.currency,
        status=refund.status,
    )


def _payment_out(payment: PaymentResult) -> PaymentOut:
    return PaymentOut(
        id=payment.payment_id,
        reference=payment.payment_reference,
        order_id=payment.order_id,
        status=payment.status,
        amount=str(payment.amount),
        currency=payment.currency,
        captured_amount=str(payment.captured_amount),
        refunded_amount=str(payment.refunded_amount),
        failure_reason=payment.failure_reason,
        decline_code=payment.decline_code,
        refunds=[_refund_out(r) for r in payment.refunds],
    )


def _unavailable(exc: PaymentProviderUnavailable) -> Response:
    return problem_response(
        503,
        "payment-provider-unavailable",
        "Payment provider unavailable",
        detail=exc.message,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def build_staff_router(
    *, uow_factory: UowFactory, provider: PaymentProvider, queries: SqlPaymentQueries
) -> APIRouter:
    """Staff and operations endpoints, each guarded by its scope."""
    router = APIRouter(prefix="/v1/payments", tags=["payments"])

    @router.get(
        "",
        response_model=PaymentListOut,
        responses={**problem_responses(422), **scope_problems(PAYMENTS_READ)},
        dependencies=[Depends(requires(PAYMENTS_READ))],
    )
    async def payments_of_order(
        order_id: Annotated[uuid.UUID, Query(description="The order the payments are for.")],
    ) -> PaymentListOut:
        """The payments made for an order, with their refunds: how staff get from an
        order to the money (an order id with no payment is an empty list, not a 404)."""
        return PaymentListOut(items=[_payment_out(p) for p in await queries.for_order(order_id)])

    @router.get(
        "/{payment_id}",
        response_model=PaymentOut,
        responses={**problem_responses(404, 422), **scope_problems(PAYMENTS_READ)},
        dependencies=[Depends(requires(PAYMENTS_READ))],
    )
    async def get_payment(payment_id: uuid.UUID) -> PaymentOut:
        """One payment: its state, amounts captured and refunded, and its refunds."""
        payment = await queries.get(payment_id)
        if payment is None:
            raise NotFound("no payment with this id", payment_id=str(payment_id))
        return _payment_out(payment)

    @router.post(
        "/{payment_id}/refunds",
        status_code=status.HTTP_201_CREATED,
        response_model=RefundOut,
        responses={
            **problem_responses(400, 404, 409, 422, 503),
            **scope_problems(PAYMENTS_WRITE),
            202: {
                "model": RefundOut,
                "description": "Recorded; the provider's confirmation is still to come.",
            },
        },
        dependencies=[Depends(requires(PAYMENTS_WRITE))],
    )
    async def refund(
        payment_id: uuid.UUID,
        body: RefundIn,
        idempotency_key: Annotated[
            str,
            Header(
                alias="Idempotency-Key",
                min_length=1,
                max_length=255,
                pattern=r"^[\x21-\x7e]+$",
                description="Names the refund: repeating the request with the same key refunds once.",
            ),
        ],
        response: Response,
    ) -> Any:
        """Refund part or all of a captured payment.

        The refund is named by the ``Idempotency-Key``: a retry with the same
        key (after a timeout, or a 503) returns the same refund and never
        refunds twice. 201 once the provider confirmed; 202 when the refund is
        recorded but the provider's answer is still to come.
        """
        try:
            payment, created = await refund_payment(
                RefundPayment(
                    payment_id=payment_id, refund_reference=idempotency_key, amount=Decimal(body.amount)
                ),
                uow_factory=uow_factory,
                provider=provider,
            )
        except PaymentProviderUnavailable as exc:
            return _unavailable(exc)
        out = next(r for r in result_of(payment).refunds if r.refund_id == created.id)
        response.headers["Location"] = f"/v1/payments/{payment_id}"
        if out.status == "requested":
            response.status_code = status.HTTP_202_ACCEPTED
        return _refund_out(out)

    return router


def build_webhook_router(
    *, uow_factory: UowFactory, secret: Callable[[], str], tolerance_s: int
) -> APIRouter:
    router = APIRouter(prefix="/v1/payments/webhooks", tags=["payments"])

    @router.post(
        "/sim",
        response_model=WebhookAck,
        responses=problem_responses(400, 401, 409),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
                "description": "A provider event, signed in the `Orderly-Signature` header.",
            }
        },
    )
    async def provider_webhook(
        request: Request,
        signature: Annotated[
            str | None, Header(alias=SIGNATURE_HEADER, description="t=<unix seconds>,v1=<hex HMAC-SHA256>")
        ] = None,
    ) -> Any:
        """Events from the payment provider about our payment intents.

        Authenticated by signature, not by token: HMAC-SHA256 of
        ``"<t>.<body>"`` under the shared secret, with ``t`` within the
        tolerance (400 if the header is missing or malformed, 401 if it does
        not verify or is too old). Each event is applied once: a redelivery
        answers 200 with ``duplicate: true`` and changes nothing.
        """
        body = await request.body()
        try:
            verify_signature(signature, body, secret=secret(), tolerance_s=tolerance_s, now=time.time())
            event = parse_event(body)
        except WebhookRejected as exc:
            log.warning("webhook rejected", reason=exc.slug)
            return problem_response(exc.status, exc.slug, "Webhook rejected", detail=exc.detail)
        try:
            applied = await apply_provider_event(
                event_id=event.event_id, payment_id=event.payment_id, view=event.view, uow=uow_factory()
            )
        except DuplicateDelivery:
            applied = False
        log.info(
            "webhook received",
            provider_event_id=event.provider_event_id,
            event_type=event.event_type,
            payment_id=str(event.payment_id),
            duplicate=not applied,
        )
        return WebhookAck(received=True, duplicate=not applied)

    return router
