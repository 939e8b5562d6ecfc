"""What the simulator does and how badly it behaves."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

DEV_WEBHOOK_SECRET = "orderly-dev-webhook-secret"  # noqa: S105 - the documented default of a local simulator


@dataclass(frozen=True, kw_only=True)
class Faults:
    """Injected misbehaviour. Rates are probabilities per mutating call.

    ``error_rate``: a 500 before anything happens (nothing to undo).
    ``timeout_rate``: the work is done, then the answer is held for
    ``timeout_delay_s``, longer than a sane client waits.
    ``charge_then_error_rate``: the work is done (money moved), then a 500.
    ``decline_rate``: an authorization is declined (a business answer, 402).
    ``latency_ms``: every call first waits a uniformly random 0..latency_ms.
    """

    latency_ms: int = 0
    decline_rate: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    charge_then_error_rate: float = 0.0
    timeout_delay_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("decline_rate", "error_rate", "timeout_rate", "charge_then_error_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.error_rate + self.timeout_rate + self.charge_then_error_rate > 1.0:
            raise ValueError("error, timeout and charge-then-error rates add up to more than 1")
        if self.latency_ms < 0 or self.timeout_delay_s < 0:
            raise ValueError("latency and delays cannot be negative")

    def with_changes(self, **changes: float | int) -> Faults:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class WebhookConfig:
    """Where and how the simulator reports what happened to an intent."""

    url: str | None = None
    secret: str = DEV_WEBHOOK_SECRET
    max_attempts: int = 8
    backoff_base_s: float = 0.25
    backoff_cap_s: float = 30.0
    timeout_s: float = 5.0
    # Hold each event this long before its first delivery; lets a test (or a
    # demo) make the webhook arrive after the synchronous answer.
    initial_delay_s: float = 0.0


@dataclass(frozen=True, kw_only=True)
class SimulatorConfig:
    faults: Faults = field(default_factory=Faults)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    # A seed makes the fault draws reproducible (in the order calls arrive).
    seed: int | None = None
