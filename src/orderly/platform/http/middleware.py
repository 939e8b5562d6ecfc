"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request)."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderly.platform import context
from orderly.platform.http.problems import internal_error_response, problem_response

log = structlog.get_logger(module="platform.http")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes the limit; FastAPI
    lets HTTP exceptions from reading the body through to the problem handlers."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"The body is larger than {limit} bytes.")
        self.limit = limit


class RequestContextMiddleware:
    """Give every request an id (honouring a sane incoming ``X-Request-ID``),
    echo it on the response, bind it to logs, and log one line per request.

    It is also the last line of defence, so that even the worst answers carry
    the id: a body over ``max_body_bytes`` gets a 413 problem, and an exception
    nothing handled gets a 500 problem with no trace. Both are answered here
    rather than by Starlette's own body limit and error middleware, which sit
    outside every user middleware and would answer without the id.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = context.request_id_var.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                out_headers = list(message.get("headers", []))
                out_headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = out_headers
            await send(message)

        try:
            limit = self.max_body_bytes
            if limit is not None and _declared_length(headers) > limit:
                # Refuse before reading a byte of it.
                await _too_large(limit)(scope, receive, send_with_id)
            else:
                await self.app(scope, _limited(receive, limit), send_with_id)
        except Exception as exc:
            if response_started:
                raise
            if isinstance(exc, BodyTooLarge):
                await _too_large(exc.limit)(scope, receive, send_with_id)
            else:
                log.exception(
                    "unhandled error",
                    method=scope["method"],
                    route=getattr(scope.get("route"), "path_format", None) or "unmatched",
                )
                await internal_error_response()(scope, receive, send_with_id)
        finally:
            # The route template, not the raw path: paths carry capability ids
            # (a guest cart id is all it takes to open that cart).
            route = getattr(scope.get("route"), "path_format", None)
            log.info(
                "request",
                method=scope["method"],
                route=route or "unmatched",
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")
            context.request_id_var.reset(token)


def _declared_length(headers: dict[bytes, bytes]) -> int:
    try:
        return int(headers.get(b"content-length", b"0"))
    except ValueError:
        return 0


def _limited(receive: Receive, limit: int | None) -> Receive:
    """``receive`` that counts the body and stops it at ``limit`` bytes
    (a chunked body declares no length up front)."""
    if limit is None:
        return receive
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_limited


def _too_large(limit: int) -> ASGIApp:
    return problem_response(
        413, "payload-too-large", "Payload too large", detail=f"The body is larger than {limit} bytes."
    )
