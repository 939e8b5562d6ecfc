"""Database access: engine construction, per-module metadata, naming conventions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.dialects.postgresql import base as pg_base
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.types import UserDefinedType

from orderly.platform.settings import Settings

# One naming convention for every constraint, so migrations are reproducible
# and errors can be mapped from constraint names.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def module_metadata(schema: str) -> MetaData:
    """Metadata for the tables one module owns, all inside its own schema."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


class XID8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id (``pg_current_xact_id()``)."""

    cache_ok = True

    def get_col_spec(self, **_: Any) -> str:
        return "xid8"


# Let reflection (alembic check) recognise the type instead of warning.
pg_base.ischema_names["xid8"] = XID8


def async_url(url: str) -> str:
    """Turn any postgresql:// URL into the asyncpg flavour SQLAlchemy needs."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def create_engine(settings: Settings, url: str, *, pool_size: int | None = None) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_pool_overflow,
        # No pre-ping: with asyncpg it costs a round trip per checkout. A
        # connection found dead fails its one statement, and SQLAlchemy then
        # invalidates the whole pool, so a database restart costs one error
        # per process, which idempotent retries absorb.
        pool_recycle=1800,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "idle_in_transaction_session_timeout": "60000",
                "application_name": "orderly",
                # Plans on tiny numeric work are not worth compiling.
                "jit": "off",
                # Short OLTP queries lose more to starting parallel workers than they gain.
                "max_parallel_workers_per_gather": "0",
            },
        },
    )
