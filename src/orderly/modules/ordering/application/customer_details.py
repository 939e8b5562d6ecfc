"""What checkout takes from the identity module, in ordering's own terms.

The anti-corruption layer between identity's address book and ordering's
``ShippingAddress``: a saved address is copied field by field into a new
``ShippingAddress``, so it passes the same checks as an address typed in at
checkout (identity accepts addresses without a postal code; ordering does
not ship to them). The order keeps that copy, so later edits or removal of
the saved address never reach it.

Refusals name ``shipping_address_id``, the field the client sent. Another
customer's address and an unknown id get the same answer, so ids cannot be
probed. Both lookups happen before the order exists; a re-execution of a
request whose order was already made finds that order first and never
reads the account again.
"""

from __future__ import annotations

from orderly.modules.identity.api import AddressSnapshot, IdentityApi, IdentityUnavailable
from orderly.modules.ordering.application.commands import PlaceOrder
from orderly.modules.ordering.application.ports import OrderingDeps
from orderly.modules.ordering.domain.address import ShippingAddress
from orderly.shared_kernel.errors import InvalidInput

SAVED_ADDRESS_FIELD = "shipping_address_id"


async def shipping_address(command: PlaceOrder, *, deps: OrderingDeps) -> ShippingAddress:
    """The address typed in, or a copy of the customer's saved one as it is now."""
    if isinstance(command.address, ShippingAddress):
        return command.address
    if command.customer_id is None:
        raise InvalidInput(
            "saved addresses are for signed-in customers; send shipping_address", field=SAVED_ADDRESS_FIELD
        )
    snapshot = await _identity(deps).address(
        customer_id=command.customer_id, address_id=command.address.address_id
    )
    if snapshot is None:
        raise InvalidInput("no such address", field=SAVED_ADDRESS_FIELD)
    return shipping_address_from(snapshot)


def shipping_address_from(snapshot: AddressSnapshot) -> ShippingAddress:
    try:
        return ShippingAddress(
            recipient=snapshot.recipient,
            line1=snapshot.line1,
            line2=snapshot.line2,
            city=snapshot.city,
            postal_code=snapshot.postal_code,
            region=snapshot.region,
            country=snapshot.country,
            phone=snapshot.phone,
        )
    except InvalidInput as refused:
        raise InvalidInput(
            f"the saved address cannot be shipped to: {refused.message}", field=SAVED_ADDRESS_FIELD
        ) from refused


async def order_email(command: PlaceOrder, *, deps: OrderingDeps) -> str:
    """The e-mail given, or else the signed-in customer's account e-mail."""
    if command.email is not None:
        return command.email
    if command.customer_id is None:
        raise InvalidInput("email is required for a guest checkout", field="email")
    customer = await _identity(deps).customer(command.customer_id)
    if customer is None:
        # A valid token whose account is gone: there is nowhere to default to.
        raise InvalidInput("email is required: no account e-mail to use", field="email")
    return customer.email


def _identity(deps: OrderingDeps) -> IdentityApi:
    identity = deps.identity()
    if identity is None:
        raise IdentityUnavailable("customer accounts are not served by this deployment; nothing was ordered")
    return identity
