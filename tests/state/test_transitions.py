"""Every transition of the delivery state machine, allowed and refused, against real Redis."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from bot.state import STATES, RecordNotFoundError, State, TransitionRefusedError

T0 = 1_800_000_000.0
POST = "https://newsdao.kr/2026/11/29/exaone-3.html"
REF = (POST, "telegram", "@newsdao")

FREE = {"new", "waiting", "queued", "retry_wait"}  # states transition() may start from
TARGETS = ["waiting", "queued", "retry_wait", "skipped", "failed"]

# Written out by hand (not imported) so the table in the code is checked, not copied.
EDITOR_ALLOWED = {
    "resend": {"in_doubt", "failed"},
    "mark_sent": {"new", "waiting", "queued", "retry_wait", "failed", "in_doubt", "skipped"},
    "retry": {"failed", "retry_wait"},
    "skip": {"new", "waiting", "queued", "retry_wait", "failed", "in_doubt"},
    "force": set(STATES) - {"sending"},
}
EDITOR_RESULT = {"resend": "queued", "mark_sent": "sent", "retry": "queued", "skip": "skipped",
                 "force": "queued"}


def test_ensure_creates_once_and_never_overwrites(state: State) -> None:
    first = state.ensure(*REF, state="waiting", reason="future date", scheduled_at=T0 + 3600,
                         now=T0)
    assert (first.state, first.reason, first.attempts) == ("waiting", "future date", 0)
    assert first.scheduled_at == T0 + 3600 and first.created_at == T0
    again = state.ensure(*REF, state="queued", reason="other", now=T0 + 5)
    assert again == first
    assert state.get(*REF) == first
    assert state.next_due() == (first.key, T0 + 3600)
    assert state.counts()["waiting"] == 1


@pytest.mark.parametrize("bad", ["sending", "sent", "failed", "in_doubt", "retry_wait", "nope"])
def test_ensure_refuses_non_initial_states(state: State, bad: str) -> None:
    with pytest.raises(ValueError):
        state.ensure(*REF, state=bad)
    assert state.get(*REF) is None


@pytest.mark.parametrize("source", STATES)
@pytest.mark.parametrize("target", TARGETS)
def test_generic_transition_matrix(state: State, make, source: str, target: str) -> None:
    before = make(source)
    if source not in FREE:
        with pytest.raises(ValueError):
            state.transition(*REF, source, target)
        assert state.get(*REF) == before
        # and even asking with every free state as "expected" cannot move it
        assert state.transition(*REF, FREE, target, reason="x") is None
        assert state.get(*REF) == before
        return
    after = state.transition(*REF, source, target, reason="because", by="test", now=T0 + 2)
    assert after is not None
    assert (after.state, after.reason, after.updated_at) == (target, "because", T0 + 2)
    assert state.counts()[target] == 1
    assert sum(state.counts().values()) == 1
    assert state.history(*REF)[-1] == {"at": T0 + 2, "from": source, "to": target,
                                       "reason": "because", "by": "test"}


def test_transition_refused_when_state_differs(state: State, make) -> None:
    before = make("queued")
    assert state.transition(*REF, {"new", "waiting"}, "skipped") is None
    assert state.get(*REF) == before
    assert state.transition(*("https://x/none", "telegram", "@c"), "new", "queued") is None


def test_transition_rejects_protected_fields_and_bad_targets(state: State, make) -> None:
    make("new")
    for field in ("state", "attempts", "lease_owner", "receipt_id", "created_at", "Bad-Name"):
        with pytest.raises(ValueError):
            state.transition(*REF, "new", "queued", **{field: "1"})
    for target in ("sending", "sent", "in_doubt", "new"):
        with pytest.raises(ValueError):
            state.transition(*REF, "new", target)
    assert state.get(*REF).state == "new"
    done = state.transition(*REF, "new", "queued", teaser_hash="abc", message_ids="1,2")
    assert done.teaser_hash == "abc" and done.extra == {"message_ids": "1,2"}


def test_transition_schedule_bookkeeping(state: State, make) -> None:
    rec = make("new")
    waiting = state.transition(*REF, "new", "waiting", reason="future", scheduled_at=T0 + 50)
    assert waiting.scheduled_at == T0 + 50 and state.next_due() == (rec.key, T0 + 50)
    state.transition(*REF, "waiting", "queued")
    assert state.next_due() is None  # queued is not scheduled any more
    backoff = state.transition(*REF, "queued", "retry_wait", now=T0 + 7)
    assert backoff.scheduled_at == T0 + 7  # a retry_wait without a time is due at once
    assert state.next_due() == (rec.key, T0 + 7)


@pytest.mark.parametrize("source", STATES)
def test_acquire_only_from_queued_or_due_retry(state: State, make, source: str) -> None:
    before = make(source)
    got = state.acquire_send(*REF, owner="w2", lease_seconds=10, now=T0 + 100)
    if source in ("queued", "retry_wait"):  # the retry_wait record is due at T0 + 60
        assert got is not None and got.state == "sending"
        assert got.attempts == before.attempts + 1 and got.lease_owner == "w2"
        assert got.lease_until == T0 + 110
        assert state.next_due() is None and state.counts()["sending"] == 1
    else:
        assert got is None
        assert state.get(*REF) == before


def test_retry_wait_not_acquired_before_its_time(state: State, make) -> None:
    make("retry_wait")  # due at T0 + 60
    assert state.acquire_send(*REF, owner="w", lease_seconds=5, now=T0 + 59.9) is None
    assert state.acquire_send(*REF, owner="w", lease_seconds=5, now=T0 + 60).attempts == 2


def test_acquire_missing_record(state: State) -> None:
    assert state.acquire_send(*REF, owner="w", lease_seconds=5) is None
    with pytest.raises(ValueError):
        state.acquire_send(*REF, owner="", lease_seconds=5)


def test_complete_only_by_owner(state: State, make) -> None:
    make("sending")
    assert not state.complete_send(*REF, owner="intruder", receipt_id="1")
    assert state.get(*REF).state == "sending"
    assert state.complete_send(*REF, owner="owner-1", receipt_id="77",
                               receipt_url="https://t.me/newsdao/77", now=T0 + 3)
    done = state.get(*REF)
    assert done.state == "sent" and done.receipt == {"id": "77",
                                                     "url": "https://t.me/newsdao/77"}
    assert done.lease_owner is None and done.lease_until is None
    # a second completion (duplicate task) changes nothing
    assert not state.complete_send(*REF, owner="owner-1", receipt_id="78")
    assert state.get(*REF) == done


@pytest.mark.parametrize("source", [s for s in STATES if s not in ("sending", "in_doubt")])
def test_complete_refused_outside_sending(state: State, make, source: str) -> None:
    before = make(source)
    assert not state.complete_send(*REF, owner="owner-1", receipt_id="9")
    assert state.get(*REF) == before


def test_fail_send_permanent_and_retry(state: State, make) -> None:
    make("sending")
    assert not state.fail_send(*REF, owner="intruder", reason="x", permanent=True)
    assert state.fail_send(*REF, owner="owner-1", reason="Bad Request: chat not found",
                           permanent=True)
    failed = state.get(*REF)
    assert (failed.state, failed.reason, failed.lease_owner) == (
        "failed", "Bad Request: chat not found", None)
    assert not state.fail_send(*REF, owner="owner-1", reason="again", permanent=False)

    other = ("https://newsdao.kr/other", "x", "x:@newsdao")
    state.ensure(*other, state="queued")
    state.acquire_send(*other, owner="o", lease_seconds=5, now=T0)
    assert state.fail_send(*other, owner="o", reason="429 retry_after=30", permanent=False,
                           retry_at=T0 + 30, now=T0 + 1)
    waiting = state.get(*other)
    assert (waiting.state, waiting.scheduled_at) == ("retry_wait", T0 + 30)
    assert state.next_due() == (waiting.key, T0 + 30)
    assert state.expire_leases(now=T0 + 1000) == []  # the lease is gone with the failure


@pytest.mark.parametrize("action", sorted(EDITOR_ALLOWED))
@pytest.mark.parametrize("source", STATES)
def test_editor_resolve_matrix(state: State, make, action: str, source: str) -> None:
    before = make(source)
    if source in EDITOR_ALLOWED[action]:
        after = state.editor_resolve(*REF, action, "alice", now=T0 + 500)
        assert after.state == EDITOR_RESULT[action]
        assert after.lease_owner is None and after.updated_at == T0 + 500
        assert after.reason == f"editor {action} by alice"
        assert state.history(*REF)[-1]["by"] == "alice"
        assert state.expire_leases(now=T0 + 10_000) == []
        if after.state == "queued":
            assert after.receipt is None and state.next_due() is None
            # (past any send deadline an in-doubt attempt left behind)
            assert state.acquire_send(*REF, owner="w9", lease_seconds=5,
                                      now=T0 + 10_000) is not None
    else:
        with pytest.raises(TransitionRefusedError) as info:
            state.editor_resolve(*REF, action, "alice")
        assert info.value.record == before
        assert state.get(*REF) == before


def test_sent_leaves_only_by_force_keeping_the_old_receipt(state: State, make) -> None:
    make("sent")
    for action in ("resend", "mark_sent", "retry", "skip"):
        with pytest.raises(TransitionRefusedError):
            state.editor_resolve(*REF, action, "bob")
    forced = state.editor_resolve(*REF, "force", "bob")
    assert forced.state == "queued" and forced.receipt is None
    assert forced.extra["prev_receipt_id"] == "42"
    assert forced.extra["prev_receipt_url"] == "https://t.me/newsdao/42"


def test_editor_resolve_errors(state: State) -> None:
    with pytest.raises(RecordNotFoundError):
        state.editor_resolve(*REF, "retry", "alice")
    with pytest.raises(ValueError):
        state.editor_resolve(*REF, "explode", "alice")


def test_record_to_dict_is_json_with_stable_keys(state: State, make) -> None:
    make("sent")
    data = state.get(*REF).to_dict()
    assert list(data)[:8] == ["post", "platform", "destination", "state", "attempts", "reason",
                              "receipt", "updated_at"]
    assert data["post"] == POST and data["receipt"] == {"id": "42",
                                                        "url": "https://t.me/newsdao/42"}
    assert datetime.fromisoformat(data["updated_at"]).timestamp() == pytest.approx(T0 + 1)
    assert json.loads(json.dumps(data)) == data
    fresh = state.ensure("https://newsdao.kr/b", "x", "x:@newsdao").to_dict()
    assert fresh["receipt"] is None and fresh["attempts"] == 0


def test_listing_counts_and_recent(state: State) -> None:
    posts = [f"https://newsdao.kr/p{i}" for i in range(4)]
    for i, post in enumerate(posts):
        for platform, dest in (("telegram", "@newsdao"), ("x", "x:@newsdao")):
            state.ensure(post, platform, dest, state="queued", now=T0 + i)
    state.transition(posts[0], "x", "x:@newsdao", "queued", "skipped", now=T0 + 100)
    assert state.counts()["queued"] == 7 and state.counts()["skipped"] == 1
    assert {r.platform for r in state.records(post_url=posts[0])} == {"telegram", "x"}
    assert [r.platform for r in state.records(post_url=posts[0], state="skipped")] == ["x"]
    assert len(state.records(state="queued")) == 7 and len(state.records()) == 8
    recent = state.recent(3)
    assert recent[0].ref == (posts[0], "x", "x:@newsdao")
    assert [r.post for r in recent[1:]] == [posts[3], posts[3]]
    stamps = [r.updated_at for r in state.records()]
    assert stamps == sorted(stamps, reverse=True)
    with pytest.raises(ValueError):
        state.records(state="bogus")
