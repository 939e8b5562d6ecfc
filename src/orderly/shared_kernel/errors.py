"""Domain error hierarchy.

Errors know nothing of HTTP; the edge maps each family to a problem type.
"""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the operation."""

    code: str = "domain-error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    """The request is well-formed but breaks a rule of the domain."""

    code = "invalid-input"


class NotFound(DomainError):
    """The object does not exist (or the caller may not know it exists)."""

    code = "not-found"


class Conflict(DomainError):
    """The operation clashes with the current state (duplicate, stale version...)."""

    code = "conflict"


class ConcurrencyConflict(Conflict):
    """Another writer changed the aggregate since it was loaded."""

    code = "concurrent-modification"


class Unavailable(DomainError):
    """Something the operation needs is down for now; the same request may succeed later."""

    code = "unavailable"
    retry_after_s: int = 1
