"""Shared fixtures.

Services: PostgreSQL, Redis and RabbitMQ on this machine (override with
ORDERLY_TEST_DATABASE_URL / ORDERLY_TEST_REDIS_URL / ORDERLY_TEST_BROKER_URL).
Locally a missing service skips the tests that need it; under CI=true it fails
them, so a broken environment can never pass as green.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from orderly.entrypoints.registry import all_metadata
from orderly.platform.db import async_url, create_engine
from orderly.platform.schema import platform_metadata
from orderly.platform.settings import Settings

ADMIN_DATABASE_URL = os.environ.get(
    "ORDERLY_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("ORDERLY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
BROKER_URL = os.environ.get("ORDERLY_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Rate limits are off in tests unless a test turns them on (tests/*/test_rate_limit*.py):
# many suites send hundreds of requests from one client through one app, and
# with a real Redis the buckets of 127.0.0.1 outlive a test. Set here rather
# than in the `settings` fixture so that every Settings() a test builds, and the
# `orderly serve` a test starts, inherit it.
os.environ.setdefault("ORDERLY_RATE_LIMIT_ENABLED", "false")


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    if _reachable(url, default_port):
        return
    message = f"{name} is not reachable at {url}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: a missing service is a failure)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database for this test session, migrated to the latest schema."""
    require_service("PostgreSQL", ADMIN_DATABASE_URL, 5432)
    from orderly.platform import migrations

    name = f"orderly_test_{uuid.uuid4().hex[:10]}"
    admin = make_url(ADMIN_DATABASE_URL)

    async def admin_exec(sql: str) -> None:
        engine = create_async_engine(async_url(ADMIN_DATABASE_URL), isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(admin_exec(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    migrations.upgrade(url)
    try:
        yield url
    finally:
        asyncio.run(admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, relay_poll_interval_s=0.05, log_json=False, rate_limit_enabled=False
    )


@pytest.fixture
async def engine(settings: Settings, database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings, database_url, pool_size=20)
    await truncate_all(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


async def truncate_all(engine: AsyncEngine) -> None:
    every_metadata = [*platform_metadata(), *all_metadata()]
    tables = [f'{t.schema}."{t.name}"' for metadata in every_metadata for t in metadata.sorted_tables]
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def broker_url() -> str:
    require_service("RabbitMQ", BROKER_URL, 5672)
    return BROKER_URL


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", REDIS_URL, 6379)
    return REDIS_URL


@pytest.fixture
def unique_prefix() -> str:
    """Exchange and queue names of one test, so tests never see each other's messages."""
    return f"test-{uuid.uuid4().hex[:8]}"
