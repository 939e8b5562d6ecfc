"""The life of one key, as pure rules (no I/O): what a request finds, what it may do.

::

    (none) --begin--> in_flight --complete--> completed --(24 h+)--> pruned
                         |   ^
                         |   '--take over (lease expired, same fingerprint)
                         '--release (not executed: validation, 401, 405, 429, 503)--> (none)
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

# Only the fields that describe the representation are replayed; hop-by-hop
# fields, cookies and per-request ones (request id, rate limits) are not.
STORED_HEADERS = frozenset(
    {
        "cache-control",
        "content-language",
        "content-location",
        "content-type",
        "etag",
        "last-modified",
        "link",
        "location",
        "preference-applied",
    }
)

# Answers that mean "nothing was done, try again" rather than a result: the
# caller refused before the endpoint ran (401), throttled (429), or told to
# come back later (503). Storing them would replay a refusal for a day.
RELEASED_STATUSES = frozenset({401, 405, 429, 503})


class KeyState(StrEnum):
    IN_FLIGHT = "in_flight"
    COMPLETED = "completed"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class KeyRecord:
    """A key as stored. ``locked_until`` is the lease of the execution in flight."""

    fingerprint: str
    state: KeyState
    locked_until: datetime | None
    attempts: int
    response: StoredResponse | None


@dataclass(frozen=True)
class Execute:
    """Run the request: the key is new, or its last execution was abandoned."""

    attempt: int
    took_over: bool


@dataclass(frozen=True)
class Replay:
    """Answer with the stored response; the request does not run again."""

    response: StoredResponse


@dataclass(frozen=True)
class Reused:
    """The key was first used for a different request (422)."""


@dataclass(frozen=True)
class InFlight:
    """An execution under this key holds a live lease (409)."""

    locked_until: datetime


Decision = Execute | Replay | Reused | InFlight


def decide(record: KeyRecord | None, *, fingerprint: str, now: datetime) -> Decision:
    """What a request carrying an already-known key (or a new one) may do.

    A different request is refused before anything else, whatever the key's
    state, so a key can never be borrowed to read another request's answer.
    """
    if record is None:
        return Execute(attempt=1, took_over=False)
    if not hmac.compare_digest(record.fingerprint, fingerprint):
        return Reused()
    if record.state is KeyState.COMPLETED:
        if record.response is None:
            raise ValueError("a completed key without a stored response")
        return Replay(record.response)
    if record.locked_until is not None and record.locked_until > now:
        return InFlight(locked_until=record.locked_until)
    # The execution that held the key stopped renewing its lease: its process
    # died mid-request. This retry becomes the execution of record.
    return Execute(attempt=record.attempts + 1, took_over=True)


def should_store(status: int, *, executed: bool) -> bool:
    """Whether a finished request's response becomes the key's answer.

    ``executed`` is False when the request never reached its endpoint (no
    route matched, or request validation rejected it); the key is then
    released so the client may fix the request and retry with the same key.
    Every other answer is stored, failures and 5xx included (except the
    retry-later ones above), since the endpoint may have had effects.
    """
    return executed and status not in RELEASED_STATUSES


def replayable_headers(raw: list[tuple[bytes, bytes]]) -> tuple[tuple[str, str], ...]:
    return tuple(
        (name.decode("latin-1").lower(), value.decode("latin-1"))
        for name, value in raw
        if name.decode("latin-1").lower() in STORED_HEADERS
    )
