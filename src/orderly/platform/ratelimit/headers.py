"""The RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers-11) and Retry-After.

Both fields are Structured Field lists of one item named after the policy:

- ``RateLimit-Policy: "read";q=600;w=60``: the quota (``q`` requests per
  ``w`` seconds), the same on every response of the routes it governs;
- ``RateLimit: "read";r=599;t=1``: ``r`` requests may be sent now, and no more
  until ``t`` seconds have passed (when one more comes free; GCRA gives back
  one request every ``w/q`` seconds, not the whole quota at a window's end).

A 429 says ``r=0`` and a ``t`` equal to its ``Retry-After``, which the draft
asks never to point before the end of that window.
"""

from __future__ import annotations

from orderly.platform.ratelimit.gcra import Decision
from orderly.platform.ratelimit.policy import Policy

Headers = list[tuple[bytes, bytes]]


def policy_field(policy: Policy) -> str:
    return f'"{policy.name}";q={policy.quota.limit};w={policy.quota.window_s}'


def limit_field(policy: Policy, decision: Decision) -> str:
    remaining = decision.remaining if decision.admitted else 0
    return f'"{policy.name}";r={remaining};t={decision.wait_whole_s}'


def rate_limit_headers(policy: Policy, decision: Decision | None) -> dict[str, str]:
    """The fields of one response; without a decision (Redis could not say) only the policy."""
    headers = {"RateLimit-Policy": policy_field(policy)}
    if decision is not None:
        headers["RateLimit"] = limit_field(policy, decision)
        if not decision.admitted:
            headers["Retry-After"] = str(decision.wait_whole_s)
    return headers


def encoded(headers: dict[str, str]) -> Headers:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
