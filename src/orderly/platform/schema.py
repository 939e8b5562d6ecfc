"""The platform's own tables (schema ``platform``), beside the modules' schemas.

They are migrated by their own Alembic branch, labelled ``platform``, whose
revisions live in ``platform/schema_migrations/``.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from orderly.platform.idempotency import tables as idempotency_tables


def platform_metadata() -> list[MetaData]:
    """Every platform feature's metadata, all in schema ``platform``."""
    return [idempotency_tables.metadata]
