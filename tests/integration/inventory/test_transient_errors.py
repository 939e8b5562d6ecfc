"""The retry policy's view of PostgreSQL: real serialization failures and deadlocks are transient."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orderly.modules.inventory.adapters.repository import is_transient_db_error


@pytest.fixture
async def table(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE IF EXISTS public.inventory_race"))
        await conn.execute(text("CREATE TABLE public.inventory_race (id int PRIMARY KEY, n int NOT NULL)"))
        await conn.execute(text("INSERT INTO public.inventory_race VALUES (1, 0), (2, 0)"))


async def _bump(conn: AsyncConnection, row: int) -> None:
    await conn.execute(text("UPDATE public.inventory_race SET n = n + 1 WHERE id = :id"), {"id": row})


class TestTransientErrorClassification:
    @pytest.mark.usefixtures("table")
    async def test_a_serialization_failure_is_transient(self, engine: AsyncEngine) -> None:
        async with engine.connect() as reader, engine.connect() as writer:
            await reader.execution_options(isolation_level="REPEATABLE READ")
            await reader.begin()
            await reader.execute(text("SELECT n FROM public.inventory_race WHERE id = 1"))
            async with writer.begin():
                await _bump(writer, 1)
            with pytest.raises(DBAPIError) as failure:
                await _bump(reader, 1)
            await reader.rollback()
        assert is_transient_db_error(failure.value)

    @pytest.mark.usefixtures("table")
    async def test_a_deadlock_is_transient(self, engine: AsyncEngine) -> None:
        async def cross(first: int, second: int, ready: asyncio.Barrier) -> BaseException | None:
            async with engine.connect() as conn:
                await conn.begin()
                await _bump(conn, first)
                await ready.wait()
                try:
                    await _bump(conn, second)
                except DBAPIError as exc:
                    return exc
                finally:
                    await conn.rollback()
            return None

        ready = asyncio.Barrier(2)
        outcomes = await asyncio.wait_for(asyncio.gather(cross(1, 2, ready), cross(2, 1, ready)), timeout=20)
        failures = [o for o in outcomes if o is not None]
        assert len(failures) == 1
        assert is_transient_db_error(failures[0])

    @pytest.mark.usefixtures("table")
    async def test_a_constraint_violation_is_not_transient(self, engine: AsyncEngine) -> None:
        with pytest.raises(DBAPIError) as failure:
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO public.inventory_race VALUES (1, 0)"))
        assert not is_transient_db_error(failure.value)
