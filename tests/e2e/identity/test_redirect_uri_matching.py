"""Redirect URIs match by exact string (RFC 9700 §4.1.3): any variation is refused, and the
refusal is shown to the person, never sent to the unverified URI."""

from __future__ import annotations

import itertools

import httpx

from tests.support.auth import AuthKit, authorize_params, form_fields, new_verifier

REGISTERED = "https://shop.example.com/callback"

_SCHEMES = ["https://", "http://", "HTTPS://", "hTtPs://", "//", "https:/", "https:///", "wss://", "ftp://"]
_HOSTS = [
    "shop.example.com",
    "SHOP.example.com",
    "shop.example.com.",
    "shop.example.com:443",
    "shop.example.com:8443",
    "evil.example",
    "shop.example.com.evil.example",
    "evilshop.example.com",
    "sub.shop.example.com",
    "shop-example.com",
    "shop.example.co",
    "attacker@shop.example.com",
    "shop.example.com@evil.example",
    "shop.example.com%2eevil.example",
    "127.0.0.1",
    "[::1]",
]
_PATHS = [
    "/callback",
    "/callback/",
    "/Callback",
    "/CALLBACK",
    "/callback2",
    "/callbac",
    "/callback/../evil",
    "/callback/./",
    "//callback",
    "/callback;x",
    "/callback%2F",
    "/%63allback",
    "/callback/evil",
    "/callback.html",
    "/callback?x=1",
    "/callback?",
    "/callback#",
    "/callback#frag",
    "/callback%00",
    "/callback%20",
    "/callback\\evil",
    "",
    "/",
]
_WHOLE = [
    " " + REGISTERED,
    REGISTERED + " ",
    REGISTERED + "\t",
    REGISTERED.upper(),
    "javascript:alert(1)//" + REGISTERED,
    "data:text/html," + REGISTERED,
    REGISTERED.replace("callback", "callback\u200b"),
    REGISTERED.replace("example", "examp\u04cfe"),
]


def mutated_redirect_uris(count: int = 100) -> list[str]:
    """``count`` distinct near-misses of the registered URI.

    First every single change (one scheme, host or path variant, or a whole-URI
    trick), which are the closest misses, then combinations of two and three
    changes spread over the whole product.
    """
    scheme, host, path = _SCHEMES[0], _HOSTS[0], _PATHS[0]
    singles = [
        *_WHOLE,
        *(f"{s}{host}{path}" for s in _SCHEMES[1:]),
        *(f"{scheme}{h}{path}" for h in _HOSTS[1:]),
        *(f"{scheme}{host}{p}" for p in _PATHS[1:]),
    ]
    combos = [f"{s}{h}{p}" for s, h, p in itertools.product(_SCHEMES[1:], _HOSTS[1:], _PATHS[1:])]
    step = max(1, len(combos) // (count - len(singles)))
    chosen = list(dict.fromkeys([*singles, *combos[::step]]))[:count]
    assert len(chosen) == count
    assert REGISTERED not in chosen
    return chosen


class TestExactRedirectUriMatching:
    async def test_the_registered_uri_itself_is_accepted(self, http: httpx.AsyncClient, kit: AuthKit) -> None:
        client = await kit.sign_in_client(redirect_uri=REGISTERED)
        response = await http.get(
            "/oauth/authorize", params=authorize_params(client, verifier=new_verifier())
        )
        assert response.status_code == 200

    async def test_a_hundred_mutated_redirect_uris_are_all_rejected_without_redirecting(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client = await kit.sign_in_client(redirect_uri=REGISTERED)
        mutations = mutated_redirect_uris(100)
        for uri in mutations:
            params = authorize_params(client, verifier=new_verifier(), redirect_uri=uri)
            response = await http.get("/oauth/authorize", params=params)
            assert response.status_code == 400, (uri, response.status_code)
            assert "location" not in response.headers, uri
            assert "not registered" in response.text or "redirect_uri" in response.text, uri

    async def test_a_mutated_redirect_uri_in_the_posted_form_is_rejected(
        self, http: httpx.AsyncClient, kit: AuthKit
    ) -> None:
        client = await kit.sign_in_client(redirect_uri=REGISTERED)
        page = await http.get("/oauth/authorize", params=authorize_params(client, verifier=new_verifier()))
        for uri in mutated_redirect_uris(100)[:10]:
            fields = form_fields(page.text)
            fields.update(email="a@example.com", password="whatever-password-1", redirect_uri=uri)
            response = await http.post("/oauth/authorize", data=fields)
            assert response.status_code == 400, uri
            assert "location" not in response.headers

    async def test_an_unknown_client_gets_an_error_page_not_a_redirect(self, http: httpx.AsyncClient) -> None:
        params = {
            "response_type": "code",
            "client_id": "cli_nobody",
            "redirect_uri": REGISTERED,
            "code_challenge": "a" * 43,
            "code_challenge_method": "S256",
        }
        response = await http.get("/oauth/authorize", params=params)
        assert response.status_code == 400
        assert "location" not in response.headers
