"""The Idempotency-Key header and the request fingerprint."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from orderly.platform.idempotency.keys import KEY_PATTERN, IdempotencyKey, InvalidKey, fingerprint, parse_key


def _fp(
    *,
    method: str = "POST",
    path: bytes = b"/v1/checkouts",
    query: bytes = b"",
    content_type: str | None = "application/json",
    body: bytes = b'{"cart":"c1"}',
    secret: bytes | None = None,
) -> str:
    return fingerprint(
        method=method, path=path, query=query, content_type=content_type, body=body, secret=secret
    )


class TestParsingTheHeader:
    def test_a_bare_key_is_taken_as_sent(self) -> None:
        assert parse_key([b"8e03978e-40d5-43e8-bc93-6894a57f9324"]) == "8e03978e-40d5-43e8-bc93-6894a57f9324"

    def test_a_quoted_key_names_the_same_key_as_its_bare_spelling(self) -> None:
        assert parse_key([b'"order-1"']) == parse_key([b"order-1"])

    def test_escapes_inside_a_quoted_key_are_undone(self) -> None:
        assert parse_key([b'"a\\"b\\\\c"']) == 'a"b\\c'

    def test_surrounding_whitespace_is_not_part_of_the_key(self) -> None:
        assert parse_key([b"  k-1 \t"]) == "k-1"

    def test_inner_spaces_are_printable_and_kept(self) -> None:
        assert parse_key([b"order 1"]) == "order 1"

    def test_255_characters_are_accepted(self) -> None:
        assert len(parse_key([b"k" * 255])) == 255

    @pytest.mark.parametrize(
        "raw",
        [
            pytest.param(b"", id="empty"),
            pytest.param(b"k" * 256, id="too-long"),
            pytest.param(b'""', id="empty-quoted"),
            pytest.param(b"caf\xc3\xa9", id="non-ascii"),
            pytest.param(b"a\x01b", id="control-character"),
            pytest.param(b"a\x7fb", id="delete-character"),
            pytest.param(b'"unterminated', id="unterminated-quote"),
            pytest.param(b'"a"b"', id="inner-quote"),
            pytest.param(b'"a\\nb"', id="unknown-escape"),
        ],
    )
    def test_unusable_keys_are_refused(self, raw: bytes) -> None:
        with pytest.raises(InvalidKey):
            parse_key([raw])

    def test_two_key_headers_are_ambiguous_and_refused(self) -> None:
        with pytest.raises(InvalidKey):
            parse_key([b"k-1", b"k-2"])


class TestTheDocumentedPattern:
    """``KEY_PATTERN`` is what the OpenAPI document tells clients; it must accept
    exactly the header values ``parse_key`` accepts (leading and trailing
    blanks aside: those never survive an HTTP parser)."""

    @given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=260))
    @example('"a\\"b"')
    @example('"a"b"')
    @example("k" * 255)
    @example("k" * 256)
    @example('"' + "k" * 255 + '"')
    def test_it_accepts_what_the_parser_accepts(self, value: str) -> None:
        if value != value.strip(" "):
            return
        try:
            parse_key([value.encode()])
            parsed = True
        except InvalidKey:
            parsed = False
        assert bool(re.fullmatch(KEY_PATTERN, value)) is parsed


class TestFingerprint:
    def test_the_same_request_has_the_same_fingerprint(self) -> None:
        assert _fp() == _fp()
        assert len(_fp()) == 64

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param({"method": "PUT"}, id="method"),
            pytest.param({"path": b"/v1/payments"}, id="path"),
            pytest.param({"query": b"dry_run=1"}, id="query"),
            pytest.param({"body": b'{"cart":"c2"}'}, id="body"),
            pytest.param({"body": b'{"cart": "c1"}'}, id="body-whitespace"),
            pytest.param({"content_type": "application/x-www-form-urlencoded"}, id="media-type"),
        ],
    )
    def test_any_change_that_makes_another_request_changes_it(self, change: dict[str, object]) -> None:
        assert _fp(**change) != _fp()  # type: ignore[arg-type]

    def test_media_type_parameters_and_case_do_not_matter(self) -> None:
        assert _fp(content_type="Application/JSON; charset=utf-8") == _fp(content_type="application/json")

    def test_moving_bytes_between_fields_changes_it(self) -> None:
        # Fields are length-prefixed: path "/ab" + query "" is not path "/a" + query "b".
        assert _fp(path=b"/ab", query=b"") != _fp(path=b"/a", query=b"b")

    def test_method_case_does_not_matter(self) -> None:
        assert _fp(method="post") == _fp(method="POST")

    def test_a_secret_keys_it_and_the_same_secret_gives_the_same_fingerprint(self) -> None:
        secret = b"s" * 32
        assert _fp(secret=secret) == _fp(secret=secret)
        assert _fp(secret=secret) != _fp()
        assert _fp(secret=secret) != _fp(secret=b"t" * 32)
        assert _fp(secret=secret, body=b"{}") != _fp(secret=secret)

    def test_without_the_secret_a_guessed_body_cannot_be_checked(self) -> None:
        # What someone holding the table (not the settings) could compute for a
        # guessed password never equals the stored, keyed fingerprint.
        body = b'{"current_password": "old one", "new_password": "a guess"}'
        stored = _fp(body=body, secret=b"k" * 32)
        assert stored != _fp(body=body)
        assert hashlib.sha256(body).hexdigest() not in stored


class TestDerivedIdentifiers:
    def test_every_attempt_under_a_key_derives_the_same_identifier(self) -> None:
        first = IdempotencyKey(key="k-1", scope="sub:alice", attempt=1)
        retry = IdempotencyKey(key="k-1", scope="sub:alice", attempt=2)
        assert first.derive("order") == retry.derive("order")

    def test_other_callers_purposes_and_keys_derive_other_identifiers(self) -> None:
        base = IdempotencyKey(key="k-1", scope="sub:alice", attempt=1)
        derived = {
            base.derive("order"),
            base.derive("payment"),
            IdempotencyKey(key="k-1", scope="sub:bob", attempt=1).derive("order"),
            IdempotencyKey(key="k-2", scope="sub:alice", attempt=1).derive("order"),
        }
        assert len(derived) == 4
