"""The ASGI middleware that gives every unsafe endpoint ``Idempotency-Key`` semantics.

It acts only when the header is present (routes that *require* it say so with
the ``Idempotent`` dependency). It has to be middleware, not a dependency: it
must see the whole request body for the fingerprint and capture the whole
response to store it. It sits inside RequestContextMiddleware, so its own
answers carry the request id, and buffers the response of a keyed request
until the response is stored (phase 3), so a client never holds an answer the
key does not remember.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderly.platform.http.problems import problem_response
from orderly.platform.idempotency.config import IdempotencyConfig
from orderly.platform.idempotency.keys import (
    HEADER,
    REPLAYED_HEADER,
    IdempotencyKey,
    InvalidKey,
    current_idempotency_key,
    fingerprint,
    parse_key,
)
from orderly.platform.idempotency.scope import ScopeResolver, header_scope
from orderly.platform.idempotency.state import (
    InFlight,
    Replay,
    Reused,
    StoredResponse,
    replayable_headers,
    should_store,
)
from orderly.platform.idempotency.store import Claim, IdempotencyStore

log = structlog.get_logger(module="platform.idempotency")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Where the middleware leaves its per-request record in the ASGI scope's state.
STATE_KEY = "orderly.idempotency"
_HEADER_NAME = HEADER.lower().encode()


@dataclass
class RequestIdempotency:
    """What the middleware decided for one request; read by ``Idempotent``."""

    key: IdempotencyKey | None
    # Set when the request was refused before its endpoint ran (request
    # validation): the key is then released instead of storing the answer.
    rejected_before_execution: bool = False


def tracking(scope: Scope) -> RequestIdempotency | None:
    """The middleware's record of this request, None if it did not look at it."""
    record = scope.get("state", {}).get(STATE_KEY)
    return record if isinstance(record, RequestIdempotency) else None


def mark_rejected_before_execution(scope: Scope) -> None:
    if (record := tracking(scope)) is not None:
        record.rejected_before_execution = True


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        store: IdempotencyStore,
        resolve_scope: ScopeResolver = header_scope,
        config: IdempotencyConfig | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.resolve_scope = resolve_scope
        self.config = config or IdempotencyConfig()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in UNSAFE_METHODS
            or self.config.exempt(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        values = [value for name, value in scope["headers"] if name == _HEADER_NAME]
        if not values:
            state[STATE_KEY] = RequestIdempotency(key=None)
            await self.app(scope, receive, send)
            return
        try:
            key = parse_key(values)
        except InvalidKey as exc:
            await _problem(400, "idempotency-key-invalid", "Invalid Idempotency-Key", str(exc))(
                scope, receive, send
            )
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client went away before sending its request
        await self._handle(scope, receive, send, key=key, body=body)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, *, key: str, body: bytes) -> None:
        request = Request(scope)
        caller = await self.resolve_scope(request)
        path = scope.get("raw_path") or scope["path"].encode()
        result = await self.store.begin(
            scope=caller,
            key=key,
            fingerprint=fingerprint(
                method=scope["method"],
                path=path,
                query=scope.get("query_string", b""),
                content_type=request.headers.get("content-type"),
                body=body,
                secret=self.config.fingerprint_secret,
            ),
            method=scope["method"],
            path=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            lease=self.config.lease,
        )
        if isinstance(result, Replay):
            await _send_stored(send, result.response, replayed=True)
        elif isinstance(result, Reused):
            await _problem(
                422,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "This key was first used for a different request (method, path or body); "
                "use a new key for a new request.",
            )(scope, receive, send)
        elif isinstance(result, InFlight):
            await _problem(
                409,
                "idempotency-key-in-flight",
                "Request with this Idempotency-Key in progress",
                "The first request with this key has not finished yet; retry later for its answer.",
                headers={"Retry-After": str(self.config.in_flight_retry_after_s)},
            )(scope, receive, send)
        else:
            await self._execute(scope, _replaying(body, receive), send, claim=result)

    async def _execute(self, scope: Scope, receive: Receive, send: Send, *, claim: Claim) -> None:
        """Phase 2: run the request under the claim; phase 3 happens when its answer is complete."""
        handler_key = IdempotencyKey(key=claim.key, scope=claim.scope, attempt=claim.attempt)
        record = RequestIdempotency(key=handler_key)
        scope["state"][STATE_KEY] = record
        scope["state"]["idempotency_key"] = handler_key
        context_token = current_idempotency_key.set(handler_key)
        lease = _LeaseKeeper(self.store, claim, self.config)
        response = _ResponseBuffer()

        async def finish(
            answer: StoredResponse, live_headers: list[tuple[bytes, bytes]] | None = None
        ) -> None:
            lease.stop()
            executed = not record.rejected_before_execution and _routed(scope)
            await self._record(claim, answer, executed=executed)
            if live_headers is None:
                await _send_stored(send, answer, replayed=False)
                return
            # The live answer keeps every header the endpoint set (Retry-After,
            # WWW-Authenticate...); replays carry the stored subset.
            await send({"type": "http.response.start", "status": answer.status, "headers": live_headers})
            await send({"type": "http.response.body", "body": answer.body, "more_body": False})

        async def buffered_send(message: Message) -> None:
            if response.done:
                await send(message)
            elif response.take(message):
                await finish(response.stored(), response.headers)

        lease.start()
        try:
            await self.app(scope, receive, buffered_send)
        except Exception:
            if response.done:
                raise
            # The endpoint may have had effects before failing: like any
            # other answer, the 500 is what this key now answers.
            log.exception("unhandled error", method=scope["method"], path=scope["path"])
            await finish(_stored(_problem(500, "internal-error", "Internal server error", _INTERNAL_DETAIL)))
        finally:
            lease.stop()
            current_idempotency_key.reset(context_token)

    async def _record(self, claim: Claim, answer: StoredResponse, *, executed: bool) -> None:
        try:
            if should_store(answer.status, executed=executed):
                if not await self.store.complete(claim, answer):
                    log.warning("idempotency lease lost before completion; answer not stored", key=claim.key)
            else:
                await self.store.release(claim)
        except Exception:
            # The answer still goes to the client. The key stays in flight
            # until its lease lapses, then a retry re-executes (ADR 0030).
            log.exception("could not record the idempotent answer", key=claim.key)


_INTERNAL_DETAIL = "The error was logged; quote the request id."


def _problem(
    status: int, slug: str, title: str, detail: str, *, headers: dict[str, str] | None = None
) -> Response:
    return problem_response(status, slug, title, detail=detail, headers=headers)


def _routed(scope: Scope) -> bool:
    # The router records the route it matched; no route means a 404 that
    # no endpoint produced.
    return scope.get("route") is not None or scope.get("endpoint") is not None


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` that hands the app the body already read, then the real channel
    (so the app still learns of a disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


@dataclass
class _ResponseBuffer:
    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    done: bool = False

    def take(self, message: Message) -> bool:
        """Collect one message; True once the response is complete."""
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                self.done = True
        return self.done

    def stored(self) -> StoredResponse:
        return StoredResponse(
            status=self.status, headers=replayable_headers(self.headers), body=b"".join(self.chunks)
        )


def _stored(response: Response) -> StoredResponse:
    return StoredResponse(
        status=response.status_code,
        headers=replayable_headers(list(response.raw_headers)),
        body=bytes(response.body),
    )


async def _send_stored(send: Send, response: StoredResponse, *, replayed: bool) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
    if response.status >= 200 and response.status not in (204, 304):
        headers.append((b"content-length", str(len(response.body)).encode()))
    if replayed:
        headers.append((REPLAYED_HEADER.lower().encode(), b"true"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body, "more_body": False})


class _LeaseKeeper:
    """Renews the claim's lease while the request runs, so that only a dead
    process ever lets it lapse. Nothing is scheduled for requests that finish
    before the first renewal is due."""

    def __init__(self, store: IdempotencyStore, claim: Claim, config: IdempotencyConfig) -> None:
        self._store = store
        self._claim = claim
        self._config = config
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._handle = loop.call_later(self._config.renew_every_s, self._spawn)

    def _spawn(self) -> None:
        self._task = asyncio.create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while True:
            try:
                if not await self._store.renew(self._claim, lease=self._config.lease):
                    log.warning("idempotency lease lost while executing", key=self._claim.key)
                    return
            except Exception:
                log.exception("could not renew an idempotency lease", key=self._claim.key)
            await asyncio.sleep(self._config.renew_every_s)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._task is not None:
            self._task.cancel()
