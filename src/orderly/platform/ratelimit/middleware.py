"""The ASGI middleware that holds each request to its client's quota for its route.

It must see a request before the idempotency middleware does, so that a
refused request never claims an ``Idempotency-Key`` nor touches its storage:
``entrypoints/api.py`` adds it right after the idempotency layer, which puts
it outside that layer and inside RequestContextMiddleware (its 429 carries the
request id). Running before routing, it finds the route template itself, in
the app's own route table.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from fastapi.routing import iter_route_contexts

# The function Starlette's router itself matches paths with (root_path removed).
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderly.platform.http.problems import problem_response
from orderly.platform.observability.metrics import RATE_LIMITED
from orderly.platform.ratelimit.clients import bucket_key, client_of
from orderly.platform.ratelimit.gcra import RedisRateLimiter
from orderly.platform.ratelimit.headers import encoded, rate_limit_headers
from orderly.platform.ratelimit.policy import Policy, PolicyTable, operation

ClientResolver = Callable[[Request], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class _Limited:
    policy: Policy
    operation: str


@dataclass(frozen=True, slots=True)
class _Route:
    path: re.Pattern[str]
    methods: dict[str, _Limited | None]


class OperationTable:
    """Finds a request's operation (method and route template) and its policy, as the router would."""

    def __init__(self, routes: Sequence[BaseRoute], policies: PolicyTable) -> None:
        self._routes: list[_Route] = []
        served: list[str] = []
        # Included routers are resolved into their effective routes (prefixes
        # applied) by FastAPI's own iterator, in the order the router tries them.
        for context in iter_route_contexts(routes):
            path, methods = getattr(context, "path", None), context.methods
            if not isinstance(path, str) or not methods:
                continue
            regex, template, _ = compile_path(path)
            limited: dict[str, _Limited | None] = {}
            for method in methods:
                policy = policies.policy(method, template)
                limited[method] = None if policy is None else _Limited(policy, operation(method, template))
                served.append(operation(method, template))
            self._routes.append(_Route(regex, limited))
        policies.check_overrides(served)

    def lookup(self, scope: Scope) -> _Limited | None:
        path, method = get_route_path(scope), scope["method"]
        for route in self._routes:
            if method in route.methods and route.path.match(path):
                return route.methods[method]
        # No route: the router answers 404 or 405 without doing any work.
        return None


class RateLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: RedisRateLimiter,
        policies: PolicyTable,
        routes: Sequence[BaseRoute],
        identify: ClientResolver = client_of,
    ) -> None:
        self.app = app
        self._limiter = limiter
        self._policies = policies
        self._routes = routes
        self._identify = identify
        self._table: OperationTable | None = None
        self._refused = {name: RATE_LIMITED.labels(name) for name in ("read", "write", "checkout", "auth")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (limited := self._operations().lookup(scope)) is None:
            await self.app(scope, receive, send)
            return
        policy = limited.policy
        client = await self._identify(Request(scope))
        decision = await self._limiter.acquire(
            bucket_key(policy.name, limited.operation, client), policy.quota
        )
        headers = rate_limit_headers(policy, decision)
        if decision is not None and not decision.admitted:
            self._refused[policy.name].inc()
            await _too_many_requests(policy, decision.wait_whole_s, headers)(scope, receive, send)
            return
        fields = encoded(headers)

        async def send_with_fields(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *fields]}
            await send(message)

        await self.app(scope, receive, send_with_fields)

    def _operations(self) -> OperationTable:
        # Built on the first request: modules add their routes after the
        # middleware is declared.
        if self._table is None:
            self._table = OperationTable(self._routes, self._policies)
        return self._table


def _too_many_requests(policy: Policy, retry_after_s: int, headers: dict[str, str]) -> Response:
    quota = policy.quota
    return problem_response(
        429,
        "too-many-requests",
        "Too many requests",
        detail=f"This client may send {quota.limit} requests per {quota.window_s} s to this operation"
        f' (policy "{policy.name}"); retry after {retry_after_s} s.',
        headers=headers,
    )
