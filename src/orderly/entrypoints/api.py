"""The HTTP deployable: FastAPI app built from a container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from orderly import __version__
from orderly.entrypoints.bootstrap import Container
from orderly.platform.auth.openapi import document_optional_auth
from orderly.platform.http.health import health_router
from orderly.platform.http.middleware import RequestContextMiddleware
from orderly.platform.http.problems import install_problem_handlers
from orderly.platform.idempotency import IdempotencyConfig, install_idempotency, principal_scope
from orderly.platform.observability.exposition import metrics_router, watch_pool
from orderly.platform.observability.http import HttpObservabilityMiddleware
from orderly.platform.ratelimit import install_rate_limits
from orderly.platform.settings import Settings

DESCRIPTION = """
Orderly is a headless commerce backend. Errors are RFC 9457 problem documents
(`application/problem+json`) with a stable `type`; validation errors list each
offending field under `errors`. Every response carries an `X-Request-ID`.
"""


def create_app(container: Container, *, run_background: bool) -> FastAPI:
    """Build the app. ``run_background`` also runs the outbox relay and the
    consumers in this process (the embedded default and small deployments)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await container.start()
        idempotency_pruner.start()
        if run_background:
            await container.start_consumers()
            container.start_background_tasks()
            container.start_relay()
        try:
            yield
        finally:
            await idempotency_pruner.stop()
            await container.close()

    app = FastAPI(
        title="Orderly",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's own OpenTelemetry spans would duplicate the server span of
        # HttpObservabilityMiddleware and record raw paths, which carry
        # capability ids (docs/observability.md).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_problem_handlers(app)
    # Every POST/PUT/PATCH/DELETE honours Idempotency-Key (ADR 0030). Added
    # before RequestContextMiddleware so that one wraps it: its answers carry
    # the request id.
    idempotency_pruner = install_idempotency(
        app,
        engine=container.engine,
        resolve_scope=principal_scope,
        config=IdempotencyConfig(
            exempt_path_prefixes=("/oauth/",), fingerprint_secret=_fingerprint_secret(container.settings)
        ),
    )
    # Rate limits per client and route (ADR 0009): outside the idempotency
    # layer, so a refused request never claims its key or reaches its storage.
    install_rate_limits(app, redis=container.redis, settings=container.settings)
    # The body limit lives in this middleware, not in FastAPI(max_body_size=...):
    # FastAPI's limiter sits outside every user middleware and would answer 413
    # as plain text without the request id.
    app.add_middleware(RequestContextMiddleware, max_body_bytes=container.settings.max_body_bytes)
    # Outermost: the request-id middleware's log line and last-resort 500 are
    # inside the request's span and counted (docs/observability.md).
    app.add_middleware(HttpObservabilityMiddleware, routes=app.router.routes)
    if container.settings.metrics_on_api:
        app.include_router(metrics_router())
    watch_pool(container.engine)

    async def check_broker() -> None:
        await container.bus.check()

    app.include_router(
        health_router(
            {
                "database": container.check_database,
                "broker": check_broker,
                "redis": container.check_redis,
            }
        )
    )
    for module in container.modules:
        for router in module.routers():
            app.include_router(router)
    document_optional_auth(app)
    app.state.container = container
    return app


def _fingerprint_secret(settings: Settings) -> bytes | None:
    key = settings.idempotency_fingerprint_key
    if key is None and settings.env == "production":
        raise RuntimeError("ORDERLY_IDEMPOTENCY_FINGERPRINT_KEY is required when ORDERLY_ENV=production")
    return key.get_secret_value().encode() if key is not None else None
