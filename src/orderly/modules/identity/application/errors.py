"""Errors of the OAuth endpoints, in RFC 6749's vocabulary (they are answered as §5.2 JSON)."""

from __future__ import annotations


class OAuthError(Exception):
    """``error`` is one of RFC 6749 §5.2's codes; ``description`` is safe to show the client."""

    def __init__(self, error: str, description: str, *, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_client(description: str = "client authentication failed") -> OAuthError:
    return OAuthError("invalid_client", description, status=401)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def invalid_scope(description: str) -> OAuthError:
    return OAuthError("invalid_scope", description)


def unauthorized_client(description: str) -> OAuthError:
    return OAuthError("unauthorized_client", description)


def unsupported_grant_type(grant_type: str | None) -> OAuthError:
    shown = (grant_type or "")[:40]
    return OAuthError(
        "unsupported_grant_type",
        f"grant_type '{shown}' is not supported; use authorization_code, refresh_token or client_credentials",
    )
