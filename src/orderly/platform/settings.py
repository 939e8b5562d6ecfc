"""Settings from the environment (``ORDERLY_`` prefix), validated at start."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderly.shared_kernel.money import is_currency

RateLimitClass = Literal["read", "write", "checkout", "auth"]
# A route's class in ORDERLY_RATE_LIMIT_ROUTES: one of the above, or not limited.
RateLimitRouteClass = Literal["read", "write", "checkout", "auth", "none"]
_OPERATION = re.compile(r"^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /\S*$")


class RateLimitQuota(BaseModel):
    """``limit`` requests per ``window_s`` seconds; in the environment, ``{"limit": 600, "window_s": 60}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: int = Field(ge=1, le=1_000_000)
    window_s: int = Field(ge=1, le=86_400)


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
    data_dir: Path = Field(default=Path(".orderly"), description="Where the embedded default keeps its data.")
    env: Literal["development", "test", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_pool_overflow: int = Field(default=10, ge=0, le=200)
    db_statement_timeout_ms: int = Field(default=15_000, ge=100)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    idempotency_fingerprint_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="HMAC key (at least 32 characters) of the Idempotency-Key request fingerprints, which"
        " are kept a day or more: unkeyed, the fingerprint of a body holding a password is a fast hash"
        " of it. Changing it makes retries of keys stored before the change answer 422. Required when"
        " env=production.",
    )
    relay_batch_size: int = Field(default=200, ge=1, le=10_000)
    relay_poll_interval_s: float = Field(default=0.2, gt=0, le=60)
    outbox_partitions: int = Field(default=16, ge=1, le=1024)
    consumer_delivery_limit: int = Field(default=5, ge=1, le=100)
    consumer_prefetch: int = Field(default=32, ge=1, le=10_000)
    exchange_name: str = "orderly.events"
    queue_prefix: str = "orderly"

    # Retention of delivered messages (docs/adr/0008, docs/runbooks/message-retention.md).
    outbox_retention_s: int = Field(
        default=7 * 86_400,
        ge=1,
        description="Published outbox rows this old are deleted; an unpublished row never is, whatever"
        " its age. The relay never reads a published row again: they are kept only to look into.",
    )
    inbox_retention_s: int = Field(
        default=14 * 86_400,
        ge=86_400,
        description="Inbox rows (the messages a consumer has applied) this old are deleted, after which"
        " a copy of the message would be applied again. Keep it longer than any copy can wait before it"
        " is delivered (a dead letter replayed from its .dlq queue), and at least outbox_retention_s:"
        " a published outbox row can be marked unpublished to send it again, and every consumer that"
        " applied it must still recognise it. At least one day.",
    )
    retention_interval_s: float = Field(
        default=600,
        gt=0,
        le=86_400,
        description="Time between pruning passes (each process adds up to 20% either way, so replicas"
        " drift apart).",
    )
    retention_batch_size: int = Field(
        default=1000, ge=1, le=10_000, description="Rows one DELETE removes, in a transaction of its own."
    )
    retention_max_batches: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="Batches per table per pass; a larger backlog drains over several passes.",
    )

    # Observability (docs/observability.md).
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65_535,
        description="Serve Prometheus metrics on this port, apart from the API (serve, relay and worker)."
        " Unset: no separate listener. 9464 is the usual choice.",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="Address the metrics listener binds (0.0.0.0 in a pod)."
    )
    metrics_on_api: bool = Field(
        default=True,
        description="Also answer GET /metrics on the API's own port. Turn off where that port is public"
        " and scrape metrics_port instead.",
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP base URL (e.g. http://otel-collector:4318) to export traces to."
        " Unset: the standard OTEL_EXPORTER_OTLP_ENDPOINT; neither set: tracing is off.",
    )
    otel_service_name: str = Field(default="orderly", min_length=1)
    otel_sample_ratio: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of new traces kept (parent-based: a sampled caller is always followed)."
        " Unset: OTEL_TRACES_SAMPLER, else every trace.",
    )

    # Rate limits per client and route (docs/api/rate-limits.md, docs/adr/0009).
    rate_limit_enabled: bool = Field(
        default=True,
        description="Limit each client's requests per route in Redis (429 past the quota). Off: no limits"
        " and no RateLimit headers.",
    )
    rate_limit_read: RateLimitQuota = Field(
        default=RateLimitQuota(limit=600, window_s=60),
        description="Quota per client of each GET route (storefront and admin reads).",
    )
    rate_limit_write: RateLimitQuota = Field(
        default=RateLimitQuota(limit=120, window_s=60),
        description="Quota per client of each POST/PUT/PATCH/DELETE route not in another class.",
    )
    rate_limit_checkout: RateLimitQuota = Field(
        default=RateLimitQuota(limit=10, window_s=60), description="Quota per client of POST /v1/checkouts."
    )
    rate_limit_auth: RateLimitQuota = Field(
        default=RateLimitQuota(limit=60, window_s=60),
        description="Quota per client of sign-in, the token, revocation and introspection endpoints, and"
        " registration.",
    )
    rate_limit_routes: dict[str, RateLimitRouteClass] = Field(
        default_factory=dict,
        description="Routes moved to another class, over the built-in table: 'METHOD /path/template' ->"
        " read, write, checkout, auth, or none (not limited). JSON in the environment.",
    )
    rate_limit_redis_budget_s: float = Field(
        default=0.05,
        gt=0,
        le=5,
        description="Longest a limit check waits for Redis; slower, and the request goes through unchecked.",
    )
    rate_limit_pause_after_failure_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="After Redis failed a check, requests go through unchecked this long before it is"
        " tried again (so an outage does not cost every request the budget).",
    )

    # Resource-server side, used by every module: whose access tokens the API accepts.
    auth_issuer: str | None = Field(
        default=None,
        description="Issuer whose access tokens the API accepts (any OpenID Connect provider's issuer URL)."
        " Unset: Orderly's own identity module (identity_issuer).",
    )
    auth_audience: str = Field(
        default="orderly",
        min_length=1,
        description="The `aud` access tokens must carry; Orderly's identity module stamps this value.",
    )
    auth_jwks_url: str | None = Field(
        default=None, description="The issuer's JWKS URL. Unset: read from its discovery document."
    )
    auth_algorithms: tuple[
        Literal["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"], ...
    ] = Field(
        default=("ES256",),
        min_length=1,
        description="Signature algorithms accepted on access tokens (asymmetric only; JSON list in the"
        " environment). The token's own `alg` header never widens this list.",
    )
    auth_leeway_s: int = Field(default=30, ge=0, le=300, description="Clock skew tolerated on exp/nbf/iat.")
    auth_jwks_cache_s: float = Field(
        default=300,
        gt=0,
        le=86_400,
        description="How long a fetched JWKS is trusted before it is fetched again.",
    )
    auth_jwks_refetch_interval_s: float = Field(
        default=10,
        ge=0,
        le=3600,
        description="At most one refetch per this interval when a token names an unknown kid.",
    )
    auth_max_token_bytes: int = Field(default=8192, ge=1024, le=65_536)

    # Authorization server (the identity module).
    identity_issuer: str = Field(
        default="http://127.0.0.1:8000",
        description="The issuer URL Orderly's identity module stamps in tokens: its public base URL.",
    )
    identity_access_token_ttl_s: int = Field(default=600, ge=60, le=3600)
    identity_refresh_token_idle_ttl_s: int = Field(default=1_209_600, ge=300)
    identity_refresh_token_max_ttl_s: int = Field(
        default=2_592_000,
        ge=300,
        description="Absolute lifetime of a refresh-token family, however often rotated.",
    )
    identity_code_ttl_s: int = Field(default=300, ge=30, le=600)
    identity_key_encryption_key: SecretStr | None = Field(
        default=None,
        description="base64url of 32 random bytes: encrypts signing private keys at rest (AES-256-GCM)."
        " Required when env=production.",
    )
    identity_key_publish_lead_s: float = Field(
        default=900,
        ge=0,
        description="How long a new signing key must have been published before `orderly keys rotate`"
        " lets it sign; keep it above every verifier's JWKS cache time.",
    )
    identity_jwks_max_age_s: int = Field(default=300, ge=0, le=86_400)
    identity_signin_account_limit: int = Field(default=5, ge=1, le=1000)
    identity_signin_ip_limit: int = Field(default=20, ge=1, le=100_000)
    identity_signin_window_s: int = Field(default=900, ge=1, le=86_400)
    identity_register_ip_limit: int = Field(default=20, ge=1, le=100_000)

    # Payments: the provider and how Orderly talks to it (see docs/adr/0040).
    payment_provider_url: str | None = Field(
        default=None,
        description="Base URL of the payment provider (`orderly payment-sim`). Unset: a simulator runs"
        " inside this process (the embedded default; one process only, its state is in memory).",
    )
    payment_webhook_secret: SecretStr = Field(
        default=SecretStr("orderly-dev-webhook-secret"),
        description="Shared secret of the provider's webhook signatures (HMAC-SHA256).",
    )
    payment_webhook_tolerance_s: int = Field(
        default=300, ge=1, le=3600, description="Oldest webhook signature timestamp accepted."
    )
    payment_provider_timeout_s: float = Field(default=2.0, gt=0, le=60, description="Deadline of one call.")
    payment_provider_max_attempts: int = Field(default=4, ge=1, le=10)
    payment_provider_backoff_base_s: float = Field(default=0.1, gt=0, le=10)
    payment_provider_backoff_cap_s: float = Field(default=2.0, gt=0, le=60)
    payment_breaker_threshold: int = Field(
        default=5, ge=1, le=1000, description="Consecutive failed calls that open the circuit."
    )
    payment_breaker_cooldown_s: float = Field(default=30.0, gt=0, le=3600)
    payment_sweep_interval_s: float = Field(default=5.0, gt=0, le=3600)
    payment_stale_after_s: float = Field(
        default=60.0, gt=0, description="A pending authorization or refund this old is resumed by the sweep."
    )
    payment_release_grace_s: float = Field(
        default=30.0,
        ge=0,
        description="Wait this long after giving up on an authorization before checking the provider"
        " for a hold to void (lets calls still in flight there finish).",
    )
    # The embedded simulator (used only while payment_provider_url is unset).
    payment_sim_port: int = Field(default=0, ge=0, le=65_535, description="0: any free port on 127.0.0.1.")
    payment_sim_webhook_url: str | None = Field(
        default=None,
        description="Where the embedded simulator posts webhooks. Unset: straight to this process's"
        " webhook endpoint, without a socket.",
    )
    payment_sim_latency_ms: int = Field(default=0, ge=0, le=60_000)
    payment_sim_decline_rate: float = Field(default=0.0, ge=0, le=1)
    payment_sim_error_rate: float = Field(default=0.0, ge=0, le=1)
    payment_sim_timeout_rate: float = Field(default=0.0, ge=0, le=1)
    payment_sim_charge_then_error_rate: float = Field(default=0.0, ge=0, le=1)
    payment_sim_seed: int | None = None

    # Cart: carts are documents in Redis (see docs/cart/data-model.md).
    cart_ttl_s: int = Field(
        default=30 * 86_400,
        ge=60,
        le=365 * 86_400,
        description="A cart not used (read or changed) this long is deleted by Redis.",
    )
    cart_default_currency: str = Field(
        default="EUR", description="ISO 4217 currency of a new cart when the shopper names none."
    )
    cart_retry_after_s: int = Field(
        default=2,
        ge=1,
        le=300,
        description="Retry-After of the cart's 503 answers while Redis cannot be reached.",
    )

    # Ordering: checkout pricing and the checkout saga (see docs/ordering/README.md).
    ordering_unpaid_order_ttl_s: float = Field(
        default=900,
        gt=0,
        le=7 * 86_400,
        description="An order not paid this long after checkout expires and its stock is released.",
    )
    ordering_step_timeout_s: float = Field(
        default=30,
        gt=0,
        le=3600,
        description="A saga step not settled this long is run again by the sweep"
        " (back-off doubles each time).",
    )
    ordering_step_max_attempts: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Attempts at reserving stock or authorizing payment before the order is given up;"
        " later steps (confirm, capture, compensate, refund) are retried until they succeed.",
    )
    ordering_sweep_interval_s: float = Field(default=1.0, gt=0, le=600)
    ordering_sweep_batch_size: int = Field(default=100, ge=1, le=10_000)
    ordering_shipping_rates: dict[str, dict[str, Decimal]] = Field(
        default_factory=lambda: {
            "*": {"EUR": Decimal("9.90"), "USD": Decimal("12.00"), "GBP": Decimal("8.90")},
            "DE": {"EUR": Decimal("4.90")},
            "FR": {"EUR": Decimal("5.90")},
            "NL": {"EUR": Decimal("4.90")},
            "US": {"USD": Decimal("6.00")},
            "GB": {"GBP": Decimal("3.90")},
        },
        description="Flat shipping per order: country (ISO alpha-2, or * for any other) -> currency -> amount"
        " (JSON in the environment). No entry: that destination is not shipped to in that currency.",
    )
    ordering_tax_rates: dict[str, Decimal] = Field(
        default_factory=lambda: {
            "DE": Decimal("0.19"),
            "FR": Decimal("0.20"),
            "NL": Decimal("0.21"),
            "GB": Decimal("0.20"),
            "*": Decimal("0"),
        },
        description="Flat tax rate (0-1) per destination country, or * for any other; applied once to"
        " subtotal + shipping and rounded half up to the currency's minor unit.",
    )

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

    @field_validator("rate_limit_routes")
    @classmethod
    def _operations(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = [operation for operation in value if not _OPERATION.match(operation)]
        if wrong:
            raise ValueError(f"keys must read 'METHOD /path/template' (e.g. 'POST /v1/checkouts'): {wrong}")
        return value

    @field_validator("cart_default_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if not is_currency(value):
            raise ValueError("must be an ISO 4217 currency code such as EUR")
        return value

    @field_validator("inbox_retention_s")
    @classmethod
    def _inbox_outlives_outbox(cls, value: int, info: ValidationInfo) -> int:
        outbox = info.data.get("outbox_retention_s")
        if outbox is not None and value < outbox:
            raise ValueError(
                f"must be at least ORDERLY_OUTBOX_RETENTION_S ({outbox}): a published outbox row can be"
                " sent again, and its consumers must still recognise it"
            )
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
