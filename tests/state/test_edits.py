"""The pending-edit set and the sent record's content fields (``bot.state.edits``), on real Redis.

What they must guarantee: one worker edits a message at a time; a change that arrives while an
edit runs is not lost (the holder is told to go again, at once); a crash leaves the entry to be
taken again after its lease; content fields only land on the record whose receipt they describe.
"""

from __future__ import annotations

from bot.state import State
from bot.state.edits import SENT_FIELDS


def sent_record(state: State, url: str = "https://news.example/a.html") -> tuple[str, str, str]:
    ref = (url, "telegram", "@news")
    state.ensure(*ref, state="queued")
    assert state.acquire_send(*ref, owner="w1", lease_seconds=30)
    assert state.fence_send(*ref, owner="w1", send_seconds=30, fingerprint="fp1")
    assert state.complete_send(*ref, owner="w1", receipt_id="17", receipt_url="https://t.me/x/17",
                               fields={"sent_fp": "fp1", "sent_kind": "photo",
                                       "sent_text": "<b>v1</b>", "sent_image": "abc"})
    return ref


def test_complete_send_keeps_what_was_sent(state: State) -> None:
    ref = sent_record(state)
    rec = state.get(*ref)
    assert rec is not None and rec.state == "sent" and rec.receipt_id == "17"
    assert {k: rec.extra[k] for k in SENT_FIELDS if k in rec.extra and k != "sent_at"} == {
        "sent_fp": "fp1", "sent_kind": "photo", "sent_text": "<b>v1</b>", "sent_image": "abc"}
    assert float(rec.extra["sent_at"]) > 0


def test_one_holder_and_a_change_during_the_edit_is_not_lost(state: State) -> None:
    ref = sent_record(state)
    key = state.key_for(*ref)
    edits = state.edits
    assert edits.claim(key, lease=60) is None  # nothing wanted yet
    edits.want(key)
    claim = edits.claim(key, lease=60)
    assert claim is not None
    assert edits.claim(key, lease=60) is None  # a second worker stays out
    edits.want(key)  # the file changed again mid-edit
    assert edits.finish(key, claim) is True  # the holder must go again
    again = edits.claim(key, lease=60)
    assert again is not None
    assert edits.finish(key, again) is False and edits.pending() == []


def test_a_crashed_holder_is_taken_over_after_its_lease(state: State) -> None:
    ref = sent_record(state)
    key = state.key_for(*ref)
    edits = state.edits
    edits.want(key, now=1000.0)
    assert edits.claim(key, lease=60, now=1000.0) is not None
    assert edits.claim(key, lease=60, now=1059.0) is None
    assert edits.stale(now=1061.0, grace=5) == []  # due, but give the queue its chance
    assert edits.stale(now=1066.0, grace=5) == [key]
    assert edits.stale(now=1067.0, grace=5) == []  # handed over once per grace period
    assert edits.claim(key, lease=60, now=1072.0) is not None


def test_retry_later_and_content_fields_follow_the_receipt(state: State) -> None:
    ref = sent_record(state)
    key = state.key_for(*ref)
    edits = state.edits
    edits.want(key, now=100.0)
    claim = edits.claim(key, lease=60, now=100.0)
    assert claim is not None
    edits.retry(key, claim, at=130.0)
    assert edits.claim(key, lease=60, now=120.0) is None
    assert edits.claim(key, lease=60, now=131.0) is not None
    assert edits.update_sent(key, "17", {"sent_fp": "fp2", "sent_text": "v2"}) is True
    assert edits.update_sent(key, "18", {"sent_fp": "other"}) is False  # not this message
    rec = state.get(*ref)
    assert rec is not None and rec.extra["sent_fp"] == "fp2" and rec.extra["sent_text"] == "v2"
    assert rec.state == "sent" and rec.receipt_id == "17"
