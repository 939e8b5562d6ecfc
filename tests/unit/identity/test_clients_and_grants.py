"""Clients, redirect URIs, PKCE, codes, refresh tokens and key rotation plans: pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderly.modules.identity.domain.clients import Client, check_redirect_uri
from orderly.modules.identity.domain.grants import (
    AuthorizationCode,
    GrantRejected,
    RefreshToken,
    TokenFamily,
    digest,
    pkce_matches,
    s256,
)
from orderly.modules.identity.domain.keys import RotationRefused, SigningKeyState, plan_rotation
from orderly.shared_kernel.errors import InvalidInput

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
# RFC 7636 Appendix B.
RFC_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def _client(**overrides: object) -> Client:
    values: dict[str, object] = {
        "client_id": "cli_x",
        "name": "Shop",
        "secret_hash": None,
        "redirect_uris": ["https://shop.example.com/cb"],
        "scopes": frozenset({"me:read"}),
        "sign_in": "customer",
        "created_at": NOW,
    }
    values.update(overrides)
    return Client.register(**values)  # type: ignore[arg-type]


class TestRedirectUriRegistration:
    @pytest.mark.parametrize(
        "uri",
        [
            "https://shop.example.com/cb",
            "https://shop.example.com/cb?tenant=7",
            "http://127.0.0.1:8123/cb",
            "http://localhost/cb",
            "http://[::1]:9000/cb",
            "com.example.shop:/oauth2redirect",
        ],
    )
    def test_acceptable_redirect_uris(self, uri: str) -> None:
        assert check_redirect_uri(uri) == uri

    @pytest.mark.parametrize(
        "uri",
        [
            "",
            "/cb",
            "https://shop.example.com/cb#frag",
            "http://shop.example.com/cb",
            "https://user@shop.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "myapp://cb",
            "https:///cb",
            "https://shop.example.com/c b",
            "https://shop.example.com/" + "x" * 2000,
        ],
    )
    def test_dangerous_or_ambiguous_redirect_uris_are_refused(self, uri: str) -> None:
        with pytest.raises(InvalidInput):
            check_redirect_uri(uri)

    def test_matching_is_exact_string_equality(self) -> None:
        client = _client()
        assert client.accepts_redirect_uri("https://shop.example.com/cb")
        for near in (
            "https://shop.example.com/cb/",
            "https://SHOP.example.com/cb",
            "https://shop.example.com:443/cb",
        ):
            assert not client.accepts_redirect_uri(near)


class TestClientShapes:
    def test_a_service_client_needs_a_secret_and_no_redirect_uri(self) -> None:
        with pytest.raises(InvalidInput, match="secret"):
            _client(sign_in=None, redirect_uris=[], scopes=frozenset({"inventory:read"}))
        with pytest.raises(InvalidInput, match="no redirect"):
            _client(sign_in=None, secret_hash="sha256$x", scopes=frozenset({"inventory:read"}))
        service = _client(
            sign_in=None, redirect_uris=[], secret_hash="sha256$x", scopes=frozenset({"inventory:read"})
        )
        assert service.may_use_client_credentials

    def test_a_sign_in_client_cannot_use_client_credentials(self) -> None:
        assert not _client().may_use_client_credentials
        assert not _client(secret_hash="sha256$x").may_use_client_credentials

    def test_scopes_must_fit_the_client_shape(self) -> None:
        with pytest.raises(InvalidInput, match="catalog:write"):
            _client(scopes=frozenset({"me:read", "catalog:write"}))
        with pytest.raises(InvalidInput, match="me:read"):
            _client(sign_in=None, redirect_uris=[], secret_hash="sha256$x", scopes=frozenset({"me:read"}))
        with pytest.raises(InvalidInput):
            _client(scopes=frozenset())


class TestPkce:
    def test_s256_matches_the_rfc_7636_example(self) -> None:
        assert s256(RFC_VERIFIER) == RFC_CHALLENGE
        assert pkce_matches(challenge=RFC_CHALLENGE, verifier=RFC_VERIFIER)

    @pytest.mark.parametrize("verifier", ["short", "x" * 129, RFC_VERIFIER[:-1] + "!", RFC_CHALLENGE])
    def test_wrong_or_malformed_verifiers_do_not_match(self, verifier: str) -> None:
        assert not pkce_matches(challenge=RFC_CHALLENGE, verifier=verifier)


def _code(**overrides: object) -> tuple[AuthorizationCode, str]:
    return AuthorizationCode.issue(
        client_id="cli_x",
        redirect_uri="https://shop.example.com/cb",
        subject="s",
        subject_kind="customer",
        scopes=frozenset({"me:read"}),
        code_challenge=RFC_CHALLENGE,
        now=NOW,
        ttl=timedelta(minutes=5),
    )


class TestAuthorizationCodes:
    def test_only_the_digest_of_the_code_is_kept(self) -> None:
        code, value = _code()
        assert code.code_hash == digest(value)
        assert value not in code.code_hash

    def test_a_fresh_code_is_redeemable_by_its_client_with_its_verifier(self) -> None:
        code, _ = _code()
        code.check_redeemable(
            client_id="cli_x", redirect_uri="https://shop.example.com/cb", verifier=RFC_VERIFIER, now=NOW
        )

    @pytest.mark.parametrize(
        ("change", "replayed"),
        [
            ({"client_id": "cli_other"}, False),
            ({"redirect_uri": "https://shop.example.com/cb2"}, False),
            ({"redirect_uri": None}, False),
            ({"verifier": "x" * 43}, False),
            ({"now": NOW + timedelta(minutes=5)}, False),
        ],
    )
    def test_a_code_is_refused_on_any_mismatch(self, change: dict[str, object], replayed: bool) -> None:
        code, _ = _code()
        attempt: dict[str, object] = {
            "client_id": "cli_x",
            "redirect_uri": "https://shop.example.com/cb",
            "verifier": RFC_VERIFIER,
            "now": NOW,
            **change,
        }
        with pytest.raises(GrantRejected) as rejected:
            code.check_redeemable(**attempt)  # type: ignore[arg-type]
        assert rejected.value.replayed is replayed

    def test_a_spent_code_is_a_replay(self) -> None:
        code, _ = _code()
        code.consume(
            now=NOW,
            family_id=TokenFamily.start(
                client_id="cli_x",
                subject="s",
                subject_kind="customer",
                scopes=frozenset(),
                now=NOW,
                max_lifetime=timedelta(days=1),
            ).id,
        )
        with pytest.raises(GrantRejected) as rejected:
            code.check_redeemable(
                client_id="cli_x", redirect_uri="https://shop.example.com/cb", verifier=RFC_VERIFIER, now=NOW
            )
        assert rejected.value.replayed


class TestRefreshTokens:
    def _family(self, lifetime: timedelta = timedelta(days=30)) -> TokenFamily:
        return TokenFamily.start(
            client_id="cli_x",
            subject="s",
            subject_kind="customer",
            scopes=frozenset({"me:read"}),
            now=NOW,
            max_lifetime=lifetime,
        )

    def test_a_refresh_token_never_outlives_its_family(self) -> None:
        family = self._family(timedelta(days=1))
        token, _ = RefreshToken.issue(family=family, now=NOW, idle_lifetime=timedelta(days=14))
        assert token.expires_at == family.expires_at

    def test_a_used_token_is_a_replay_and_a_revoked_family_is_closed(self) -> None:
        family = self._family()
        token, _ = RefreshToken.issue(family=family, now=NOW, idle_lifetime=timedelta(days=14))
        token.check_usable(family=family, client_id="cli_x", now=NOW)
        token.used_at = NOW
        with pytest.raises(GrantRejected) as replay:
            token.check_usable(family=family, client_id="cli_x", now=NOW)
        assert replay.value.replayed
        fresh, _ = RefreshToken.issue(family=family, now=NOW, idle_lifetime=timedelta(days=14))
        family.revoke(now=NOW, reason="test")
        with pytest.raises(GrantRejected, match="revoked"):
            fresh.check_usable(family=family, client_id="cli_x", now=NOW)
        assert not fresh.is_active(family=family, now=NOW)

    def test_expiry_and_foreign_clients_are_refused_without_counting_as_replay(self) -> None:
        family = self._family()
        token, _ = RefreshToken.issue(family=family, now=NOW, idle_lifetime=timedelta(days=14))
        for kwargs in (
            {"client_id": "cli_y", "now": NOW},
            {"client_id": "cli_x", "now": NOW + timedelta(days=15)},
        ):
            with pytest.raises(GrantRejected) as rejected:
                token.check_usable(family=family, **kwargs)  # type: ignore[arg-type]
            assert not rejected.value.replayed

    def test_revoking_twice_keeps_the_first_reason(self) -> None:
        family = self._family()
        family.revoke(now=NOW, reason="first")
        family.revoke(now=NOW + timedelta(hours=1), reason="second")
        assert family.revoked_reason == "first"
        assert family.revoked_at == NOW


class TestRotationPlan:
    def _keys(self, next_age: timedelta) -> list[SigningKeyState]:
        return [
            SigningKeyState(
                kid="old", status="retired", created_at=NOW - timedelta(days=9), publish_until=NOW
            ),
            SigningKeyState(kid="active", status="active", created_at=NOW - timedelta(days=2)),
            SigningKeyState(kid="next", status="next", created_at=NOW - next_age),
        ]

    def test_a_next_key_published_long_enough_is_promoted_and_the_active_one_retired(self) -> None:
        plan = plan_rotation(
            self._keys(timedelta(hours=1)),
            now=NOW,
            lead_time=timedelta(minutes=15),
            retired_publication=timedelta(minutes=11),
            force=False,
        )
        assert (plan.promote, plan.retire) == ("next", "active")
        assert plan.retire_publish_until == NOW + timedelta(minutes=11)

    def test_a_next_key_published_too_recently_is_not_promoted_unless_forced(self) -> None:
        keys = self._keys(timedelta(minutes=1))
        with pytest.raises(RotationRefused, match="Wait 841 s"):
            plan_rotation(
                keys, now=NOW, lead_time=timedelta(minutes=15), retired_publication=timedelta(0), force=False
            )
        assert (
            plan_rotation(
                keys, now=NOW, lead_time=timedelta(minutes=15), retired_publication=timedelta(0), force=True
            ).promote
            == "next"
        )

    def test_without_a_next_key_there_is_nothing_to_promote(self) -> None:
        keys = [SigningKeyState(kid="active", status="active", created_at=NOW)]
        with pytest.raises(RotationRefused):
            plan_rotation(keys, now=NOW, lead_time=timedelta(0), retired_publication=timedelta(0), force=True)

    def test_retired_keys_are_published_only_until_their_deadline(self) -> None:
        retired = SigningKeyState(
            kid="r", status="retired", created_at=NOW, publish_until=NOW + timedelta(minutes=1)
        )
        assert retired.is_published(NOW)
        assert not retired.is_published(NOW + timedelta(minutes=1))
