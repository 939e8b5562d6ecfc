"""What a module offers the composition root, and what it gets from it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis
from fastapi import APIRouter
from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.messaging.port import MessageBus, Subscription
from orderly.platform.settings import Settings

BackgroundTask = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class ModuleContext:
    """Shared infrastructure plus the facades of the modules already built."""

    settings: Settings
    engine: AsyncEngine
    bus: MessageBus
    redis: aioredis.Redis
    facades: dict[str, Any] = field(default_factory=dict)


class Module(Protocol):
    """A built module (see ``ModuleClass`` for what is known before building it)."""

    @property
    def name(self) -> str: ...

    @property
    def outbox(self) -> Table | None:
        """The module's outbox table; None for a module that publishes no integration events."""
        ...

    def facade(self) -> object | None: ...

    def routers(self) -> Sequence[APIRouter]: ...

    def subscriptions(self) -> Sequence[Subscription]: ...

    def background_tasks(self) -> Sequence[BackgroundTask]:
        """Periodic jobs (sweeps, expiries) run by the worker, or by serve with the in-process bus.

        Each runs until ``stop`` is set; it must tolerate running in several
        processes at once (take a lock or use SKIP LOCKED).
        """
        ...


class ModuleClass(Protocol):
    """A module's class: what the registry and the migrations know before building it."""

    name: str
    metadata: MetaData

    @property
    def outbox(self) -> Table | None:
        """None: the module publishes no integration events, so there is no outbox to relay."""
        ...

    # (consumer name, event types) pairs, known without building the module,
    # so every process can declare the whole broker topology.
    consumes: Sequence[tuple[str, tuple[str, ...]]]

    def __call__(self, ctx: ModuleContext) -> Module: ...
