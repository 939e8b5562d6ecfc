"""The resource-server side of OAuth 2.0: every module verifies bearer tokens here.

Routes declare what they need with ``requires("scope", ...)`` and receive a
:class:`Principal`. Tokens are JWT access tokens (RFC 9068) from the configured
issuer: Orderly's own identity module by default, or any OpenID Connect
provider named by ``ORDERLY_AUTH_ISSUER``. See docs/adr/0020.
"""

from orderly.platform.auth.dependencies import requires, requires_customer, set_verifier, verifier_for
from orderly.platform.auth.jwks import HttpKeySource, JwksCache, KeySource, LocalIssuer
from orderly.platform.auth.principal import Principal, PrincipalKind
from orderly.platform.auth.verifier import InvalidToken, TokenVerifier

__all__ = [
    "HttpKeySource",
    "InvalidToken",
    "JwksCache",
    "KeySource",
    "LocalIssuer",
    "Principal",
    "PrincipalKind",
    "TokenVerifier",
    "requires",
    "requires_customer",
    "set_verifier",
    "verifier_for",
]
