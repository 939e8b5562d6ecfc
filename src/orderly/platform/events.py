"""Integration events: the envelope that crosses module boundaries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import TypeAdapter

from orderly.shared_kernel.domain import IntegrationEvent

__all__ = ["IntegrationEvent", "Message", "from_message", "to_payload"]


@dataclass(frozen=True, slots=True)
class Message:
    """An event as it travels: id, type, ordering key, JSON payload, headers."""

    message_id: uuid.UUID
    event_type: str
    aggregate_id: str
    occurred_at: datetime
    payload: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)


E = TypeVar("E", bound=IntegrationEvent)


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(event_class: type[Any]) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(event_class)
    if adapter is None:
        adapter = _ADAPTERS[event_class] = TypeAdapter(event_class)
    return adapter


def to_payload(event: IntegrationEvent) -> dict[str, Any]:
    payload: dict[str, Any] = _adapter(type(event)).dump_python(event, mode="json")
    return payload


def from_message(event_class: type[E], message: Message) -> E:
    """Parse a message back into the contract class the consumer expects."""
    event: E = _adapter(event_class).validate_python(dict(message.payload))
    return event
