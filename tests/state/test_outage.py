"""The one retry loop that rides out a Redis restart."""

from __future__ import annotations

import pytest
import redis

from bot.state.outage import through_outage


def test_connection_errors_are_retried_until_redis_answers(caplog: pytest.LogCaptureFixture):
    failures = [redis.ConnectionError("Connection refused"), redis.TimeoutError("timed out")]

    def call() -> str:
        if failures:
            raise failures.pop(0)
        return "done"

    assert through_outage("writing", call, seconds=5, first_delay=0.01) == "done"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all("writing: Redis unavailable" in line for line in lines)
    assert not [r for r in caplog.records if r.exc_info]  # one line each, no traceback


def test_it_gives_up_after_its_time_and_never_retries_other_errors():
    def down() -> None:
        raise redis.ConnectionError("Connection refused")

    with pytest.raises(redis.ConnectionError):
        through_outage("writing", down, seconds=0.05, first_delay=0.01)
    calls = []

    def broken() -> None:
        calls.append(1)
        raise redis.ResponseError("WRONGTYPE")

    with pytest.raises(redis.ResponseError):
        through_outage("writing", broken, seconds=5, first_delay=0.01)
    assert calls == [1]
