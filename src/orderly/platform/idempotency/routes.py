"""How a route declares that it needs a key, and how the API documents the header."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from pydantic.json_schema import models_json_schema

from orderly.platform.http.problems import PROBLEM_MEDIA_TYPE, Problem
from orderly.platform.idempotency.keys import HEADER, KEY_PATTERN, MAX_KEY_LENGTH, IdempotencyKey
from orderly.platform.idempotency.middleware import UNSAFE_METHODS, tracking

_DESCRIPTION = (
    "A unique value (1-255 printable ASCII characters, e.g. a UUID) that makes "
    "retries of this request safe: a retry with the same key and the same request "
    "gets the first answer back (marked `Idempotent-Replayed: true`) instead of "
    "running again; the same key with a different request is 422; while the first "
    "is still running, 409 with `Retry-After`. Keys are kept at least 24 hours."
)


class IdempotencyKeyMissing(Exception):
    """A route that requires ``Idempotency-Key`` was called without one."""


class IdempotencyNotInstalled(RuntimeError):
    """A key reached a route, but no IdempotencyMiddleware looked at it."""


class Idempotent:
    """Dependency giving the handler the request's key (None if the caller sent none).

    ``Idempotent(required=True)`` refuses requests without a key (400,
    ``urn:orderly:problem:idempotency-key-missing``); use it on routes whose
    retries must never act twice, such as checkout and payments. The key is
    honoured by the middleware either way; this only adds the requirement and
    the handler's view of the key (see ``IdempotencyKey.derive``).
    """

    def __init__(self, *, required: bool = False) -> None:
        self.required = required

    async def __call__(
        self,
        request: Request,
        idempotency_key: Annotated[
            str | None,
            # No length rule here: the middleware has already judged the key
            # (a quoted key is longer than the key it carries).
            Header(alias=HEADER, description=_DESCRIPTION),
        ] = None,
    ) -> IdempotencyKey | None:
        record = tracking(request.scope)
        if record is None:
            if idempotency_key is not None and request.method in UNSAFE_METHODS:
                # Fail loudly: a route that promises idempotency must never run
                # unprotected because the app was wired without the middleware.
                raise IdempotencyNotInstalled("Idempotency-Key sent, but IdempotencyMiddleware is missing")
        elif record.key is not None:
            return record.key
        if self.required:
            raise IdempotencyKeyMissing
        return None


RequiredIdempotencyKey = Annotated[IdempotencyKey, Depends(Idempotent(required=True))]
OptionalIdempotencyKey = Annotated[IdempotencyKey | None, Depends(Idempotent())]


def _markers(dependant: Dependant) -> Iterator[Idempotent]:
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, Idempotent):
            yield dependency.call
        yield from _markers(dependency)


def requires_key(dependant: Dependant) -> bool:
    return any(marker.required for marker in _markers(dependant))


def document_idempotency(app: FastAPI, *, exempt: Callable[[str], bool] = lambda _: False) -> None:
    """Show ``Idempotency-Key`` on every unsafe operation of the OpenAPI document,
    as required where a route demands it (FastAPI alone cannot express a header
    that is optional in the signature yet answered 400 when missing)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI rebuilds the document when routes change; annotating is
        # idempotent, so it is simply redone on whatever ``build`` returns.
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in _problem_schemas().items():
            components.setdefault(name, definition)
        required = set(_required_operations(app))
        for path, path_item in schema.get("paths", {}).items():
            if exempt(path):
                continue
            for method, operation in path_item.items():
                if method.upper() in UNSAFE_METHODS:
                    _annotate(operation, required=(path, method.upper()) in required)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _required_operations(app: FastAPI) -> Iterator[tuple[str, str]]:
    # Included routers are resolved into their effective routes (prefix and
    # router-level dependencies applied) by FastAPI's own iterator.
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        if isinstance(dependant, Dependant) and requires_key(dependant):
            for method in context.methods or ():
                yield str(context.path_format), method


# What the middleware itself can answer on any unsafe operation, whatever the
# route: a key it cannot read, a key still running, a key used for another request.
_KEY_PROBLEMS = {
    "400": "The Idempotency-Key header is malformed (or missing where required).",
    "409": "The first request with this Idempotency-Key is still running (see `Retry-After`).",
    "422": "This Idempotency-Key was first used for a different request.",
}


def _annotate(operation: dict[str, Any], *, required: bool) -> None:
    parameters: list[dict[str, Any]] = operation.setdefault("parameters", [])
    parameter = next((p for p in parameters if _is_key_header(p)), None)
    if parameter is None:
        parameter = {"name": HEADER, "in": "header", "required": False, "description": _DESCRIPTION}
        parameters.append(parameter)
    # The quoted spelling is two characters longer than the key it carries.
    parameter["schema"] = {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_KEY_LENGTH + 2,
        "pattern": KEY_PATTERN,
    }
    if required:
        parameter["required"] = True
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for status, description in _KEY_PROBLEMS.items():
        responses.setdefault(status, {"description": description, "content": {PROBLEM_MEDIA_TYPE: _PROBLEM}})


_PROBLEM = {"schema": {"$ref": "#/components/schemas/Problem"}}


def _problem_schemas() -> dict[str, Any]:
    """``Problem`` and what it refers to, as OpenAPI components."""
    _, schemas = models_json_schema([(Problem, "serialization")], ref_template="#/components/schemas/{model}")
    return dict(schemas["$defs"])


def _is_key_header(parameter: dict[str, Any]) -> bool:
    return parameter.get("in") == "header" and str(parameter.get("name", "")).lower() == HEADER.lower()
