"""The pacing backlog in Redis (``PaceQueue``) and the limiter's slot read for its projection."""

from __future__ import annotations

from bot.state import RateLimiter, State
from bot.state.pacing import PaceQueue

BUCKET = "telegram:@newsdao"


def test_the_backlog_releases_lowest_score_first_and_keeps_a_place_once_taken(
    state: State
) -> None:
    queue = PaceQueue(state.client, namespace=state.namespace)
    assert queue.head(BUCKET) is None and queue.size(BUCKET) == 0
    assert queue.join(BUCKET, "b", -200.0) is True
    assert queue.join(BUCKET, "a", -100.0) is True
    assert queue.join(BUCKET, "c", -300.0) is True
    # joining again keeps its place (a record coming back from a lost slot race)
    assert queue.join(BUCKET, "c", 999.0) is False
    assert queue.score(BUCKET, "c") == -300.0
    # a better place (an editor's push) moves it up
    assert queue.join(BUCKET, "a", -250.0) is False
    assert [rid for rid, _ in queue.first(BUCKET, 3)] == ["c", "a", "b"]
    assert queue.join(BUCKET, "a", -100.0) is False
    assert queue.head(BUCKET) == "c"
    assert [rid for rid, _ in queue.first(BUCKET, 2)] == ["c", "a"]
    assert queue.first(BUCKET, 0) == []
    queue.leave(BUCKET, "c")
    assert queue.head(BUCKET) == "a" and queue.size(BUCKET) == 2
    queue.leave(BUCKET)  # nothing named: nothing happens
    assert queue.size(BUCKET) == 2
    assert PaceQueue(state.client, namespace=state.namespace + "-other").size(BUCKET) == 0
    assert state.client.exists(state.keys.pace_queue(BUCKET))


def test_the_limiter_reads_the_slots_granted_since_a_moment(state: State) -> None:
    limiter = RateLimiter(state.client, namespace=state.namespace)
    for t in (100.0, 200.0, 300.0):
        assert limiter.reserve(BUCKET, [(10, 3600.0)], now=t) == 0.0
    assert limiter.slots(BUCKET, 150.0) == [200.0, 300.0]
    assert limiter.slots(BUCKET, 300.0) == []
