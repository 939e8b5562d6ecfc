"""What the OpenAPI document says about routes whose bearer token is optional.

FastAPI lists every security dependency as required: a route that serves
guests as well as signed-in callers (a guest cart, a guest checkout) would be
documented as refusing requests without a token, and clients and API tools
would believe it. Such routes depend on ``optional_bearer_scheme`` instead of
``bearer_scheme``, and ``document_optional_auth`` adds the empty requirement
(``{}``) that OpenAPI uses for "no credentials will do too".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from orderly.platform.auth.dependencies import optional_bearer_scheme


def document_optional_auth(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        # Rebuilt by FastAPI when routes change; adding ``{}`` twice is avoided below.
        schema = build()
        for path, method in _optional_operations(app):
            operation = schema.get("paths", {}).get(path, {}).get(method.lower())
            if operation is not None and {} not in operation.setdefault("security", []):
                operation["security"].append({})
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _optional_operations(app: FastAPI) -> Iterator[tuple[str, str]]:
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        if isinstance(dependant, Dependant) and _uses_optional_bearer(dependant):
            for method in context.methods or ():
                yield str(context.path_format), method


def _uses_optional_bearer(dependant: Dependant) -> bool:
    return any(
        dependency.call is optional_bearer_scheme or _uses_optional_bearer(dependency)
        for dependency in dependant.dependencies
    )
