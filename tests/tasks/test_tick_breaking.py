"""The tick hands due breaking records to the workers before the others (FIFO broker list)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import tasks
from bot.config import Settings
from bot.delivery.quiet import mark_breaking
from bot.state import State


@pytest.fixture
def configured(tmp_path: Path, redis_client: redis.Redis, redis_url: str) -> Iterator[State]:
    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True)
    settings = Settings(_env_file=None, site_dir=site, data_dir=tmp_path / "var")  # type: ignore[call-arg]
    tasks.configure(settings, redis_url=redis_url)
    try:
        yield tasks.get_services().state
    finally:
        tasks._close_services()


def handed_over(client: redis.Redis) -> list[str]:
    """Record keys of the publish messages, in the order the workers take them (BRPOP)."""
    raw = client.lrange("celery", 0, -1)
    keys = []
    for item in reversed(raw):
        message = json.loads(item)
        if message["headers"].get("task") == tasks.PUBLISH:
            keys.append(message["headers"]["argsrepr"].strip("(),' "))
    return keys


def test_due_breaking_records_go_first(configured: State, redis_client: redis.Redis) -> None:
    state = configured
    now = state.now()
    recs = [state.ensure(f"https://e.x/{i}.html", "telegram", "@c", state="waiting",
                         reason="rate limit", scheduled_at=now - 10 + i) for i in range(4)]
    breaking = mark_breaking(state, recs[2])
    assert breaking.extra["breaking"] == "1"
    assert breaking.scheduled_at == recs[2].scheduled_at  # still on the schedule
    redis_client.delete("celery")
    tasks.tick()
    order = handed_over(redis_client)
    assert order[0] == recs[2].key
    assert sorted(order) == sorted(r.key for r in recs)
