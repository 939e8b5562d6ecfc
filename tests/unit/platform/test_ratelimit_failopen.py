"""The fail-open guard of the limiters: bounded calls, a pause after a failure, and the count of both."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from orderly.platform.ratelimit import FailOpen


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def skipped(limiter: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "orderly_rate_limit_fail_open_total", {"limiter": limiter, "reason": reason}
    )
    return value or 0.0


class Redis:
    """Stands in for a Redis call: answers, fails, or hangs, and counts the calls made."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False
        self.hanging = False

    async def __call__(self) -> str:
        self.calls += 1
        if self.failing:
            raise RedisConnectionError("Connection refused")
        if self.hanging:
            await asyncio.sleep(60)
        return "answer"


@pytest.fixture
def clock() -> Clock:
    return Clock()


def guard(clock: Clock, name: str, *, budget_s: float = 1.0, pause_s: float = 5.0) -> FailOpen:
    return FailOpen(limiter=name, budget_s=budget_s, pause_after_failure_s=pause_s, clock=clock)


class TestFailOpen:
    async def test_a_healthy_redis_answers_through_the_guard(self, clock: Clock) -> None:
        redis = Redis()

        assert await guard(clock, "unit-healthy").call("acquire", redis) == "answer"

    async def test_a_failed_call_lets_the_request_through_and_counts_it(self, clock: Clock) -> None:
        redis = Redis()
        redis.failing = True
        before = skipped("unit-failing", "error")

        assert await guard(clock, "unit-failing").call("acquire", redis) is None
        assert skipped("unit-failing", "error") == before + 1

    async def test_after_a_failure_redis_is_left_alone_until_the_pause_ends(self, clock: Clock) -> None:
        redis = Redis()
        redis.failing = True
        limiter = guard(clock, "unit-paused", pause_s=5.0)
        await limiter.call("acquire", redis)
        redis.failing = False
        before = skipped("unit-paused", "paused")

        clock.now += 4.9
        for _ in range(10):
            assert await limiter.call("acquire", redis) is None
        assert redis.calls == 1
        assert skipped("unit-paused", "paused") == before + 10

        clock.now += 0.2
        assert await limiter.call("acquire", redis) == "answer"
        assert redis.calls == 2

    async def test_a_call_past_its_budget_is_abandoned_at_the_budget(self, clock: Clock) -> None:
        redis = Redis()
        redis.hanging = True
        before = skipped("unit-slow", "timeout")
        started = time.monotonic()

        assert await guard(clock, "unit-slow", budget_s=0.05).call("acquire", redis) is None
        assert time.monotonic() - started < 1.0
        assert skipped("unit-slow", "timeout") == before + 1

    async def test_errors_that_are_not_about_redis_are_not_swallowed(self, clock: Clock) -> None:
        async def broken() -> None:
            raise ValueError("a bug")

        with pytest.raises(ValueError, match="a bug"):
            await guard(clock, "unit-bug").call("acquire", broken)
