"""Durable key storage in PostgreSQL: the atomic phases of ADR 0030.

Phase 1 (``begin``) claims the key in its own transaction, phase 3
(``complete`` or ``release``) records the outcome in another; the request
runs in between with nothing held open but a lease.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import Interval, and_, bindparam, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from orderly.platform.idempotency.state import (
    Decision,
    Execute,
    InFlight,
    KeyRecord,
    KeyState,
    Replay,
    Reused,
    StoredResponse,
    decide,
)
from orderly.platform.idempotency.tables import idempotency_keys as keys

log = structlog.get_logger(module="platform.idempotency")


@dataclass(frozen=True)
class Claim:
    """The key is ours until ``lease`` passes without renewal."""

    scope: str
    key: str
    lease_token: uuid.UUID
    attempt: int
    took_over: bool


BeginResult = Claim | Replay | Reused | InFlight


class IdempotencyStore(Protocol):
    async def begin(
        self, *, scope: str, key: str, fingerprint: str, method: str, path: str, lease: timedelta
    ) -> BeginResult: ...

    async def renew(self, claim: Claim, *, lease: timedelta) -> bool: ...

    async def complete(self, claim: Claim, response: StoredResponse) -> bool: ...

    async def release(self, claim: Claim) -> None: ...


def _lease(lease: timedelta) -> Any:
    return func.now() + bindparam("lease", lease, type_=Interval)


def _is(claim: Claim) -> Any:
    return and_(
        keys.c.scope == claim.scope,
        keys.c.key == claim.key,
        keys.c.lease_token == claim.lease_token,
        keys.c.state == KeyState.IN_FLIGHT.value,
    )


class PostgresIdempotencyStore:
    """Keys in ``platform.idempotency_keys``; safe with any number of processes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Single statements need no BEGIN/COMMIT round trips.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def begin(
        self, *, scope: str, key: str, fingerprint: str, method: str, path: str, lease: timedelta
    ) -> BeginResult:
        token = uuid.uuid4()
        # Two passes at most: the second only when the row we collided with
        # was pruned between our INSERT and our SELECT.
        for _ in range(2):
            claim = await self._insert(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                method=method,
                path=path,
                lease=lease,
                token=token,
            )
            if claim is not None:
                return claim
            result = await self._decide_existing(
                scope=scope, key=key, fingerprint=fingerprint, lease=lease, token=token
            )
            if result is not None:
                return result
        raise RuntimeError(f"idempotency key {key!r} kept disappearing while being claimed")

    async def _insert(
        self,
        *,
        scope: str,
        key: str,
        fingerprint: str,
        method: str,
        path: str,
        lease: timedelta,
        token: uuid.UUID,
    ) -> Claim | None:
        # ON CONFLICT DO NOTHING, not check-then-insert: of two concurrent
        # requests with one key, exactly one inserts; the other waits for it
        # to commit and then sees the conflict.
        statement = (
            insert(keys)
            .values(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                request_method=method,
                request_path=path,
                state=KeyState.IN_FLIGHT.value,
                lease_token=token,
                locked_until=_lease(lease),
                attempts=1,
            )
            .on_conflict_do_nothing(index_elements=[keys.c.scope, keys.c.key])
            .returning(keys.c.attempts)
        )
        async with self._autocommit.connect() as conn:
            inserted = await conn.scalar(statement)
        if inserted is None:
            return None
        return Claim(scope=scope, key=key, lease_token=token, attempt=1, took_over=False)

    async def _decide_existing(
        self, *, scope: str, key: str, fingerprint: str, lease: timedelta, token: uuid.UUID
    ) -> BeginResult | None:
        query = (
            select(
                keys.c.fingerprint,
                keys.c.state,
                keys.c.locked_until,
                keys.c.attempts,
                keys.c.response_status,
                keys.c.response_headers,
                keys.c.response_body,
                func.now().label("now"),
            )
            .where(keys.c.scope == scope, keys.c.key == key)
            # The row lock makes "lease expired, take over" atomic: two
            # retries of an abandoned key cannot both take it.
            .with_for_update()
        )
        async with self._engine.begin() as conn:
            row = (await conn.execute(query)).one_or_none()
            if row is None:
                return None
            decision: Decision = decide(_record(row), fingerprint=fingerprint, now=row.now)
            if not isinstance(decision, Execute):
                return decision
            await conn.execute(
                update(keys)
                .where(keys.c.scope == scope, keys.c.key == key)
                .values(lease_token=token, locked_until=_lease(lease), attempts=decision.attempt)
            )
        log.warning("idempotency key taken over", key=key, attempt=decision.attempt)
        return Claim(scope=scope, key=key, lease_token=token, attempt=decision.attempt, took_over=True)

    async def renew(self, claim: Claim, *, lease: timedelta) -> bool:
        """Extend the lease of a running execution; False if it was lost."""
        async with self._autocommit.connect() as conn:
            result = await conn.execute(update(keys).where(_is(claim)).values(locked_until=_lease(lease)))
        return bool(result.rowcount)

    async def complete(self, claim: Claim, response: StoredResponse) -> bool:
        """Phase 3: store the answer; False if another execution took the key over."""
        statement = (
            update(keys)
            .where(_is(claim))
            .values(
                state=KeyState.COMPLETED.value,
                lease_token=None,
                locked_until=None,
                response_status=response.status,
                response_headers=[list(header) for header in response.headers],
                response_body=response.body,
                completed_at=func.now(),
            )
        )
        async with self._autocommit.connect() as conn:
            result = await conn.execute(statement)
        return bool(result.rowcount)

    async def release(self, claim: Claim) -> None:
        """Forget a key whose request never executed, so it can be used again."""
        async with self._autocommit.connect() as conn:
            await conn.execute(delete(keys).where(_is(claim)))

    async def prune(self, *, older_than: timedelta, batch_size: int) -> int:
        """Delete up to ``batch_size`` keys older than ``older_than``.

        SKIP LOCKED lets several pruners (one per process) share the work
        without waiting on each other or on requests replaying a key; a key
        whose execution still holds a live lease is never pruned.
        """
        victims = (
            select(keys.c.scope, keys.c.key)
            .where(keys.c.created_at < func.now() - bindparam("age", older_than, type_=Interval))
            .where((keys.c.state == KeyState.COMPLETED.value) | (keys.c.locked_until < func.now()))
            .order_by(keys.c.created_at)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        statement = delete(keys).where(tuple_(keys.c.scope, keys.c.key).in_(victims))
        async with self._engine.begin() as conn:
            result = await conn.execute(statement)
        return int(result.rowcount)


def _record(row: Any) -> KeyRecord:
    response = None
    if row.response_status is not None:
        response = StoredResponse(
            status=row.response_status,
            headers=tuple((str(name), str(value)) for name, value in row.response_headers),
            body=bytes(row.response_body),
        )
    return KeyRecord(
        fingerprint=row.fingerprint,
        state=KeyState(row.state),
        locked_until=row.locked_until,
        attempts=row.attempts,
        response=response,
    )
