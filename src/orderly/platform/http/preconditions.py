"""Optimistic concurrency over HTTP: versions as strong ETags, checked with ``If-Match``.

A resource's ``ETag`` is its version number in quotes (``"7"``). A change
sends it back in ``If-Match``; the handler compares it with the version it
locks, and a stale one is 412 with the ``current_version``. ``*`` means "any
version". ``If-Match`` compares strongly (RFC 9110, section 13.1.1), so a weak
tag never matches.
"""

from __future__ import annotations

import re

from starlette.responses import Response

from orderly.platform.http.problems import problem_response

_STRONG_ETAG = re.compile(r'^"([0-9]{1,9})"$')


class PreconditionProblem(Exception):
    """The ``If-Match`` header cannot be used; ``response`` is the problem to answer with."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None, *, required: bool, resource: str) -> int | None:
    """The version ``If-Match`` names; None for ``*``, or when it is absent and not required.

    Absent and required is 428, a weak tag 412, anything else that is not one
    ETag as issued 400 (each raised as :class:`PreconditionProblem`).
    """
    if if_match is None:
        if required:
            raise PreconditionProblem(
                problem_response(
                    428,
                    "precondition-required",
                    "Precondition required",
                    detail=f'Send If-Match with the {resource}\'s ETag (e.g. If-Match: "3") so a '
                    "concurrent change is not overwritten.",
                )
            )
        return None
    value = if_match.strip()
    if value == "*":
        return None
    if match := _STRONG_ETAG.fullmatch(value):
        return int(match.group(1))
    if value.startswith("W/"):
        raise PreconditionProblem(stale("a weak ETag never matches If-Match"))
    raise PreconditionProblem(
        problem_response(
            400, "bad-request", "Bad request", detail='If-Match must be one ETag as issued ("3") or *.'
        )
    )


def stale(detail: str, *, current_version: int | None = None) -> Response:
    """412: the version sent is not the current one."""
    return problem_response(
        412, "precondition-failed", "Precondition failed", detail=detail, current_version=current_version
    )
