"""Wiring the idempotency layer into an app (``orderly.entrypoints.api`` calls this)."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from orderly.platform.http.problems import problem_response
from orderly.platform.idempotency.config import IdempotencyConfig
from orderly.platform.idempotency.middleware import IdempotencyMiddleware, mark_rejected_before_execution
from orderly.platform.idempotency.pruner import KeyPruner
from orderly.platform.idempotency.routes import IdempotencyKeyMissing, document_idempotency
from orderly.platform.idempotency.scope import ScopeResolver, header_scope
from orderly.platform.idempotency.store import PostgresIdempotencyStore

# FastAPI's words for a body it could not decode at all: a request refused
# before its endpoint ran, like a validation error.
_BODY_PARSE_ERROR = "There was an error parsing the body"


def install_idempotency(
    app: FastAPI,
    *,
    engine: AsyncEngine,
    resolve_scope: ScopeResolver = header_scope,
    config: IdempotencyConfig | None = None,
) -> KeyPruner:
    """Make every POST/PUT/PATCH/DELETE of ``app`` honour ``Idempotency-Key``.

    Call it after the problem handlers are installed (it wraps the validation
    handler to learn which requests never reached their endpoint) and before
    adding RequestContextMiddleware, which must stay outside it so that the
    idempotency answers carry the request id. Returns the pruner, for the
    app's lifespan to start and stop.
    """
    config = config or IdempotencyConfig()
    store = PostgresIdempotencyStore(engine)
    app.add_middleware(IdempotencyMiddleware, store=store, resolve_scope=resolve_scope, config=config)
    _flag_rejections(app)
    app.add_exception_handler(IdempotencyKeyMissing, _missing_key)
    document_idempotency(app, exempt=config.exempt)
    return KeyPruner(store, config)


async def _missing_key(request: Request, exc: Exception) -> Response:
    return problem_response(
        400,
        "idempotency-key-missing",
        "Idempotency-Key required",
        detail="Send this operation with an Idempotency-Key header, so that a retry cannot run it twice.",
    )


def _flag_rejections(app: FastAPI) -> None:
    """Wrap the handlers that answer requests refused before their endpoint ran."""
    validation = app.exception_handlers[RequestValidationError]
    http_error = app.exception_handlers[HTTPException]

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        mark_rejected_before_execution(request.scope)
        return await _call(validation, request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException) and exc.status_code == 400 and exc.detail == _BODY_PARSE_ERROR:
            mark_rejected_before_execution(request.scope)
        return await _call(http_error, request, exc)

    app.exception_handlers[RequestValidationError] = on_validation_error
    app.exception_handlers[HTTPException] = on_http_error


async def _call(handler: Any, request: Request, exc: Exception) -> Response:
    if inspect.iscoroutinefunction(handler):
        response: Response = await handler(request, exc)
    else:
        response = await run_in_threadpool(handler, request, exc)
    return response
