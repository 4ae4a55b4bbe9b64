"""Refused attempts at the editors' desk: each one audited (bounded), none acts.

Regression tests for what the access proof (``proofs/access.py``) found: refusals were only
logged, never in the audit trail; a saved [Publish now] still published a post an editor had
skipped with its sibling button; a message sent on behalf of a chat was judged by its bot
account.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.actions.audit import audit_entries
from bot.delivery.notify import Notice, approval_notice
from bot.state.store import REFUSAL_AUDIT_LIMIT

from .conftest import button_data
from .test_desk import EXAONE, KOSPI, _notifier, _post, _queued, _records

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def _refusals(desk: Any) -> list[dict[str, Any]]:
    return [r for r in audit_entries(desk.services, 1000) if r["action"] == "refused"]


def test_a_saved_publish_now_cannot_publish_a_post_skipped_with_its_sibling(desk: Any) -> None:
    _notifier(desk).notify(approval_notice(desk.services.tools, _post(desk, KOSPI)))
    card = desk.messages(desk.editor_chat)[-1]
    publish = button_data(card, "Publish now")
    desk.press(card, "Skip")
    assert {r.state for r in _records(desk, KOSPI)} == {"skipped"}
    answer, replies = desk.press(card, data=publish, user=desk.other_editor, replies=0)
    assert answer["text"] == "This button was already used" and replies == []
    assert {r.state for r in _records(desk, KOSPI)} == {"skipped"}
    assert desk.fake.channel_posts(desk.channel) == []
    (refusal,) = _refusals(desk)
    assert refusal["who"] == f"tg:{desk.other_editor}"
    assert json.loads(refusal["result"])["why"] == "used button"


def test_send_again_after_it_went_out_is_refused_as_used(desk: Any) -> None:
    state = desk.services.state
    rec = _queued(desk, EXAONE)
    assert state.acquire_send(*rec.ref, owner="dead", lease_seconds=0.05)
    assert state.fence_send(*rec.ref, owner="dead", send_seconds=0.05)
    time.sleep(0.1)
    state.expire_leases()
    _notifier(desk).notify(Notice(kind="in_doubt", title="x", post_url=rec.post,
                                  platform=rec.platform, destination=rec.destination,
                                  record_key=rec.key))
    card = desk.messages(desk.editor_chat)[-1]
    again = button_data(card, "Send again")
    desk.press(card, "It went out")
    answer, _ = desk.press(card, data=again, replies=0)
    assert answer["text"] == "This button was already used"
    assert state.get(*rec.ref).state == "sent"
    assert desk.fake.channel_posts(desk.channel) == []


def test_forged_buttons_and_oversized_arguments_of_an_editor_are_audited(desk: Any) -> None:
    desk.send(f"/push {KOSPI}")
    (ask,) = desk.send(f"/push {KOSPI} force")
    real = button_data(ask, "Send again")
    for data in (real[:-1] + ("A" if real[-1] != "A" else "B"), "x" * 80, "a\ufffd\xffb\n"):
        answer, _ = desk.press(ask, data=data, replies=0)
        assert answer["text"] == "Expired or invalid button"
    (reply,) = desk.send("/push " + "a" * 10_240)
    assert "too long" in reply.text
    rows = _refusals(desk)
    whys = [json.loads(r["result"])["why"] for r in rows]
    assert whys == ["argument too long", *["invalid button"] * 3]
    assert all(r["who"] == f"tg:{desk.editor}" for r in rows)
    assert all("\n" not in r["result"] and len(r["result"]) < 400 for r in rows)
    assert len(desk.fake.channel_posts(desk.channel)) == 1


def test_a_flood_of_refusals_costs_the_audit_trail_one_tally_entry(desk: Any) -> None:
    desk.send("/pause")  # an editor's entry the flood must not push out
    for i in range(30):
        desk.fake.push_update(desk.fake.make_message_update(desk.stranger, text=f"/push x{i}"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = _refusals(desk)
        tally = [r for r in rows if json.loads(r["result"])["why"] == "flood"]
        if tally and json.loads(tally[0]["result"])["more"] == 30 - REFUSAL_AUDIT_LIMIT:
            break
        time.sleep(0.1)
    rows = _refusals(desk)
    assert len(rows) == REFUSAL_AUDIT_LIMIT + 1
    tally = json.loads(rows[0]["result"])  # newest first: the tally stays on top
    assert tally["why"] == "flood" and tally["more"] == 30 - REFUSAL_AUDIT_LIMIT
    assert tally["last"]["why"] == "not an editor"
    assert [r["action"] for r in audit_entries(desk.services, 100)][-1] == "pause"
    assert desk.services.state.records() == []


def test_a_message_on_behalf_of_a_chat_is_never_an_editors(make_desk: Any) -> None:
    desk = make_desk(editor_chat_members_are_editors=True)
    anonymous = 1087968824  # GroupAnonymousBot: what Telegram shows for an anonymous admin
    update = desk.fake.make_message_update(anonymous, desk.editor_chat, f"/push {KOSPI}")
    update["message"]["from"]["is_bot"] = True
    update["message"]["sender_chat"] = {"id": desk.editor_chat, "type": "supergroup",
                                        "title": "Editors"}
    desk.fake.push_update(update)
    deadline = time.monotonic() + 10
    while not _refusals(desk) and time.monotonic() < deadline:
        time.sleep(0.05)
    (row,) = _refusals(desk)
    assert row["who"] == f"chat:{desk.editor_chat}"
    assert desk.services.state.records() == []
    assert desk.fake.channel_posts(desk.channel) == []


def test_button_data_that_is_not_ascii_is_invalid_not_an_error(desk: Any) -> None:
    desk.send(f"/push {KOSPI}")
    (ask,) = desk.send(f"/push {KOSPI} force")
    handle, mac = button_data(ask, "Send again").split(".")
    for data in (f"{handle}.\u202e{mac[1:]}", f"{handle}.{mac[:-1]}\ufffd", f"é{handle[1:]}.{mac}"):
        answer, replies = desk.press(ask, data=data, replies=0)
        assert answer["text"] == "Expired or invalid button" and replies == []
    assert [json.loads(r["result"])["why"] for r in _refusals(desk)] == ["invalid button"] * 3


def test_a_command_posted_in_a_channel_is_refused_silently_and_audited(desk: Any) -> None:
    post = desk.fake.make_message_update(desk.stranger, -100777, f"/push {KOSPI}")["message"]
    post.pop("from")
    post["chat"] = post["sender_chat"] = {"id": -100777, "type": "channel", "title": "Other"}
    desk.fake.push_update({"channel_post": post})
    deadline = time.monotonic() + 10
    while not _refusals(desk) and time.monotonic() < deadline:
        time.sleep(0.05)
    (row,) = _refusals(desk)
    assert row["who"] == "chat:-100777" and row["target"] == "/push"
    assert desk.services.state.records() == []
    assert desk.fake.channel_posts(-100777) == []


def test_unknown_posts_in_commands_are_audited_with_controls_escaped(desk: Any) -> None:
    for command in ("/push \u202ekospi\x1b[2J", "/retry \x07x", "/skip a\u2028b",
                    "/preview ../../etc/passwd", "/push nothing force"):
        (reply,) = desk.send(command)
        assert reply.text.startswith("⚠️ Cannot"), reply.text
    rows = audit_entries(desk.services, 10)
    assert [r["action"] for r in rows] == ["refused", "refused", "skip", "retry", "push"]
    assert rows[-1]["target"] == "\\u202ekospi\\x1b[2J"
    for row in rows:
        assert not any(c in str(v) for v in row.values() for c in "\x1b\x07\u2028\u202e")


def _tally(desk: Any, who: str) -> int:
    rows = [json.loads(r["result"]) for r in _refusals(desk) if r["who"] == who]
    flood = [r["more"] for r in rows if r["why"] == "flood"]
    return len([r for r in rows if r["why"] != "flood"]) + (max(flood) if flood else 0)


def test_an_editor_is_answered_ahead_of_a_flood_and_the_flooder_gets_silence(
        desk: Any) -> None:
    desk.send(f"/push {KOSPI}")
    (ask,) = desk.send(f"/push {KOSPI} force")
    data = button_data(ask, "Send again")
    count = 400
    ids = []
    for _ in range(count):
        update = desk.fake.make_callback_update(desk.stranger, data, ask.message)
        ids.append(update["callback_query"]["id"])
        desk.fake.push_update(update)
    (reply,) = desk.send("/help", timeout=30)  # queued behind all 400 presses
    assert "editors' desk" in reply.text
    assert _tally(desk, f"tg:{desk.stranger}") < count  # answered before the flood was through
    deadline = time.monotonic() + 60
    while _tally(desk, f"tg:{desk.stranger}") < count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _tally(desk, f"tg:{desk.stranger}") == count
    desk.settle()
    answered = [i for i in ids if i in desk.fake.callback_answers]
    assert len(answered) == REFUSAL_AUDIT_LIMIT  # then silence: no API call per flood press
    assert len(desk.fake.channel_posts(desk.channel)) == 1
