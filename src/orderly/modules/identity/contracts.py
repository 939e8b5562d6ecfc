"""Integration events the identity module publishes (versioned; add fields, never change them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from orderly.shared_kernel.domain import IntegrationEvent


@dataclass(frozen=True, kw_only=True)
class CustomerRegistered(IntegrationEvent):
    """A customer account now exists (notifications send the welcome message)."""

    event_type: ClassVar[str] = "identity.customer_registered.v1"
    aggregate_type: ClassVar[str] = "customer"

    customer_id: str
    email: str


@dataclass(frozen=True, kw_only=True)
class PasswordChanged(IntegrationEvent):
    """A customer or staff member changed their password, proving the old one; their other
    sessions have ended. Carries no password or hash: notifications tell the person, so that
    a change they did not make does not go unnoticed."""

    event_type: ClassVar[str] = "identity.password_changed.v1"
    aggregate_type: ClassVar[str] = "account"

    subject_id: str
    subject_kind: str
