"""The knobs of the idempotency layer, with the defaults ADR 0030 argues for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

MINIMUM_RETENTION = timedelta(hours=24)


@dataclass(frozen=True)
class IdempotencyConfig:
    # How long an execution owns its key without renewing. A live execution
    # renews every lease/3, so only a dead process lets it lapse; a retry
    # may then take the key over.
    lease: timedelta = timedelta(seconds=30)
    # Seconds a client is told to wait when its key is still in flight.
    in_flight_retry_after_s: int = 1
    # Keys answer retries for at least this long before they may be pruned.
    retention: timedelta = MINIMUM_RETENTION
    prune_interval: timedelta = timedelta(minutes=5)
    prune_batch_size: int = 1000
    # Bounds one pruning pass; a backlog drains over several intervals.
    prune_max_batches: int = 50
    # Paths that must never replay a stored answer: OAuth endpoints issue
    # single-use credentials (a replayed token response would defeat code
    # single-use and refresh rotation), so they opt out entirely.
    exempt_path_prefixes: tuple[str, ...] = ()
    # HMAC key of the request fingerprints (keys.fingerprint says why); None
    # keeps plain SHA-256, which only development and tests may do.
    fingerprint_secret: bytes | None = field(default=None, repr=False)

    def exempt(self, path: str) -> bool:
        return any(path.startswith(prefix) for prefix in self.exempt_path_prefixes)

    def __post_init__(self) -> None:
        if self.retention < MINIMUM_RETENTION:
            raise ValueError("keys must be kept at least 24 hours")
        if self.lease < timedelta(seconds=3):
            raise ValueError("a lease shorter than 3 s would expire under ordinary latency")
        if self.prune_batch_size < 1 or self.prune_max_batches < 1:
            raise ValueError("pruning needs a positive batch size and batch count")

    @property
    def renew_every_s(self) -> float:
        return self.lease.total_seconds() / 3
