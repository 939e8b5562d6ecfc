"""Settings from the environment (``ORDERLY_`` prefix), validated at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob Orderly reads. Unset URLs select the embedded default."""

    model_config = SettingsConfigDict(env_prefix="ORDERLY_", extra="ignore", frozen=True)

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL (postgresql://...). Unset: an embedded PostgreSQL under data_dir.",
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL (redis://...). Unset: an in-process stand-in."
    )
    broker_url: str | None = Field(
        default=None, description="RabbitMQ URL (amqp://...). Unset: an in-process message bus."
    )
    data_dir: Path = Field(
        default=Path(".orderly"), description="Where the embedded default keeps its data."
    )
    env: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_pool_overflow: int = Field(default=10, ge=0, le=200)
    db_statement_timeout_ms: int = Field(default=15_000, ge=100)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    relay_batch_size: int = Field(default=200, ge=1, le=10_000)
    relay_poll_interval_s: float = Field(default=0.2, gt=0, le=60)
    outbox_partitions: int = Field(default=16, ge=1, le=1024)
    consumer_delivery_limit: int = Field(default=5, ge=1, le=100)
    consumer_prefetch: int = Field(default=32, ge=1, le=10_000)
    exchange_name: str = "orderly.events"
    queue_prefix: str = "orderly"

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql", "postgres:")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// or rediss:// URL")
        return value

    @field_validator("broker_url")
    @classmethod
    def _amqp_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must be an amqp:// or amqps:// URL")
        return value

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None


class SettingsError(Exception):
    """Raised with a human-readable summary when the environment is invalid."""


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings, turning pydantic's report into one clear message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "ORDERLY_" + "_".join(str(part) for part in error["loc"]).upper()
            lines.append(f"  {name}: {error['msg']}")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None
