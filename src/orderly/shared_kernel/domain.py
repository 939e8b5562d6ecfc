"""Aggregate root and domain event bases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

from orderly.shared_kernel.ids import new_id


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Something that happened to an aggregate, in the past tense.

    Subclasses that cross a module boundary are integration events: they live
    in the module's ``contracts`` and carry a stable ``event_type`` with a
    version suffix so consumers can evolve independently.
    """

    event_type: ClassVar[str]
    event_id: uuid.UUID = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utcnow)


class AggregateRoot:
    """Owns its invariants and records the events its changes produce."""

    id: uuid.UUID
    version: int

    def __init__(self) -> None:
        self._pending_events: list[DomainEvent] = []

    def record(self, event: DomainEvent) -> None:
        self._pending_events.append(event)

    def collect_events(self) -> list[DomainEvent]:
        events, self._pending_events = self._pending_events, []
        return events


@dataclass(frozen=True, kw_only=True)
class IntegrationEvent(DomainEvent):
    """A fact published to other modules; ``aggregate_id`` keys ordering and partitioning."""

    aggregate_type: ClassVar[str]
    aggregate_id: str
