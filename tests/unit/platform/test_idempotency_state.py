"""The life of a key: what a request finds and what it may do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderly.platform.idempotency.state import (
    Execute,
    InFlight,
    KeyRecord,
    KeyState,
    Replay,
    Reused,
    StoredResponse,
    decide,
    replayable_headers,
    should_store,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
FP = "a" * 64
OTHER_FP = "b" * 64
ANSWER = StoredResponse(status=201, headers=(("content-type", "application/json"),), body=b'{"id":1}')


def in_flight(*, lease_left: timedelta, attempts: int = 1) -> KeyRecord:
    return KeyRecord(
        fingerprint=FP,
        state=KeyState.IN_FLIGHT,
        locked_until=NOW + lease_left,
        attempts=attempts,
        response=None,
    )


def completed(response: StoredResponse = ANSWER) -> KeyRecord:
    return KeyRecord(
        fingerprint=FP, state=KeyState.COMPLETED, locked_until=None, attempts=1, response=response
    )


class TestFirstRequest:
    def test_a_new_key_executes_as_the_first_attempt(self) -> None:
        assert decide(None, fingerprint=FP, now=NOW) == Execute(attempt=1, took_over=False)


class TestRetryOfACompletedRequest:
    def test_the_same_request_replays_the_stored_answer(self) -> None:
        assert decide(completed(), fingerprint=FP, now=NOW) == Replay(ANSWER)

    def test_a_stored_failure_is_replayed_like_a_success(self) -> None:
        failure = StoredResponse(
            status=500, headers=(), body=b'{"type":"urn:orderly:problem:internal-error"}'
        )
        assert decide(completed(failure), fingerprint=FP, now=NOW) == Replay(failure)

    def test_a_different_request_is_refused(self) -> None:
        assert decide(completed(), fingerprint=OTHER_FP, now=NOW) == Reused()

    def test_a_completed_key_without_an_answer_is_a_corrupt_record(self) -> None:
        broken = KeyRecord(
            fingerprint=FP, state=KeyState.COMPLETED, locked_until=None, attempts=1, response=None
        )
        with pytest.raises(ValueError):
            decide(broken, fingerprint=FP, now=NOW)


class TestRetryWhileTheFirstRuns:
    def test_a_live_lease_means_in_flight(self) -> None:
        record = in_flight(lease_left=timedelta(seconds=10))
        assert decide(record, fingerprint=FP, now=NOW) == InFlight(locked_until=NOW + timedelta(seconds=10))

    def test_a_different_request_is_refused_even_while_the_first_runs(self) -> None:
        assert decide(in_flight(lease_left=timedelta(seconds=10)), fingerprint=OTHER_FP, now=NOW) == Reused()

    def test_a_lease_ending_exactly_now_has_lapsed(self) -> None:
        decision = decide(in_flight(lease_left=timedelta(0)), fingerprint=FP, now=NOW)
        assert decision == Execute(attempt=2, took_over=True)


class TestRetryOfAnAbandonedRequest:
    def test_an_expired_lease_lets_the_retry_take_over_as_the_next_attempt(self) -> None:
        record = in_flight(lease_left=-timedelta(seconds=1), attempts=2)
        assert decide(record, fingerprint=FP, now=NOW) == Execute(attempt=3, took_over=True)

    def test_an_abandoned_key_still_refuses_a_different_request(self) -> None:
        assert decide(in_flight(lease_left=-timedelta(hours=1)), fingerprint=OTHER_FP, now=NOW) == Reused()


class TestWhichAnswersAreStored:
    @pytest.mark.parametrize("status", [200, 201, 204, 400, 404, 409, 422, 500, 502, 504])
    def test_executed_answers_are_stored_failures_included(self, status: int) -> None:
        assert should_store(status, executed=True)

    @pytest.mark.parametrize("status", [401, 405, 429, 503])
    def test_retry_later_and_refused_before_running_answers_release_the_key(self, status: int) -> None:
        assert not should_store(status, executed=True)

    @pytest.mark.parametrize("status", [400, 404, 422])
    def test_requests_that_never_reached_their_endpoint_release_the_key(self, status: int) -> None:
        assert not should_store(status, executed=False)


class TestReplayedHeaders:
    def test_only_representation_headers_are_kept_lower_cased(self) -> None:
        raw = [
            (b"Content-Type", b"application/json"),
            (b"location", b"/v1/orders/1"),
            (b"etag", b'"v1"'),
            (b"content-length", b"8"),
            (b"x-request-id", b"r-1"),
            (b"set-cookie", b"session=secret"),
        ]
        assert replayable_headers(raw) == (
            ("content-type", "application/json"),
            ("location", "/v1/orders/1"),
            ("etag", '"v1"'),
        )
