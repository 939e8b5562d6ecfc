"""RFC 9457 problem details: one mapping from every failure to a stable ``type``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from orderly.platform import context
from orderly.shared_kernel.errors import (
    ConcurrencyConflict,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    Unavailable,
)

log = structlog.get_logger(module="platform.http")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:orderly:problem:"

_HTTP_TYPES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    503: "service-unavailable",
}


class InvalidParam(BaseModel):
    name: str = Field(description="Dotted path of the offending field, e.g. `variants.0.price.amount`.")
    reason: str
    location: str = Field(description="Where the field was: body, query, path or header.")


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(description="Stable identifier of the kind of problem (`urn:orderly:problem:...`).")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[InvalidParam] | None = None


def problem_response(
    status: int,
    slug: str,
    title: str,
    /,
    *,
    detail: str | None = None,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {"type": TYPE_PREFIX + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if (request_id := context.request_id_var.get()) is not None:
        body["request_id"] = request_id
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(
        content=orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries declaring the problem documents a route can return."""
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_MEDIA_TYPE: {}},
            "description": _HTTP_TYPES.get(status, "error"),
        }
        for status in statuses
    }


def scope_problems(scope: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the 401 and 403 of a route guarded by ``requires(scope)``."""
    documented = problem_responses(401, 403)
    documented[401]["description"] = "No access token, or one that does not verify (see `WWW-Authenticate`)."
    documented[403]["description"] = f"The access token lacks the `{scope}` scope."
    return documented


def _location_and_name(loc: tuple[Any, ...] | list[Any]) -> tuple[str, str]:
    parts = list(loc)
    location = (
        str(parts.pop(0)) if parts and parts[0] in {"body", "query", "path", "header", "cookie"} else "body"
    )
    return location, ".".join(str(p) for p in parts) or location


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        return _malformed_json()
    params = []
    for error in errors:
        location, name = _location_and_name(error.get("loc", ()))
        params.append({"name": name, "reason": str(error.get("msg", "invalid")), "location": location})
    names = ", ".join(p["name"] for p in params[:5])
    return problem_response(
        422, "validation-error", "Invalid request", detail=f"Invalid field(s): {names}", errors=params
    )


# FastAPI answers a body it could not decode at all (invalid UTF-8, nesting or
# integers past the parser's limits) with this 400 rather than a validation
# error; to a client it is the same mistake as a syntax error.
_FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _FASTAPI_BODY_PARSE_ERROR:
        return _malformed_json()
    slug = _HTTP_TYPES.get(exc.status_code, "http-error")
    title = slug.replace("-", " ").capitalize()
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
    return problem_response(exc.status_code, slug, title, detail=detail, headers=headers)


def _allowed_methods(request: Request) -> set[str]:
    """Every method some route accepts on this path.

    Starlette's 405 names only the methods of the first route whose path
    matched, but FastAPI registers one route per method, so ``Allow`` would
    leave out the others (RFC 9110 wants them all). Each method is tried
    against the routing table as a fresh request would be.
    """
    fresh = {key: request.scope[key] for key in _ROUTING_SCOPE_KEYS if key in request.scope}
    routes = request.app.router.routes
    return {
        method
        for method in _METHODS
        if any(route.matches({**fresh, "method": method})[0] is Match.FULL for route in routes)
    }


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Only what routing reads: the keys routing itself added while handling the
# real request (route, endpoint, path params) must not steer the probes.
_ROUTING_SCOPE_KEYS = ("type", "path", "raw_path", "root_path", "headers", "query_string", "app")


def _malformed_json() -> Response:
    return problem_response(400, "malformed-json", "Malformed JSON", detail="The body is not valid JSON.")


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    status, title = _domain_status(exc)
    params = None
    if isinstance(exc, InvalidInput) and "field" in exc.details:
        location = str(exc.details.get("location", "body"))
        params = [{"name": str(exc.details["field"]), "reason": exc.message, "location": location}]
    # A detail may be called anything ("slug", "status"...): it becomes an
    # extension member unless it would replace a member RFC 9457 or we define.
    extra: dict[str, Any] = {
        k: v for k, v in exc.details.items() if k not in _NOT_EXTENSIONS and isinstance(v, str | int)
    }
    headers = {"Retry-After": str(exc.retry_after_s)} if isinstance(exc, Unavailable) else None
    return problem_response(
        status, exc.code, title, detail=exc.message, errors=params, headers=headers, **extra
    )


_NOT_EXTENSIONS = frozenset(
    {"field", "location", "type", "title", "status", "detail", "instance", "request_id", "errors", "headers"}
)


def _domain_status(exc: DomainError) -> tuple[int, str]:
    if isinstance(exc, NotFound):
        return 404, "Not found"
    if isinstance(exc, ConcurrencyConflict):
        return 409, "Concurrent modification"
    if isinstance(exc, Conflict):
        return 409, "Conflict"
    if isinstance(exc, InvalidInput):
        return 422, "Invalid request"
    if isinstance(exc, Unavailable):
        return 503, "Service unavailable"
    return 400, "Request refused"


def internal_error_response() -> Response:
    """The answer to a failure nobody handled: no trace, only the request id to quote."""
    return problem_response(
        500, "internal-error", "Internal server error", detail="The error was logged; quote the request id."
    )


async def _unhandled(request: Request, exc: Exception) -> Response:
    # Normally RequestContextMiddleware answers first (it sits inside
    # Starlette's ServerErrorMiddleware, where this handler runs); this catches
    # failures in anything wrapped around it.
    log.exception("unhandled error", path=request.url.path, method=request.method)
    return internal_error_response()


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(Exception, _unhandled)
