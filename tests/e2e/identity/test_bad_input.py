"""Bad input at the identity edge is answered in the right error format, never with a 500."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import httpx

from tests.support.auth import AuthKit, authorize_params, form_fields, new_verifier
from tests.support.http import assert_problem

MALFORMED_AUTHORIZATION = [
    "",
    "Bearer",
    "Bearer ",
    "Bearer  ",
    "Basic dXNlcjpwYXNz",
    "Token abc",
    "Bearer a b",
    "Bearer a,b",
    "Bearer ....",
    "Bearer a.b",
    "Bearer a.b.c.d",
    "Bearer eyJ.eyJ.sig",
    "Bearer " + base64.urlsafe_b64encode(b'{"alg":"ES256"').decode().rstrip("=") + ".e30.x",
    "Bearer " + base64.urlsafe_b64encode(b"[1,2,3]").decode().rstrip("=") + ".e30.x",
    "Bearer " + base64.urlsafe_b64encode(b'{"alg":7,"kid":[1]}').decode().rstrip("=") + ".e30.x",
    "Bearer "
    + base64.urlsafe_b64encode(b'{"alg":"ES256","typ":"at+jwt","kid":"k"}').decode().rstrip("=")
    + ".bm90IGpzb24.x",
    "Bearer " + "A" * 100_000,
    "Bearer " + "a." * 5000 + "b",
    "Bearer\tabc.def.ghi",
    "Bearer abc.def.ghi\u00e9",
]


class TestMalformedAuthorizationHeaders:
    async def test_every_malformed_authorization_header_is_401_problem(self, http: httpx.AsyncClient) -> None:
        # One app for all cases (starting one per case would cost more than the cases).
        for header in MALFORMED_AUTHORIZATION:
            response = await http.get("/v1/me", headers={b"Authorization": header.encode("utf-8")})
            assert response.status_code == 401, (header[:40], response.status_code)
            assert_problem(response, 401, "unauthenticated")
            assert response.headers["www-authenticate"].startswith("Bearer"), header[:40]

    async def test_two_authorization_headers_are_refused(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        customer = await kit.customer()
        headers = [
            ("Authorization", f"Bearer {customer.token}"),
            ("Authorization", f"Bearer {customer.token}"),
        ]
        response = await http.get("/v1/me", headers=headers)
        assert_problem(response, 401, "unauthenticated")

    async def test_lowercase_scheme_is_accepted(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        customer = await kit.customer()
        response = await http.get("/v1/me", headers={"Authorization": f"bearer {customer.token}"})
        assert response.status_code == 200


BAD_TOKEN_REQUESTS: list[tuple[str, bytes, dict[str, str], int, str]] = [
    ("no body", b"", {}, 400, "invalid_request"),
    ("no grant_type", b"code=x", {}, 400, "invalid_request"),
    (
        "unknown grant",
        b"grant_type=urn:ietf:params:oauth:grant-type:device_code",
        {},
        400,
        "unsupported_grant_type",
    ),
    ("implicit as grant", b"grant_type=implicit", {}, 400, "unsupported_grant_type"),
    ("password grant", b"grant_type=password&username=a&password=b", {}, 400, "unsupported_grant_type"),
    ("huge grant name", b"grant_type=" + b"x" * 5000, {}, 400, "unsupported_grant_type"),
    (
        "repeated parameter",
        b"grant_type=client_credentials&grant_type=client_credentials",
        {},
        400,
        "invalid_request",
    ),
    ("no client", b"grant_type=client_credentials", {}, 401, "invalid_client"),
    ("unknown client", b"grant_type=client_credentials&client_id=cli_x", {}, 401, "invalid_client"),
    ("NUL in client_id", b"grant_type=client_credentials&client_id=a%00b", {}, 400, "invalid_request"),
    ("bad percent-encoding", b"grant_type=%ff%fe", {}, 400, "invalid_request"),
    ("not UTF-8", b"grant_type=\xff\xfe", {}, 400, "invalid_request"),
    ("too many fields", b"&".join(b"f%d=1" % i for i in range(100)), {}, 400, "invalid_request"),
    ("oversized form", b"grant_type=client_credentials&pad=" + b"x" * 20_000, {}, 400, "invalid_request"),
    (
        "basic, not base64",
        b"grant_type=client_credentials",
        {"Authorization": "Basic %%%"},
        401,
        "invalid_client",
    ),
    (
        "basic, no colon",
        b"grant_type=client_credentials",
        {"Authorization": "Basic " + base64.b64encode(b"abc").decode()},
        401,
        "invalid_client",
    ),
    (
        "bearer at the token endpoint",
        b"grant_type=client_credentials",
        {"Authorization": "Bearer abc"},
        401,
        "invalid_client",
    ),
    ("code grant without code", b"grant_type=authorization_code&client_id=cli_x", {}, 401, "invalid_client"),
]


class TestTokenEndpointBadInput:
    async def test_every_bad_token_request_gets_an_oauth_error(self, http: httpx.AsyncClient) -> None:
        for case, body, headers, status, error in BAD_TOKEN_REQUESTS:
            response = await http.post(
                "/oauth/token",
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
            )
            assert response.status_code == status, (case, response.status_code, response.text)
            assert response.headers["content-type"].startswith("application/json"), case
            assert response.json()["error"] == error, (case, response.json())
            assert isinstance(response.json()["error_description"], str), case

    async def test_json_instead_of_a_form_is_invalid_request(self, http: httpx.AsyncClient) -> None:
        response = await http.post("/oauth/token", json={"grant_type": "client_credentials"})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"

    async def test_missing_parameters_of_a_known_grant_are_invalid_request(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client = await kit.sign_in_client()
        for form in (
            {"grant_type": "authorization_code", "client_id": client.client_id},
            {"grant_type": "authorization_code", "client_id": client.client_id, "code": "abc"},
            {"grant_type": "refresh_token", "client_id": client.client_id},
        ):
            response = await http.post("/oauth/token", data=form)
            assert response.status_code == 400, form
            assert response.json()["error"] == "invalid_request", form

    async def test_garbage_codes_and_tokens_are_invalid_grant(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client = await kit.sign_in_client()
        for form in (
            {"grant_type": "authorization_code", "code": "x" * 3000, "code_verifier": "y" * 43},
            {"grant_type": "refresh_token", "refresh_token": "\u00e9" * 100},
            {"grant_type": "refresh_token", "refresh_token": "abc", "scope": "bad\u00e9scope"},
        ):
            response = await http.post("/oauth/token", data={**form, "client_id": client.client_id})
            assert response.status_code == 400, form
            assert response.json()["error"] in {"invalid_grant", "invalid_scope"}, response.json()


class TestAuthorizeEndpointBadInput:
    async def test_missing_parameters_show_an_error_page(self, http: httpx.AsyncClient) -> None:
        for query in ("", "client_id=", "response_type=code", "client_id=%00", "client_id=" + "x" * 5000):
            response = await http.get(f"/oauth/authorize?{query}")
            assert response.status_code == 400, query
            assert response.headers["content-type"].startswith("text/html")
            assert "location" not in response.headers

    async def test_repeated_parameters_are_refused(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        client = await kit.sign_in_client()
        params = list(authorize_params(client, verifier=new_verifier()).items())
        repeated_client = await http.get(
            "/oauth/authorize", params=[*params, ("client_id", client.client_id)]
        )
        assert repeated_client.status_code == 400
        assert "location" not in repeated_client.headers
        repeated_scope = await http.get(
            "/oauth/authorize", params=[*params, ("scope", "me:read"), ("scope", "me:write")]
        )
        assert repeated_scope.status_code == 303
        assert "error=invalid_request" in repeated_scope.headers["location"]

    async def test_markup_in_parameters_is_escaped_on_the_page(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client = await kit.sign_in_client()
        attack = '"><script>alert(1)</script>'
        params = authorize_params(client, verifier=new_verifier(), state=attack)
        response = await http.get("/oauth/authorize", params=params)
        assert response.status_code == 200
        assert "<script>" not in response.text
        assert "&quot;&gt;&lt;script&gt;" in response.text

    async def test_a_sign_in_form_with_repeated_credentials_is_refused(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        customer = await kit.customer()
        client = await kit.sign_in_client()
        page = await http.get("/oauth/authorize", params=authorize_params(client, verifier=new_verifier()))
        fields = list(form_fields(page.text).items())
        fields += [
            ("email", customer.email),
            ("password", "wrong-password-123"),
            ("password", customer.password),
        ]
        response = await http.post(
            "/oauth/authorize",
            content=urlencode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 400
        assert "location" not in response.headers

    async def test_sign_in_form_in_json_or_garbage_shows_an_error_page(self, http: httpx.AsyncClient) -> None:
        for kwargs in (
            {"json": {"email": "a"}},
            {"content": b"\xff\xfe", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        ):
            response = await http.post("/oauth/authorize", **kwargs)
            assert response.status_code == 400
            assert "location" not in response.headers


class TestRegistrationBadInput:
    async def test_bad_registrations_are_422_naming_the_field(self, http: httpx.AsyncClient) -> None:
        cases: list[tuple[dict[str, str], str]] = [
            ({"email": "not-an-email", "password": "quiet-otter-paints-9"}, "email"),
            ({"email": "a@b", "password": "quiet-otter-paints-9"}, "email"),
            ({"email": "a@example.com", "password": "short"}, "password"),
            ({"email": "a@example.com", "password": "password1234"}, "password"),
            ({"email": "a@example.com", "password": "123456789012345"}, "password"),
            ({"email": "a@example.com", "password": "x" * 257}, "password"),
            ({"email": "a\u0000b@example.com", "password": "quiet-otter-paints-9"}, "email"),
        ]
        for body, field in cases:
            response = await http.post("/v1/customers", json=body)
            problem = assert_problem(response, 422, problem_slug(response))
            blamed = {e["name"] for e in problem.get("errors") or []}
            assert field in blamed or field in problem.get("detail", ""), (body, problem)

    async def test_the_same_address_in_another_case_is_taken(self, http: httpx.AsyncClient) -> None:
        body = {"email": "Grace@Example.com", "password": "quiet-otter-paints-9"}
        assert (await http.post("/v1/customers", json=body)).status_code == 201
        again = await http.post("/v1/customers", json={**body, "email": " grace@EXAMPLE.COM "})
        assert_problem(again, 409, "email-taken")


def problem_slug(response: httpx.Response) -> str:
    return str(response.json()["type"]).rsplit(":", 1)[-1]
