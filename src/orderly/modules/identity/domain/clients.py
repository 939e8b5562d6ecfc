"""OAuth 2.0 clients: the applications that ask for tokens.

Two shapes, chosen when an operator registers the client:

- a sign-in client (a storefront, a mobile app, the admin UI) has redirect
  URIs and signs in customers or staff through the authorization-code flow; it
  is public (no secret: a browser or a phone cannot keep one) or confidential;
- a service client (another system) has a secret and no redirect URI, and
  gets tokens for itself with the client-credentials grant.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from orderly.modules.identity.domain.scopes import CUSTOMER_SCOPES, SERVICE_SCOPES, STAFF_SCOPES
from orderly.shared_kernel.errors import InvalidInput

SignIn = Literal["customer", "staff"]
MAX_REDIRECT_URIS = 10
MAX_REDIRECT_URI_LENGTH = 2000
MAX_CLIENT_NAME = 100
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# RFC 8252 §7.1: a private-use scheme is a reversed domain name the app owns.
_PRIVATE_USE_SCHEME = re.compile(r"^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$")


def new_client_id() -> str:
    return "cli_" + secrets.token_urlsafe(16)


def new_client_secret() -> str:
    # 256 bits: guessing is hopeless, so a fast hash stores it safely (ADR 0020).
    return "sec_" + secrets.token_urlsafe(32)


def check_redirect_uri(uri: str) -> str:
    """A redirect URI an operator may register; matching is later by exact string equality."""
    if not uri or len(uri) > MAX_REDIRECT_URI_LENGTH or any(ord(c) <= 32 or ord(c) == 127 for c in uri):
        raise InvalidInput("a redirect URI is a non-empty absolute URI without spaces", field="redirect_uris")
    try:
        parts = urlsplit(uri)
    except ValueError:
        raise InvalidInput(f"'{uri}' is not a URI", field="redirect_uris") from None
    if parts.fragment or "#" in uri:
        raise InvalidInput("a redirect URI has no fragment (RFC 6749 §3.1.2)", field="redirect_uris")
    if parts.scheme == "https":
        if not parts.hostname or "@" in parts.netloc:
            raise InvalidInput("an https redirect URI needs a host and no user info", field="redirect_uris")
    elif parts.scheme == "http":
        if parts.hostname not in _LOOPBACK_HOSTS or "@" in parts.netloc:
            raise InvalidInput(
                "plain http is allowed only for loopback redirect URIs (native apps, RFC 8252)",
                field="redirect_uris",
            )
    elif not _PRIVATE_USE_SCHEME.match(parts.scheme) or parts.netloc:
        raise InvalidInput(
            "a redirect URI is https, loopback http, or a reversed-domain private-use scheme",
            field="redirect_uris",
        )
    return uri


def check_client_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_CLIENT_NAME or any(ord(c) < 32 for c in name):
        raise InvalidInput(f"a client name has 1 to {MAX_CLIENT_NAME} printable characters", field="name")
    return name


def scopes_for(sign_in: SignIn | None) -> frozenset[str]:
    """The scopes a client of this shape may be registered with."""
    if sign_in == "customer":
        return CUSTOMER_SCOPES
    if sign_in == "staff":
        return STAFF_SCOPES
    return SERVICE_SCOPES


@dataclass
class Client:
    client_id: str
    name: str
    secret_hash: str | None
    redirect_uris: tuple[str, ...]
    scopes: frozenset[str]
    sign_in: SignIn | None
    created_at: datetime

    @classmethod
    def register(
        cls,
        *,
        client_id: str,
        name: str,
        secret_hash: str | None,
        redirect_uris: list[str],
        scopes: frozenset[str],
        sign_in: SignIn | None,
        created_at: datetime,
    ) -> Client:
        uris = tuple(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris))
        if len(uris) > MAX_REDIRECT_URIS:
            raise InvalidInput(f"at most {MAX_REDIRECT_URIS} redirect URIs", field="redirect_uris")
        if sign_in is None:
            if uris:
                raise InvalidInput("a service client has no redirect URI", field="redirect_uris")
            if secret_hash is None:
                raise InvalidInput("a service client is confidential: it needs a secret", field="public")
        elif not uris:
            raise InvalidInput("a sign-in client needs at least one redirect URI", field="redirect_uris")
        if not scopes:
            raise InvalidInput("a client needs at least one scope", field="scopes")
        allowed = scopes_for(sign_in)
        if not scopes <= allowed:
            kind = f"{sign_in} sign-in" if sign_in else "service"
            unknown = ", ".join(sorted(scopes - allowed))
            raise InvalidInput(f"a {kind} client cannot hold: {unknown}", field="scopes")
        return cls(
            client_id=client_id,
            name=check_client_name(name),
            secret_hash=secret_hash,
            redirect_uris=uris,
            scopes=scopes,
            sign_in=sign_in,
            created_at=created_at,
        )

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None

    def accepts_redirect_uri(self, uri: str) -> bool:
        """Exact string comparison (RFC 9700 §4.1.3): no prefix, no normalisation, no wildcard."""
        return uri in self.redirect_uris

    @property
    def may_use_client_credentials(self) -> bool:
        return self.sign_in is None and not self.is_public
