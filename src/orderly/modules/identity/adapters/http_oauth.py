"""The authorization server's endpoints: discovery, JWKS, authorize (sign-in page), token,
revocation, introspection.

Token, revocation and introspection errors are RFC 6749 §5.2 JSON
(``{"error": ..., "error_description": ...}``), as OAuth clients expect;
the sign-in throttle answers problem+json like the rest of the API.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import orjson
import structlog
from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from orderly.modules.identity.adapters.forms import FormError, client_credentials, query_params, read_form
from orderly.modules.identity.adapters.keystore import SqlKeyStore
from orderly.modules.identity.adapters.signin_page import SECURITY_HEADERS, render_error, render_sign_in
from orderly.modules.identity.application.authorize import (
    AuthorizationDenied,
    AuthorizationRequest,
    AuthorizationService,
    SignInFailed,
    SignInThrottled,
    UnsafeAuthorizationRequest,
    ValidatedAuthorization,
)
from orderly.modules.identity.application.errors import OAuthError, invalid_request, unsupported_grant_type
from orderly.modules.identity.application.tokens import IssuedTokens, TokenHint, TokenService
from orderly.modules.identity.domain.scopes import KNOWN_SCOPES, format_scope, parse_scope
from orderly.platform.http.problems import problem_response
from orderly.shared_kernel.errors import InvalidInput

log = structlog.get_logger(module="identity.oauth")

AUTHORIZATION_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
CSRF_COOKIE = "orderly_signin_csrf"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _form_body(*fields: tuple[str, bool, str]) -> dict[str, Any]:
    """OpenAPI description of a form-encoded body (FastAPI cannot infer it from manual parsing)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            name: {"type": "string", "description": text} for name, _, text in fields
                        },
                        "required": [name for name, required, _ in fields if required],
                    }
                }
            },
        }
    }


_OAUTH_ERROR = {
    "description": "RFC 6749 §5.2 error",
    "content": {"application/json": {"example": {"error": "invalid_grant", "error_description": "..."}}},
}


def build_oauth_router(
    *, issuer: str, tokens: TokenService, authz: AuthorizationService, keys: SqlKeyStore, jwks_max_age_s: int
) -> APIRouter:
    router = APIRouter(tags=["oauth"])
    base = issuer.rstrip("/")
    metadata = {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "jwks_uri": f"{base}/oauth/jwks",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "introspection_endpoint": f"{base}/oauth/introspect",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(KNOWN_SCOPES),
        "subject_types_supported": ["public"],
        "authorization_response_iss_parameter_supported": True,
    }

    @router.get("/.well-known/openid-configuration", summary="Discovery document")
    async def openid_configuration() -> Response:
        """Where the endpoints and keys are, and what this server supports (OpenID Connect
        Discovery / RFC 8414). Verifiers find the JWKS through it."""
        return _json(metadata, headers={"Cache-Control": "public, max-age=3600"})

    @router.get("/.well-known/oauth-authorization-server", summary="Authorization server metadata")
    async def oauth_metadata() -> Response:
        """The same document at its RFC 8414 address."""
        return _json(metadata, headers={"Cache-Control": "public, max-age=3600"})

    @router.get("/oauth/jwks", summary="Public signing keys (JWKS)")
    async def jwks() -> Response:
        """The keys that verify access tokens: the active one, the next one (published before
        it signs) and retired ones until their last token has expired."""
        return _json(dict(await keys.fetch()), headers={"Cache-Control": f"public, max-age={jwks_max_age_s}"})

    @router.get(
        "/oauth/authorize",
        summary="Authorization endpoint (sign-in page)",
        response_class=HTMLResponse,
        responses={302: {"description": "Error sent back to the client's redirect URI"}},
    )
    async def authorize(request: Request) -> Response:
        """Start the authorization-code flow: `response_type=code`, `client_id`,
        `redirect_uri` (exactly as registered), `code_challenge` with
        `code_challenge_method=S256` (required), optional `scope` and `state`.
        Shows the sign-in page."""
        try:
            params, repeated = query_params(request)
        except FormError as exc:
            return _error_page(str(exc))
        outcome = await _validate(authz, issuer, params, repeated)
        if not isinstance(outcome, ValidatedAuthorization):
            return outcome
        return _sign_in_page(request, outcome)

    @router.post(
        "/oauth/authorize",
        summary="Sign in and receive an authorization code",
        response_class=HTMLResponse,
        responses={
            303: {"description": "Signed in: redirect with `code`, `state` and `iss`"},
            429: {"description": "Too many failed sign-ins (problem+json, `Retry-After`)"},
        },
        openapi_extra=_form_body(
            *((name, False, "as in the authorization request") for name in AUTHORIZATION_PARAMS),
            ("email", True, "e-mail address"),
            ("password", True, "password"),
            ("csrf_token", True, "the token embedded in the sign-in page"),
        ),
    )
    async def sign_in(request: Request) -> Response:
        """The sign-in form posts here. Success redirects (303) to the client with `code`,
        `state` and `iss` (RFC 9207); wrong credentials show the form again; too many
        failures per account or per address answer 429 with `Retry-After`."""
        try:
            form, repeated = await read_form(request)
        except FormError as exc:
            return _error_page(str(exc))
        if repeated & {"email", "password", "csrf_token"}:
            return _error_page("The sign-in form was sent with repeated fields. Reload it.")
        outcome = await _validate(authz, issuer, form, repeated)
        if not isinstance(outcome, ValidatedAuthorization):
            return outcome
        cookie = request.cookies.get(CSRF_COOKIE, "")
        submitted = form.get("csrf_token", "")
        if not cookie or not hmac.compare_digest(cookie.encode(), submitted.encode()):
            return _error_page(
                "The sign-in form expired or did not come from this site. Reload it.", status=403
            )
        email = form.get("email", "")
        try:
            code = await authz.sign_in(
                outcome,
                email=email,
                password=form.get("password", ""),
                client_address=request.client.host if request.client else "unknown",
            )
        except SignInThrottled as exc:
            return problem_response(
                429,
                "too-many-sign-in-attempts",
                "Too many sign-in attempts",
                detail="Too many failed sign-ins for this account or from this address; try again later.",
                headers={"Retry-After": str(exc.retry_after)},
                retry_after=exc.retry_after,
            )
        except SignInFailed:
            return _sign_in_page(
                request, outcome, email=email, error="Wrong e-mail address or password.", status=400
            )
        except AuthorizationDenied as exc:
            return _redirect_error(issuer, exc)
        response = _redirect(outcome.redirect_uri, {"code": code, "state": outcome.state, "iss": issuer})
        response.delete_cookie(CSRF_COOKIE, path="/oauth/authorize")
        return response

    @router.post(
        "/oauth/token",
        summary="Token endpoint",
        responses={400: _OAUTH_ERROR, 401: _OAUTH_ERROR},
        openapi_extra=_form_body(
            ("grant_type", True, "authorization_code, refresh_token or client_credentials"),
            ("code", False, "authorization_code: the code"),
            ("redirect_uri", False, "authorization_code: as in the authorization request"),
            ("code_verifier", False, "authorization_code: the PKCE verifier (43-128 characters)"),
            ("refresh_token", False, "refresh_token: the current refresh token (it rotates)"),
            ("scope", False, "optional narrowing of the scope"),
            ("client_id", False, "public clients, or confidential ones using client_secret_post"),
            ("client_secret", False, "client_secret_post"),
        ),
    )
    async def token(request: Request) -> Response:
        """Exchange a grant for tokens. Confidential clients authenticate with HTTP Basic or
        `client_secret`; public clients send `client_id`. Refresh tokens rotate on every
        use: keep the new one, the old one is spent (reusing it revokes the whole family)."""
        try:
            form, repeated = await read_form(request)
            if repeated:
                raise invalid_request(f"parameters repeated: {', '.join(sorted(repeated))}")
            grant_type = form.get("grant_type")
            if not grant_type:
                raise invalid_request("grant_type is required")
            if grant_type not in GRANT_TYPES:
                raise unsupported_grant_type(grant_type)
            client = await tokens.authenticate_client(
                client_credentials(request.headers.getlist("authorization"), form)
            )
            issued = await _grant(tokens, client, grant_type, form)
        except FormError as exc:
            return _oauth_error(invalid_request(str(exc)))
        except OAuthError as exc:
            return _oauth_error(exc)
        body: dict[str, Any] = {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }
        if issued.refresh_token is not None:
            body["refresh_token"] = issued.refresh_token
        return _json(body, headers=_NO_STORE)

    @router.post(
        "/oauth/revoke",
        summary="Token revocation (RFC 7009)",
        responses={400: _OAUTH_ERROR, 401: _OAUTH_ERROR},
        openapi_extra=_form_body(
            ("token", True, "an access or refresh token issued to this client"),
            ("token_type_hint", False, "access_token or refresh_token"),
            ("client_id", False, "public clients, or client_secret_post"),
            ("client_secret", False, "client_secret_post"),
        ),
    )
    async def revoke(request: Request) -> Response:
        """Revoke a token issued to the calling client. Revoking a refresh token ends the
        whole grant (every token of its family). Always 200 for tokens that are unknown
        or not the caller's, so the endpoint reveals nothing."""
        try:
            form, repeated = await read_form(request)
            if repeated:
                raise invalid_request(f"parameters repeated: {', '.join(sorted(repeated))}")
            token_value = form.get("token")
            if not token_value:
                raise invalid_request("token is required")
            client = await tokens.authenticate_client(
                client_credentials(request.headers.getlist("authorization"), form)
            )
            await tokens.revoke(client, token=token_value, hint=_hint(form))
        except FormError as exc:
            return _oauth_error(invalid_request(str(exc)))
        except OAuthError as exc:
            return _oauth_error(exc)
        return Response(status_code=200, headers=_NO_STORE)

    @router.post(
        "/oauth/introspect",
        summary="Token introspection (RFC 7662)",
        responses={400: _OAUTH_ERROR, 401: _OAUTH_ERROR, 403: _OAUTH_ERROR},
        openapi_extra=_form_body(
            ("token", True, "the token to describe"),
            ("token_type_hint", False, "access_token or refresh_token"),
            ("client_id", False, "client_secret_post"),
            ("client_secret", False, "client_secret_post"),
        ),
    )
    async def introspect(request: Request) -> Response:
        """Whether a token is active, with its claims. For resource servers registered as
        service clients with the `oauth:introspect` scope; revocation shows here at once,
        while JWT verification elsewhere trusts a token until it expires."""
        try:
            form, repeated = await read_form(request)
            if repeated:
                raise invalid_request(f"parameters repeated: {', '.join(sorted(repeated))}")
            token_value = form.get("token")
            if not token_value:
                raise invalid_request("token is required")
            caller = await tokens.authenticate_client(
                client_credentials(request.headers.getlist("authorization"), form)
            )
            answer = await tokens.introspect(caller, token=token_value, hint=_hint(form))
        except FormError as exc:
            return _oauth_error(invalid_request(str(exc)))
        except OAuthError as exc:
            return _oauth_error(exc)
        return _json(answer, headers=_NO_STORE)

    return router


async def _grant(tokens: TokenService, client: Any, grant_type: str, form: Mapping[str, str]) -> IssuedTokens:
    if grant_type == "authorization_code":
        code = _required(form, "code")
        verifier = _required(form, "code_verifier")
        return await tokens.exchange_code(
            client, code=code, redirect_uri=form.get("redirect_uri"), code_verifier=verifier
        )
    scope = _scope(form.get("scope"))
    if grant_type == "refresh_token":
        return await tokens.refresh(client, refresh_token=_required(form, "refresh_token"), scope=scope)
    if grant_type == "client_credentials":
        return await tokens.client_credentials(client, scope=scope)
    raise unsupported_grant_type(grant_type)  # pragma: no cover - filtered before


def _required(form: Mapping[str, str], name: str) -> str:
    value = form.get(name)
    if not value:
        raise invalid_request(f"{name} is required")
    return value


def _scope(value: str | None) -> frozenset[str] | None:
    if value is None or not value.strip():
        return None
    try:
        return parse_scope(value)
    except InvalidInput as exc:
        raise OAuthError("invalid_scope", exc.message) from None


def _hint(form: Mapping[str, str]) -> TokenHint:
    hint = form.get("token_type_hint")
    # RFC 7009 §2.1: an unknown hint is ignored, the search covers every type.
    if hint == "access_token":
        return "access_token"
    if hint == "refresh_token":
        return "refresh_token"
    return None


async def _validate(
    authz: AuthorizationService, issuer: str, params: Mapping[str, str], repeated: set[str]
) -> ValidatedAuthorization | Response:
    request = AuthorizationRequest(**{name: params.get(name) for name in AUTHORIZATION_PARAMS})
    try:
        return await authz.validate(request, repeated=repeated & set(AUTHORIZATION_PARAMS))
    except UnsafeAuthorizationRequest as exc:
        return _error_page(str(exc))
    except AuthorizationDenied as exc:
        return _redirect_error(issuer, exc)


def _sign_in_page(
    request: Request,
    validated: ValidatedAuthorization,
    *,
    email: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    csrf = secrets.token_urlsafe(32)
    params = {
        "response_type": "code",
        "client_id": validated.client.client_id,
        "redirect_uri": validated.redirect_uri,
        "scope": format_scope(validated.scopes),
        "code_challenge": validated.code_challenge,
        "code_challenge_method": "S256",
    }
    if validated.state is not None:
        params["state"] = validated.state
    page = render_sign_in(
        client_name=validated.client.name,
        audience="staff member" if validated.client.sign_in == "staff" else "customer",
        params=params,
        csrf_token=csrf,
        email=email,
        error=error,
    )
    response = HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=1800,
        path="/oauth/authorize",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


def _error_page(message: str, *, status: int = 400) -> Response:
    return HTMLResponse(render_error(message), status_code=status, headers=SECURITY_HEADERS)


def _redirect(uri: str, params: Mapping[str, str | None]) -> RedirectResponse:
    """``uri`` with ``params`` added to its query (a registered URI may carry a query already)."""
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return RedirectResponse(
        urlunsplit(parts._replace(query=query)), status_code=303, headers=SECURITY_HEADERS
    )


def _redirect_error(issuer: str, exc: AuthorizationDenied) -> Response:
    return _redirect(
        exc.redirect_uri,
        {"error": exc.error, "error_description": exc.description, "state": exc.state, "iss": issuer},
    )


def _oauth_error(exc: OAuthError) -> Response:
    headers = dict(_NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="orderly"'
    return _json(
        {"error": exc.error, "error_description": exc.description}, status=exc.status, headers=headers
    )


def _json(
    body: Mapping[str, Any], *, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)
