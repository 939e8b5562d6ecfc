"""E-mail normalisation, the password rule, scopes and roles: pure domain rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderly.modules.identity.domain.accounts import (
    Email,
    WeakPassword,
    check_new_password,
    check_password_strength,
)
from orderly.modules.identity.domain.scopes import (
    CUSTOMER_SCOPES,
    ROLE_SCOPES,
    SERVICE_SCOPES,
    Role,
    format_scope,
    parse_role,
    parse_scope,
)
from orderly.shared_kernel.errors import InvalidInput

ADA = Email.parse("ada@example.com")


class TestEmailNormalisation:
    def test_whitespace_is_trimmed_and_the_domain_lower_cased_but_the_local_part_kept(self) -> None:
        email = Email.parse("  Ada.Lovelace@Example.COM \n")
        assert email.value == "Ada.Lovelace@example.com"
        assert email.key == "ada.lovelace@example.com"

    def test_addresses_differing_only_in_case_share_one_key(self) -> None:
        assert Email.parse("ADA@example.com").key == Email.parse("ada@EXAMPLE.com").key

    def test_plus_addressing_and_quoting_characters_are_accepted(self) -> None:
        assert Email.parse("ada+orders@example.co.uk").value == "ada+orders@example.co.uk"

    @pytest.mark.parametrize(
        "raw",
        [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@@example.com",
            "ada @example.com",
            "ada@exa mple.com",
            ".ada@example.com",
            "ada.@example.com",
            "a..da@example.com",
            "ada@-example.com",
            "ada@example.123",
            "ada\x00@example.com",
            "a" * 65 + "@example.com",
            "ada@" + "a" * 250 + ".com",
            "ada@exämple.com",
        ],
    )
    def test_malformed_addresses_are_refused(self, raw: str) -> None:
        with pytest.raises(InvalidInput):
            Email.parse(raw)

    @given(st.text(max_size=300))
    def test_parsing_never_fails_with_anything_but_invalid_input(self, raw: str) -> None:
        try:
            email = Email.parse(raw)
        except InvalidInput:
            return
        assert email.key == email.value.lower()
        assert "\x00" not in email.value
        assert len(email.value) <= 254


class TestPasswordStrength:
    def test_a_long_uncommon_password_is_accepted(self) -> None:
        check_password_strength("violet-harbour-lantern-7", email=ADA)

    @pytest.mark.parametrize(
        ("password", "reason"),
        [
            ("short-pass1", "at least 12"),
            ("x" * 257, "at most 256"),
            ("123456789012345", "only digits and symbols"),
            ("!!!!????####", "only digits and symbols"),
            ("password1234", "too common"),
            ("Password123456!", "too common"),
            ("QWERTYUIOP2024", "too common"),
            ("correcthorsebatterystaple", "too common"),
            ("abababababab", "distinct characters"),
            ("ada@example.com1", "e-mail"),
            ("ADA@EXAMPLE.COM!!", "e-mail"),
            ("adaadaada123", "e-mail"),
            ("example.com-ada", "e-mail"),
        ],
    )
    def test_weak_passwords_are_refused_with_the_reason(self, password: str, reason: str) -> None:
        with pytest.raises(WeakPassword, match=reason):
            check_password_strength(password, email=ADA)

    def test_a_password_that_merely_contains_the_local_part_among_much_else_is_fine(self) -> None:
        check_password_strength("ada-walks-the-long-harbour-road-9", email=ADA)


class TestNewPassword:
    def test_a_strong_password_other_than_the_current_one_is_accepted(self) -> None:
        check_new_password("quiet-orchard-compass-42", current="violet-harbour-lantern-7", email=ADA)

    def test_the_current_password_again_is_refused_naming_new_password(self) -> None:
        with pytest.raises(WeakPassword, match="differ") as refused:
            check_new_password("violet-harbour-lantern-7", current="violet-harbour-lantern-7", email=ADA)
        assert refused.value.details["field"] == "new_password"

    def test_a_change_of_case_is_a_different_password(self) -> None:
        check_new_password("Violet-Harbour-Lantern-7", current="violet-harbour-lantern-7", email=ADA)

    @pytest.mark.parametrize("password", ["short-pass1", "Password123456!", "ada@example.com1"])
    def test_the_strength_rule_applies_and_names_new_password(self, password: str) -> None:
        with pytest.raises(WeakPassword) as refused:
            check_new_password(password, current="violet-harbour-lantern-7", email=ADA)
        assert refused.value.details["field"] == "new_password"


class TestScopes:
    def test_scope_strings_parse_to_sets_and_back(self) -> None:
        scopes = parse_scope("orders:read  me:read")
        assert scopes == {"orders:read", "me:read"}
        assert format_scope(scopes) == "me:read orders:read"

    @pytest.mark.parametrize(
        "value", ['me:read "x"', "me:read\\x", "a\tb", "é", " ".join(f"s{i}" for i in range(40))]
    )
    def test_malformed_scope_strings_are_refused(self, value: str) -> None:
        with pytest.raises(InvalidInput):
            parse_scope(value)

    def test_every_role_maps_to_staff_scopes_and_admin_holds_them_all(self) -> None:
        for role in Role:
            assert ROLE_SCOPES[role] <= ROLE_SCOPES[Role.ADMIN]
        assert "catalog:write" in ROLE_SCOPES[Role.CATALOG_MANAGER]
        assert "catalog:write" not in ROLE_SCOPES[Role.SUPPORT]

    def test_every_staff_member_may_read_and_change_their_own_account(self) -> None:
        for role in Role:
            assert {"me:read", "me:write"} <= ROLE_SCOPES[role]

    def test_customers_never_hold_back_office_scopes(self) -> None:
        assert not CUSTOMER_SCOPES & {
            "catalog:write",
            "inventory:write",
            "customers:read",
            "oauth:introspect",
        }

    def test_services_do_not_impersonate_people(self) -> None:
        assert "me:read" not in SERVICE_SCOPES
        assert "me:write" not in SERVICE_SCOPES

    def test_unknown_roles_are_refused_naming_the_known_ones(self) -> None:
        assert parse_role("support") is Role.SUPPORT
        with pytest.raises(InvalidInput, match="inventory_manager"):
            parse_role("root")
