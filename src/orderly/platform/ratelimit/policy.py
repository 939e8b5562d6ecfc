"""Which quota a request spends: its route's class, and each class's quota.

Every operation (method and route template) belongs to one class: ``read``
(GET and HEAD), ``write`` (the other methods), or one of the stricter
``checkout`` and ``auth`` classes named in ``DEFAULT_ROUTE_CLASSES``.
``ORDERLY_RATE_LIMIT_ROUTES`` moves operations between classes or takes them
out (``none``). Each client has its own bucket per operation, so a client
busy on one route does not starve another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import structlog

from orderly.platform.ratelimit.gcra import Quota
from orderly.platform.settings import RateLimitClass, RateLimitRouteClass, Settings

log = structlog.get_logger(module="platform.ratelimit")

UNLIMITED: Final = "none"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Probes and scrapes must reach the process however busy it is, and whatever
# the settings say.
NEVER_LIMITED = frozenset({"GET /healthz", "GET /readyz", "GET /metrics"})

# Operations whose class is not the one their method implies.
DEFAULT_ROUTE_CLASSES: Mapping[str, RateLimitRouteClass] = {
    # Sign-in (the form's POST), tokens, and registration: what a password
    # or client-secret guesser would hammer.
    "POST /oauth/authorize": "auth",
    "POST /oauth/token": "auth",
    "POST /oauth/revoke": "auth",
    "POST /oauth/introspect": "auth",
    "POST /v1/customers": "auth",
    # Proves the current password: a guesser holding a stolen token would hammer it.
    "POST /v1/me/password": "auth",
    # Each checkout reserves stock and authorizes a payment.
    "POST /v1/checkouts": "checkout",
    # The payment provider's webhooks: one sender, signed, and a webhook
    # turned away only delays the payment it reports.
    "POST /v1/payments/webhooks/sim": UNLIMITED,
}


def operation(method: str, route: str) -> str:
    """``"POST /v1/checkouts"``: how settings and policies name one route and method."""
    return f"{method} {route}"


@dataclass(frozen=True, slots=True)
class Policy:
    """A named quota; the name is the route class, shown in the RateLimit headers and metrics."""

    name: RateLimitClass
    quota: Quota


class PolicyTable:
    def __init__(
        self,
        quotas: Mapping[RateLimitClass, Quota],
        routes: Mapping[str, RateLimitRouteClass] | None = None,
    ) -> None:
        self._policies = {name: Policy(name, quota) for name, quota in quotas.items()}
        self._routes = {**DEFAULT_ROUTE_CLASSES, **(routes or {})}
        self._overrides = frozenset(routes or ())

    @classmethod
    def from_settings(cls, settings: Settings) -> PolicyTable:
        quotas: dict[RateLimitClass, Quota] = {
            "read": _quota(settings.rate_limit_read.limit, settings.rate_limit_read.window_s),
            "write": _quota(settings.rate_limit_write.limit, settings.rate_limit_write.window_s),
            "checkout": _quota(settings.rate_limit_checkout.limit, settings.rate_limit_checkout.window_s),
            "auth": _quota(settings.rate_limit_auth.limit, settings.rate_limit_auth.window_s),
        }
        return cls(quotas, settings.rate_limit_routes)

    def policy(self, method: str, route: str) -> Policy | None:
        """The policy of an operation; None if it is not limited."""
        name = operation(method, route)
        if name in NEVER_LIMITED:
            return None
        route_class = self._routes.get(name) or ("read" if method in SAFE_METHODS else "write")
        if route_class == "none":
            return None
        return self._policies[route_class]

    def check_overrides(self, operations: Iterable[str]) -> None:
        """Warn about settings that change nothing: an operation no route serves, or a never-limited one."""
        served = set(operations)
        for name in sorted(self._overrides):
            if name in NEVER_LIMITED:
                log.warning("ORDERLY_RATE_LIMIT_ROUTES names a route that is never limited", operation=name)
            elif name not in served:
                log.warning("ORDERLY_RATE_LIMIT_ROUTES names no route of this app", operation=name)


def _quota(limit: int, window_s: int) -> Quota:
    return Quota(limit=limit, window_s=window_s)
