"""The Prometheus metrics Orderly exports, and the label rules that keep them bounded.

They live in prometheus-client's default registry, next to its process and
GC collectors: one process is one scrape target, and every counter in it is
the process's own. Every label value comes from code (route templates,
module and consumer names, a fixed set of methods and status classes), never
from a raw request, so no client can grow the number of series.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# A ``*_created`` timestamp series beside every counter and histogram doubles
# the series count for something Prometheus does not read by default.
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus-client leaves it unannotated

# Fast endpoints answer in a millisecond or two; the tail we care about is
# the one that crosses a second.
LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "orderly_http_requests",
    "HTTP requests answered, by method, route template and status class.",
    ("method", "route", "status_class"),
)
HTTP_REQUEST_DURATION = Histogram(
    "orderly_http_request_duration_seconds",
    "Time from receiving a request to the end of its response.",
    ("method", "route", "status_class"),
    buckets=LATENCY_BUCKETS,
)

OUTBOX_PUBLISHED = Counter(
    "orderly_outbox_published",
    "Outbox rows the relay handed to the broker (confirmed), per module.",
    ("module",),
)
OUTBOX_PUBLISH_DURATION = Histogram(
    "orderly_outbox_publish_duration_seconds",
    "Time to publish one batch of outbox rows to the broker (confirms included).",
    ("module",),
    buckets=LATENCY_BUCKETS,
)
OUTBOX_RELAY_ERRORS = Counter(
    "orderly_outbox_relay_errors",
    "Relay passes that failed (database or broker unreachable, ...); the relay retries with backoff.",
)
OUTBOX_UNPUBLISHED = Gauge(
    "orderly_outbox_unpublished",
    "Outbox rows not yet published, per module (sampled by the relay every few seconds).",
    ("module",),
)
OUTBOX_OLDEST_UNPUBLISHED_AGE = Gauge(
    "orderly_outbox_oldest_unpublished_age_seconds",
    "Age of the oldest unpublished outbox row, per module (0 when none; sampled by the relay).",
    ("module",),
)

CONSUMER_PROCESSED = Counter(
    "orderly_consumer_processed",
    "Messages a consumer's handler finished without error (duplicates it dropped included).",
    ("consumer",),
)
CONSUMER_FAILED = Counter(
    "orderly_consumer_failed",
    "Handler attempts that raised; each retry that fails counts again.",
    ("consumer",),
)
CONSUMER_DEAD_LETTERED = Counter(
    "orderly_consumer_dead_lettered",
    "Messages a consumer gave up on (poison, delivery limit reached, undecodable).",
    ("consumer",),
)
CONSUMER_HANDLER_DURATION = Histogram(
    "orderly_consumer_handler_duration_seconds",
    "Time one handler attempt took, success or failure.",
    ("consumer",),
    buckets=LATENCY_BUCKETS,
)
INBOX_DUPLICATES = Counter(
    "orderly_inbox_duplicates",
    "Redelivered messages a consumer's inbox recognised and dropped without applying them again.",
    ("consumer",),
)

RETENTION_PRUNED = Counter(
    "orderly_retention_pruned",
    "Rows the retention pruner deleted, per module and table (outbox: published rows past their"
    " retention; inbox: applied-message records past theirs).",
    ("module", "table"),
)
RETENTION_ERRORS = Counter(
    "orderly_retention_errors",
    "Pruning passes over one module that failed; the next pass tries again.",
    ("module",),
)

RATE_LIMITED = Counter(
    "orderly_rate_limited",
    "Requests the API rate limiter refused with 429, per policy (the class of route they were sent to).",
    ("policy",),
)
RATE_LIMIT_FAIL_OPEN = Counter(
    "orderly_rate_limit_fail_open",
    "Limit checks skipped and the request let through unchecked, per limiter and reason: Redis failed"
    " (error), outlasted the time budget (timeout), or was being left alone after a failure (paused).",
    ("limiter", "reason"),
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
# Requests no route matched (404s on unknown paths, probes for files that
# do not exist): one series for all of them, whatever the path.
UNMATCHED_ROUTE = "unmatched"


def method_label(method: str) -> str:
    """The method as a label: anything outside the standard ones is ``OTHER``."""
    return method if method in _METHODS else "OTHER"


def status_class(status: int) -> str:
    """``2xx``, ``4xx``...: the class of an HTTP status code."""
    index = status // 100 - 1
    if 0 <= index < len(_STATUS_CLASSES):
        return _STATUS_CLASSES[index]
    return "5xx"  # a code outside 100-599 is a server bug; count it as one
