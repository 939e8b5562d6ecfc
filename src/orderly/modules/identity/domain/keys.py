"""Signing-key lifecycle: next -> active -> retired -> gone.

- ``next``: published in the JWKS, signs nothing yet. Verifiers pick it up on
  their normal refresh, so when it starts signing they already know it.
- ``active``: the one key that signs new access tokens (and is published).
- ``retired``: signs nothing, stays published until the last token it signed
  has expired (``publish_until`` = retirement + access-token lifetime + skew).

Rotation promotes ``next`` only once it has been published for at least the
lead time (longer than any verifier caches the JWKS), retires the active key,
and creates the following ``next``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

KeyStatus = Literal["next", "active", "retired"]


class RotationRefused(Exception):
    """Rotating now could make verifiers meet a key they have not fetched yet."""


@dataclass
class SigningKeyState:
    kid: str
    status: KeyStatus
    created_at: datetime
    activated_at: datetime | None = None
    retired_at: datetime | None = None
    publish_until: datetime | None = None

    def is_published(self, now: datetime) -> bool:
        return self.status != "retired" or (self.publish_until is not None and now < self.publish_until)


@dataclass(frozen=True)
class RotationPlan:
    promote: str
    retire: str | None
    retire_publish_until: datetime


def plan_rotation(
    keys: list[SigningKeyState],
    *,
    now: datetime,
    lead_time: timedelta,
    retired_publication: timedelta,
    force: bool,
) -> RotationPlan:
    """Which key becomes active and which retires; the caller then creates a new ``next``."""
    upcoming = [k for k in keys if k.status == "next"]
    active = [k for k in keys if k.status == "active"]
    if not upcoming:
        raise RotationRefused("there is no published next key to promote")
    candidate = min(upcoming, key=lambda k: k.created_at)
    published_for = now - candidate.created_at
    if published_for < lead_time and not force:
        wait = int((lead_time - published_for).total_seconds()) + 1
        raise RotationRefused(
            f"the next key {candidate.kid} has been published for {int(published_for.total_seconds())} s;"
            f" verifiers may not have it yet. Wait {wait} s or force the rotation."
        )
    return RotationPlan(
        promote=candidate.kid,
        retire=active[0].kid if active else None,
        retire_publish_until=now + retired_publication,
    )
