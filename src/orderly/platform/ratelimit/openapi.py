"""The 429 of every limited operation, declared in the OpenAPI document with its policy."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from orderly.platform.http.problems import PROBLEM_MEDIA_TYPE
from orderly.platform.ratelimit.policy import Policy, PolicyTable

_METHODS = frozenset({"get", "head", "options", "post", "put", "patch", "delete"})
_HEADERS = {
    "Retry-After": ("integer", "Seconds until this request would be admitted."),
    "RateLimit-Policy": ("string", 'The quota: `"<class>";q=<requests>;w=<seconds>`.'),
    "RateLimit": ("string", 'What is left: `"<class>";r=0;t=<seconds until one more request is admitted>`.'),
}


def document_rate_limits(app: FastAPI, policies: PolicyTable) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches and may rebuild the document; setting the same
        # entries again is harmless.
        schema = build()
        has_problem = "Problem" in schema.get("components", {}).get("schemas", {})
        for path, path_item in schema.get("paths", {}).items():
            for method, operation in path_item.items():
                policy = policies.policy(method.upper(), path) if method in _METHODS else None
                if policy is not None:
                    operation.setdefault("responses", {})["429"] = _too_many_requests(policy, has_problem)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _too_many_requests(policy: Policy, has_problem: bool) -> dict[str, Any]:
    quota = policy.quota
    media: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/Problem"}} if has_problem else {}
    description = (
        f'Too many requests: over this client\'s quota for this operation, policy "{policy.name}"'
        f" ({quota.limit} per {quota.window_s} s). Every answer of the operation carries"
        " `RateLimit-Policy` and `RateLimit`; see docs/api/rate-limits.md."
    )
    return {
        "description": description,
        "headers": {
            name: {"description": text, "schema": {"type": kind}} for name, (kind, text) in _HEADERS.items()
        },
        "content": {PROBLEM_MEDIA_TYPE: media},
    }
