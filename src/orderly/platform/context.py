"""Request-scoped context (request id, trace parent) carried into logs and messages."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
causation_var: ContextVar[str | None] = ContextVar("causation_id", default=None)


def headers() -> dict[str, str]:
    """Headers stamped on every outgoing message so a flow can be followed end to end."""
    result: dict[str, str] = {}
    if (request_id := request_id_var.get()) is not None:
        result["request_id"] = request_id
    if (causation := causation_var.get()) is not None:
        result["causation_id"] = causation
    return result
