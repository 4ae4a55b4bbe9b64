"""Pause flag, audit stream, heartbeats, scan index and namespaces on real Redis."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.state import RateLimiter, State, record_id

T0 = 1_800_000_000.0


def _second(redis_url: str, ns: str) -> State:
    return State(redis.Redis.from_url(redis_url, decode_responses=True), namespace=ns)


def test_pause_is_shared_and_stops_acquire(state: State, redis_url: str,
                                           redis_namespace: str) -> None:
    other = _second(redis_url, redis_namespace)
    ref = ("https://newsdao.kr/p", "telegram", "@newsdao")
    state.ensure(*ref, state="queued")
    assert not other.is_paused() and other.pause_info() is None
    state.pause("alice", "checking a bad teaser", now=T0)
    assert other.is_paused()
    assert other.pause_info() == {"who": "alice", "reason": "checking a bad teaser", "at": T0}
    assert other.acquire_send(*ref, owner="w", lease_seconds=5) is None
    assert other.get(*ref).state == "queued"
    assert other.acquire_send(*ref, owner="w", lease_seconds=5, ignore_pause=True) is not None
    assert other.resume("bob")
    assert not state.is_paused() and not state.resume("bob")


def test_audit_order_and_fields(state: State) -> None:
    ids = [state.audit("alice", f"action{i}", f"target{i}", "ok", now=T0 + i) for i in range(5)]
    ids.append(state.audit("bot", "push", "post", {"sent": 2, "failed": 0}, now=T0 + 9))
    log = state.audit_log(limit=10)
    assert [e["id"] for e in log] == list(reversed(ids))  # newest first
    assert log[0]["result"] == '{"sent": 2, "failed": 0}'
    assert log[-1] == {"id": ids[0], "who": "alice", "action": "action0", "target": "target0",
                       "result": "ok", "at": T0}
    assert [e["action"] for e in state.audit_log(limit=2)] == ["push", "action4"]
    assert state.audit_log(limit=0) == []


def test_audit_stores_outside_text_escaped_and_results_stay_json(state: State) -> None:
    state.audit("tg:1", "push", "a\x1b[2J\u202eb\nc",
                {"error": "x\x7f\u2028\u202e\x1b 한국 \udcff"})
    (row,) = state.audit_log(1)
    assert row["target"] == "a\\x1b[2J\\u202eb\\nc"
    assert json.loads(row["result"]) == {"error": "x\x7f\u2028\u202e\x1b 한국 \udcff"}
    assert not any(c in row["result"] for c in "\x7f\u2028\u202e\x1b")


def test_refusals_are_audited_one_by_one_then_as_one_running_tally(state: State) -> None:
    state.audit("tg:7", "pause", "*", "ok")
    counts = [state.audit_refusal("tg:666", "/push", {"why": "not an editor"}, limit=3)[1]
              for _ in range(10)]
    assert counts == list(range(1, 11))
    rows = state.audit_log(100)
    assert len(rows) == 1 + 3 + 1
    tally = json.loads(rows[0]["result"])
    assert tally == {"why": "flood", "more": 7, "after": 3, "last": {"why": "not an editor"}}
    assert rows[-1]["action"] == "pause"
    state.audit_refusal("tg:667", "x" * 500, {"why": "y" * 5000})
    newest = state.audit_log(1)[0]
    assert len(newest["target"]) == 80 and len(newest["result"]) < 200


def test_heartbeats(state: State) -> None:
    state.heartbeat("worker@a", now=T0)
    state.heartbeat("beat", now=T0 + 5)
    assert state.heartbeats(now=T0 + 10) == {"worker@a": 10.0, "beat": 5.0}
    state.heartbeat("live")
    assert state.heartbeats()["live"] < 2.0
    state.forget_heartbeat("beat")
    assert "beat" not in state.heartbeats()


def test_seen_posts_and_baseline(state: State) -> None:
    url = "https://newsdao.kr/2026/11/29/exaone-3.html"
    assert not state.is_seen("newsdao", url)
    assert state.mark_seen("newsdao", url, {"title": "EXAONE 3 공개", "date": "2026-11-29"})
    assert not state.mark_seen("newsdao", url, {"title": "changed"})
    assert state.seen_info("newsdao", url) == {"title": "EXAONE 3 공개", "date": "2026-11-29"}
    assert state.is_seen("newsdao", url) and not state.is_seen("othersite", url)
    assert state.seen_count("newsdao") == 1
    assert not state.baseline_done("newsdao")
    state.set_baseline_done("newsdao")
    assert state.baseline_done("newsdao") and not state.baseline_done("othersite")


def test_file_signatures_of_a_large_site(state: State) -> None:
    sigs = {f"_posts/2026-01-01-post-{i:05d}.md": f"{1_700_000_000_000_000_000 + i}:{i}"
            for i in range(20_000)}
    state.set_file_signatures("big", sigs)
    assert state.file_signatures("big") == sigs
    changed = {"_posts/2026-01-01-post-00001.md": "1:1", "_posts/new.md": "2:2"}
    removed = [f"_posts/2026-01-01-post-{i:05d}.md" for i in range(10, 20)]
    state.set_file_signatures("big", changed, removed)
    now = state.file_signatures("big")
    assert len(now) == 20_000 - 10 + 1
    assert now["_posts/new.md"] == "2:2" and now["_posts/2026-01-01-post-00001.md"] == "1:1"
    assert not any(path in now for path in removed)
    assert state.file_signatures("other") == {}


def test_namespaces_isolate(redis_client: redis.Redis) -> None:
    a = State(redis_client, namespace="site-a")
    b = State(redis_client, namespace="site-b")
    ref = ("https://newsdao.kr/p", "telegram", "@newsdao")
    a.ensure(*ref, state="queued")
    a.pause("alice")
    a.mark_seen("s", ref[0], {})
    a.audit("alice", "pause", "*", "ok")
    a.schedule("k", T0)
    a.heartbeat("w")
    assert b.get(*ref) is None and sum(b.counts().values()) == 0 and b.records() == []
    assert not b.is_paused() and not b.is_seen("s", ref[0]) and b.audit_log() == []
    assert b.next_due() is None and b.heartbeats() == {}
    assert b.acquire_send(*ref, owner="w", lease_seconds=5) is None
    ra, rb = RateLimiter(redis_client, namespace="site-a"), RateLimiter(redis_client,
                                                                        namespace="site-b")
    assert ra.reserve("tg", [(1, 60.0)], now=T0) == 0.0
    assert rb.reserve("tg", [(1, 60.0)], now=T0) == 0.0
    assert all(key.startswith(("site-a:", "site-b:")) for key in redis_client.scan_iter())
    with pytest.raises(ValueError):
        State(redis_client, namespace="bad name")


def test_client_must_decode(redis_url: str) -> None:
    with pytest.raises(ValueError, match="decode_responses"):
        State(redis.Redis.from_url(redis_url))
    with pytest.raises(ValueError, match="decode_responses"):
        RateLimiter(redis.Redis.from_url(redis_url))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(post=st.text(min_size=1, max_size=200), dest=st.text(min_size=1, max_size=40),
       reason=st.text(max_size=100))
def test_any_unicode_identity_round_trips(redis_client: redis.Redis, post: str, dest: str,
                                          reason: str) -> None:
    state = State(redis_client, namespace=f"h{uuid.uuid4().hex}")  # fresh per example
    created = state.ensure(post, "telegram", dest, state="waiting", reason=reason)
    assert created.key == record_id(post, "telegram", dest) == State.key_for(post, "telegram",
                                                                              dest)
    got = state.get(post, "telegram", dest)
    assert got is not None
    assert (got.post, got.destination, got.reason) == (post, dest, reason)
    assert got.key in {r.key for r in state.records(post_url=post)}
    moved = state.transition(post, "telegram", dest, "waiting", "queued", reason=reason + "!")
    assert moved.reason == reason + "!"


def test_server_time_is_close_to_wall_clock(state: State) -> None:
    assert abs(state.now() - time.time()) < 5.0


def test_the_batched_scan_writes_match_their_one_at_a_time_versions(state: State) -> None:
    site = "s1"
    assert state.mark_seen_many(site, [("u1", {"a": 1}), ("u2", {}), ("u1", {"a": 2})]) == [
        True, True, False]
    assert state.seen_infos(site, ["u1", "nope"]) == [{"a": 1}, None]
    assert state.mark_seen_many(site, []) == []
    state.remember_files(site, [("p1", ["t:x", "e:y"], "u1"), ("p2", ["t:x"], "u2")])
    assert state.file_identities(site, ["p1", "p2", "p3"]) == ["u1", "u2", None]
    # A name given twice names the later post, as two set_identity_names calls leave it.
    assert state.identities_by_names(site, [["t:x", "e:y"], [], ["e:z"]]) == [
        ["u2", "u1"], [], []]
    existing = state.ensure("u1", "telegram", "@c", state="queued")
    made = state.ensure_many([("u1", "telegram", "@c", "skipped", "baseline", None),
                              ("u2", "x", "x", "waiting", "later", 1234.5)], by="scan")
    assert made[0] == existing  # an existing record is returned as it is, untouched
    assert (made[1].post, made[1].platform, made[1].state, made[1].reason,
            made[1].scheduled_at) == ("u2", "x", "waiting", "later", 1234.5)
    stored = state.get("u2", "x", "x")
    assert stored is not None and (stored.state, stored.reason, stored.scheduled_at) == (
        "waiting", "later", 1234.5)
    assert state.records(state="waiting") == [stored]
    with pytest.raises(ValueError):
        state.ensure_many([("u3", "x", "x", "sent", "", None)])
