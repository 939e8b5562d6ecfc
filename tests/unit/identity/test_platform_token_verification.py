"""platform/auth, the resource-server side: key cache, verifier, bearer parsing, principals.

No I/O: keys come from an in-memory source, HTTP from httpx.MockTransport, time from a fake clock.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from orderly.platform.auth import HttpKeySource, InvalidToken, JwksCache, Principal, TokenVerifier
from orderly.platform.auth.dependencies import bearer_token
from orderly.platform.auth.jwks import JwksFetchError, import_verification_keys
from orderly.shared_kernel.errors import NotFound

ISSUER = "https://idp.example"
AUDIENCE = "orderly"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class InMemorySource:
    """An issuer's JWKS endpoint in memory, counting fetches; ``fail`` simulates an outage."""

    def __init__(self, *keys: ECKey) -> None:
        self.keys = list(keys)
        self.fetches = 0
        self.fail = False

    async def fetch(self) -> Mapping[str, Any]:
        self.fetches += 1
        if self.fail:
            raise JwksFetchError("issuer down")
        return {"keys": [k.as_dict(private=False) for k in self.keys]}


def _key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "alg": "ES256", "use": "sig"}, private=True)


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "exp": now + 300,
        "iat": now,
        "nbf": now,
        "jti": "j1",
        "client_id": "cli_shop",
        "scope": "me:read orders:read",
    }
    claims.update(overrides)
    return claims


def _token(key: ECKey, claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode(
        {"alg": "ES256", "typ": "at+jwt", "kid": key.kid, **header}, claims, key, algorithms=["ES256"]
    )


def _verifier(source: InMemorySource, clock: FakeClock | None = None, **kwargs: Any) -> TokenVerifier:
    cache = JwksCache(source, ttl_s=300, min_refetch_s=10, clock=clock or FakeClock())
    options: dict[str, Any] = {"leeway_s": 30, "max_token_bytes": 8192, "algorithms": ("ES256",)}
    options.update(kwargs)
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, keys=cache, **options)


class TestKeyCache:
    async def test_unknown_kids_trigger_at_most_one_refetch_per_interval(self) -> None:
        clock = FakeClock()
        source = InMemorySource(_key("k1"))
        cache = JwksCache(source, ttl_s=300, min_refetch_s=10, clock=clock)
        assert await cache.get("k1") is not None
        for n in range(50):
            assert await cache.get(f"forged-{n}") is None
        assert source.fetches == 1
        clock.now += 10
        assert await cache.get("forged-x") is None
        assert source.fetches == 2

    async def test_a_rotated_in_key_is_found_by_one_refetch(self) -> None:
        clock = FakeClock()
        source = InMemorySource(_key("k1"))
        cache = JwksCache(source, ttl_s=300, min_refetch_s=10, clock=clock)
        await cache.get("k1")
        source.keys.append(_key("k2"))
        clock.now += 11
        assert await cache.get("k2") is not None
        assert source.fetches == 2

    async def test_keys_are_refreshed_when_they_age_past_the_ttl_even_under_a_long_refetch_interval(
        self,
    ) -> None:
        clock = FakeClock()
        source = InMemorySource(_key("k1"))
        cache = JwksCache(source, ttl_s=5, min_refetch_s=600, clock=clock)
        await cache.get("k1")
        source.keys = [_key("k2")]
        clock.now += 5
        assert await cache.get("k2") is not None
        assert await cache.get("k1") is None  # removed upstream, gone here too

    async def test_an_issuer_outage_keeps_the_known_keys_and_backs_off(self) -> None:
        clock = FakeClock()
        source = InMemorySource(_key("k1"))
        cache = JwksCache(source, ttl_s=5, min_refetch_s=10, clock=clock)
        await cache.get("k1")
        source.fail = True
        clock.now += 6
        assert await cache.get("k1") is not None
        fetches = source.fetches
        for _ in range(20):
            assert await cache.get("k1") is not None
        assert source.fetches == fetches  # no hammering while it is down

    def test_symmetric_and_encryption_keys_in_a_jwks_are_never_trusted(self) -> None:
        signing = _key("good").as_dict(private=False)
        document = {
            "keys": [
                signing,
                {**OctKey.generate_key(256).as_dict(), "kid": "hmac"},
                {**_key("enc").as_dict(private=False), "kid": "enc", "use": "enc"},
                {"kty": "EC", "kid": "broken", "crv": "P-256", "x": "AA", "y": "AA"},
                {"kid": "no-type"},
                "not an object",
            ]
        }
        assert set(import_verification_keys(document)) == {"good"}

    def test_private_members_of_a_published_key_are_dropped(self) -> None:
        leaked = _key("k").as_dict(private=True)
        key = import_verification_keys({"keys": [leaked]})["k"]
        assert not key.is_private


class TestVerifier:
    async def test_a_valid_token_becomes_a_principal(self) -> None:
        key = _key("k1")
        claims = _claims()
        principal = await _verifier(InMemorySource(key)).verify(_token(key, claims))
        assert principal.subject == claims["sub"]
        assert principal.kind == "customer"
        assert principal.scopes == {"me:read", "orders:read"}
        assert principal.client_id == "cli_shop"

    async def test_kind_comes_from_the_token_shape(self) -> None:
        key = _key("k1")
        verifier = _verifier(InMemorySource(key))
        service = await verifier.verify(_token(key, _claims(sub="cli_sync", client_id="cli_sync")))
        staff = await verifier.verify(_token(key, _claims(roles=["support"])))
        assert service.kind == "service"
        assert staff.kind == "staff"
        assert staff.roles == {"support"}

    async def test_scp_lists_from_other_providers_are_understood(self) -> None:
        key = _key("k1")
        claims = _claims(scp=["catalog:write"])
        del claims["scope"]
        principal = await _verifier(InMemorySource(key)).verify(_token(key, claims))
        assert principal.scopes == {"catalog:write"}

    async def test_leeway_tolerates_small_skew_only(self) -> None:
        key = _key("k1")
        verifier = _verifier(InMemorySource(key))
        now = int(time.time())
        await verifier.verify(_token(key, _claims(exp=now - 10, nbf=now + 10)))
        with pytest.raises(InvalidToken, match="expired"):
            await verifier.verify(_token(key, _claims(exp=now - 31)))
        with pytest.raises(InvalidToken):
            await verifier.verify(_token(key, _claims(nbf=now + 60)))
        with pytest.raises(InvalidToken):
            await verifier.verify(_token(key, _claims(iat=now + 60)))

    async def test_the_allowlist_comes_from_configuration_not_from_the_token(self) -> None:
        rsa = RSAKey.generate_key(2048, parameters={"kid": "r1", "alg": "RS256"}, private=True)
        source = InMemorySource()
        source.keys = [rsa]  # type: ignore[list-item]
        token = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "r1"}, _claims(), rsa)
        with pytest.raises(InvalidToken, match="algorithm"):
            await _verifier(source).verify(token)
        accepted = await _verifier(source, algorithms=("ES256", "RS256")).verify(token)
        assert accepted.kind == "customer"

    async def test_a_key_published_for_one_algorithm_cannot_be_used_with_another(self) -> None:
        signer = RSAKey.generate_key(2048, parameters={"kid": "r1"}, private=True)
        published = RSAKey.import_key({**signer.as_dict(private=False), "alg": "RS256"})
        source = InMemorySource()
        source.keys = [published]  # type: ignore[list-item]
        token = jwt.encode(
            {"alg": "PS256", "typ": "at+jwt", "kid": "r1"}, _claims(), signer, algorithms=["PS256"]
        )
        with pytest.raises(InvalidToken, match="does not sign with this algorithm"):
            await _verifier(source, algorithms=("RS256", "PS256")).verify(token)

    def test_symmetric_or_none_algorithms_cannot_be_configured(self) -> None:
        for algorithms in (("HS256",), ("none",), ("ES256", "HS512"), ()):
            with pytest.raises(ValueError):
                _verifier(InMemorySource(), algorithms=algorithms)

    async def test_oversized_tokens_are_refused_before_parsing(self) -> None:
        source = InMemorySource(_key("k1"))
        with pytest.raises(InvalidToken, match="too large"):
            await _verifier(source).verify("a" * 9000)
        assert source.fetches == 0

    @given(st.text(max_size=400))
    async def test_arbitrary_strings_only_ever_raise_invalid_token(self, token: str) -> None:
        verifier = _verifier(InMemorySource())
        with pytest.raises(InvalidToken):
            await verifier.verify(token)


class TestBearerHeader:
    def test_no_header_is_no_token(self) -> None:
        assert bearer_token([]) is None

    @pytest.mark.parametrize("value", ["Bearer abc.def.ghi", "bearer abc.def.ghi", "BEARER  abc.def.ghi "])
    def test_the_scheme_is_case_insensitive(self, value: str) -> None:
        assert bearer_token([value]) == "abc.def.ghi"

    @pytest.mark.parametrize(
        "value", ["", "Bearer", "Basic abc", "Bearer a b", "Bearer a,b", "Bearerabc", "Bearer é"]
    )
    def test_malformed_headers_are_invalid(self, value: str) -> None:
        with pytest.raises(InvalidToken):
            bearer_token([value])

    def test_two_headers_are_invalid(self) -> None:
        with pytest.raises(InvalidToken):
            bearer_token(["Bearer a", "Bearer a"])


class TestOwnership:
    def test_a_customer_reaches_only_their_own_objects(self) -> None:
        me, other = uuid.uuid4(), uuid.uuid4()
        principal = Principal(subject=str(me), kind="customer", scopes=frozenset({"customers:read"}))
        assert principal.can_access_customer(me)
        assert principal.can_access_customer(str(me))
        assert not principal.can_access_customer(other)  # even holding customers:read
        with pytest.raises(NotFound):
            principal.ensure_can_access_customer(other)

    def test_staff_and_services_need_the_customer_data_scope(self) -> None:
        customer = uuid.uuid4()
        support = Principal(
            subject="s", kind="staff", scopes=frozenset({"customers:read"}), roles=frozenset({"support"})
        )
        catalog = Principal(subject="c", kind="staff", scopes=frozenset({"catalog:write"}))
        assert support.can_access_customer(customer)
        assert not catalog.can_access_customer(customer)
        assert catalog.customer_id is None

    def test_a_customer_token_with_a_foreign_subject_owns_nothing(self) -> None:
        principal = Principal(subject="auth0|abc", kind="customer", scopes=frozenset())
        assert principal.customer_id is None
        assert not principal.can_access_customer(uuid.uuid4())


class TestHttpKeySource:
    def _transport(self, *, discovered_issuer: str = ISSUER, jwks: Any = None) -> httpx.MockTransport:
        key = _key("k1")

        def handle(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/.well-known/openid-configuration":
                return httpx.Response(200, json={"issuer": discovered_issuer, "jwks_uri": f"{ISSUER}/keys"})
            if request.url.path == "/keys":
                return httpx.Response(
                    200, json=jwks if jwks is not None else {"keys": [key.as_dict(private=False)]}
                )
            return httpx.Response(404)

        return httpx.MockTransport(handle)

    async def test_keys_are_found_through_the_discovery_document(self) -> None:
        source = HttpKeySource(issuer=ISSUER, transport=self._transport())
        assert [k["kid"] for k in (await source.fetch())["keys"]] == ["k1"]

    async def test_a_discovery_document_naming_another_issuer_is_refused(self) -> None:
        source = HttpKeySource(
            issuer=ISSUER, transport=self._transport(discovered_issuer="https://evil.example")
        )
        with pytest.raises(JwksFetchError, match="another issuer"):
            await source.fetch()

    async def test_a_configured_jwks_url_skips_discovery(self) -> None:
        source = HttpKeySource(
            issuer=ISSUER, jwks_url=f"{ISSUER}/keys", transport=self._transport(discovered_issuer="ignored")
        )
        assert (await source.fetch())["keys"]

    @pytest.mark.parametrize("jwks", [[], {"keys": "nope"}, "text"])
    async def test_a_malformed_jwks_is_an_error_not_an_empty_key_set(self, jwks: Any) -> None:
        source = HttpKeySource(issuer=ISSUER, transport=self._transport(jwks=jwks))
        with pytest.raises(JwksFetchError):
            await source.fetch()
