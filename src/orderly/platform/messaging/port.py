"""What the platform needs from a message broker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from orderly.platform.events import Message

Handler = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """A named consumer: it gets its own queue and sees each matching event once.

    ``handler`` must be idempotent (wrap it with the module's inbox); delivery
    is at least once.
    """

    consumer: str
    event_types: tuple[str, ...]
    handler: Handler


class PoisonMessage(Exception):
    """A handler's way to say a message can never succeed: dead-letter it now."""


class MessageBus(Protocol):
    async def start(self) -> None:
        """Connect and declare the exchange."""

    async def close(self) -> None: ...

    async def declare(self, subscriptions: Sequence[Subscription]) -> None:
        """Create queues and bindings so nothing published from now on is lost."""

    async def publish(self, messages: Sequence[Message]) -> None:
        """Return only once the broker has taken responsibility for every message.

        Messages with the same ``aggregate_id`` are delivered in the given order.
        """

    async def consume(self, subscriptions: Sequence[Subscription]) -> None:
        """Start delivering to the handlers; returns once consumption is set up."""

    async def check(self) -> None:
        """Raise if the broker cannot be used right now (readiness)."""
