"""Run Alembic programmatically.

Each module owns its schema and its migrations: they live in
``modules/<name>/migrations/`` as an Alembic branch labelled with the module's
name, so modules evolve their tables independently (see docs/adr/0005).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
SCRIPT_LOCATION = str(PACKAGE_ROOT / "migrations")


def module_versions_dir(module: str) -> Path:
    return PACKAGE_ROOT / "modules" / module / "migrations"


# The platform's own tables (schema "platform", branch "platform").
PLATFORM_VERSIONS_DIR = PACKAGE_ROOT / "platform" / "schema_migrations"


def _version_locations() -> list[str]:
    # Every module that has a migrations folder; found on disk so the platform
    # never imports the modules.
    modules = sorted(str(path) for path in (PACKAGE_ROOT / "modules").glob("*/migrations") if path.is_dir())
    return [str(PLATFORM_VERSIONS_DIR), *modules]


def alembic_config(database_url: str, *, only_schema: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("version_locations", " ".join(_version_locations()))
    config.set_main_option("path_separator", "space")
    config.attributes["database_url"] = database_url
    config.attributes["only_schema"] = only_schema
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


def check(database_url: str) -> None:
    """Fail if the models and the migrations have drifted apart."""
    command.check(alembic_config(database_url))


def make_migration(database_url: str, *, module: str, message: str, rev_id: str) -> None:
    """Autogenerate the next migration of one module, looking at its schema only."""
    versions = module_versions_dir(module)
    first = not any(versions.glob("*.py"))
    versions.mkdir(parents=True, exist_ok=True)
    command.revision(
        alembic_config(database_url, only_schema=module),
        message=message,
        autogenerate=True,
        # A module's first revision starts its own branch, labelled with its name.
        head="base" if first else f"{module}@head",
        branch_label=module if first else None,
        version_path=str(versions),
        rev_id=rev_id,
    )
