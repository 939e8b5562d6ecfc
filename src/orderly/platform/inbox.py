"""Inbox: the record of messages a consumer has already applied.

A consumer inserts the message id in the same transaction as its effect, so a
redelivered message finds its id and changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import Column, DateTime, Index, MetaData, PrimaryKeyConstraint, String, Table, Uuid, func
from structlog.contextvars import bind_contextvars, unbind_contextvars

from orderly.platform import context
from orderly.platform.events import Message
from orderly.platform.messaging.port import Handler
from orderly.platform.observability.messaging import record_duplicate
from orderly.platform.uow import SqlUnitOfWork

U = TypeVar("U", bound=SqlUnitOfWork)


def inbox_table(metadata: MetaData) -> Table:
    """The inbox of one module, created inside that module's schema."""
    table = Table(
        "inbox",
        metadata,
        Column("consumer", String(200), nullable=False),
        Column("message_id", Uuid, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "message_id"),
    )
    # Retention deletes the oldest rows first (platform.retention); without
    # it every batch would scan the whole table.
    Index("ix_inbox_processed_at", table.c.processed_at)
    return table


def is_inbox_duplicate(exc: BaseException) -> bool:
    """True when an IntegrityError comes from a concurrent copy of the same message."""
    return "pk_inbox" in str(getattr(exc, "orig", exc))


def idempotent_consumer(
    consumer: str,
    uow_factory: Callable[[], U],
    apply: Callable[[Message, U], Awaitable[None]],
) -> Handler:
    """Wrap ``apply`` so each message's effect is committed at most once.

    The inbox row is claimed first, in the transaction that then applies the
    effect. A redelivery finds the row and returns. A concurrent copy of the
    same message waits on the first copy's claim and, once that commits,
    returns without running ``apply``: the loser is a duplicate, never an
    error to retry (which it would be if it ran the effect first and tripped
    over a unique key of its own).
    """

    async def handle(message: Message) -> None:
        token = context.causation_var.set(str(message.message_id))
        bind_contextvars(consumer=consumer, message_id=str(message.message_id))
        try:
            async with uow_factory() as uow:
                if not await uow.claim_message(consumer, message.message_id):
                    record_duplicate(consumer)
                    return
                await apply(message, uow)
                await uow.commit()
        finally:
            unbind_contextvars("consumer", "message_id")
            context.causation_var.reset(token)

    return handle
