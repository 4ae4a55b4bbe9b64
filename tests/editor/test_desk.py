"""The editors' desk driven as Telegram would drive it: updates in, replies and channel posts out.

Each test types commands (or presses buttons) through the fake Bot API's getUpdates, then checks
what the bot answered and what the (real) delivery path sent to the channel.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from bot.actions.audit import audit_entries
from bot.actions.lookup import find_post
from bot.delivery.content import prepare
from bot.delivery.notify import Notice, Notifier, approval_notice
from bot.delivery.planner import plan_manual

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

EXAONE = "exaone-3-open-source"  # has a feature image: photo + caption
KOSPI = "kospi-rebound"  # no image: text teaser with link preview


def button_data(message: Any, label: str) -> str:
    for row in (message.reply_markup or {}).get("inline_keyboard", []):
        for button in row:
            if button["text"] == label:
                return str(button["callback_data"])
    raise AssertionError(f"no button {label!r}")


def _post(desk: Any, ref: str) -> Any:
    return find_post(desk.services.tools.site, ref)


def _records(desk: Any, ref: str) -> list[Any]:
    return desk.services.state.records(post_url=_post(desk, ref).url)


def _notifier(desk: Any) -> Notifier:
    notifier = Notifier.from_settings(desk.settings, desk.services.state)
    assert notifier is not None
    return notifier


# ----------------------------------------------------------------------------- help, menu
def test_help_follows_bot_language_and_menu_is_set_in_both(make_desk: Any) -> None:
    desk = make_desk(bot_language="ko")
    (reply,) = desk.send("/help")
    assert "편집 데스크" in reply.text and "/preview" in reply.text
    calls = desk.fake.calls("setMyCommands")
    by_language = {c.params.get("language_code", ""): json.loads(c.params["commands"])
                   for c in calls}
    assert set(by_language) == {"", "ko", "en"}
    assert by_language[""] == by_language["ko"]
    assert by_language["ko"][1] == {"command": "preview",
                                    "description": "채널에 나갈 모습 미리보기"}
    assert by_language["en"][1]["description"].startswith("Preview")
    assert [c["command"] for c in by_language["en"]][:3] == ["help", "preview", "push"]


# ----------------------------------------------------------------------------- preview
def test_preview_photo_is_exactly_what_the_channel_then_receives(desk: Any) -> None:
    post = _post(desk, EXAONE)
    expected = prepare(desk.services.tools, post, "telegram")
    x_item = prepare(desk.services.tools, post, "x")
    photo, details = desk.send(f"/preview {EXAONE}", replies=2)
    assert photo.kind == "photo"
    assert photo.raw == expected.teaser.text
    assert photo.photo == expected.image.read_bytes()
    assert f"X {x_item.teaser.length}/280" in details.text
    assert f"Telegram {expected.teaser.length}/1024" in details.text
    assert "photo 1200x630" in details.text

    (report,) = desk.send(f"/push {EXAONE} telegram")
    assert "queued" in report.text
    (sent,) = desk.fake.channel_posts(desk.channel)
    assert sent.kind == "photo"
    assert sent.raw == photo.raw and sent.caption == photo.caption
    assert sent.entities == photo.entities
    assert sent.photo == photo.photo


def test_preview_text_teaser_matches_channel_text_and_link_preview(desk: Any) -> None:
    post = _post(desk, KOSPI)
    expected = prepare(desk.services.tools, post, "telegram")
    text, details = desk.send(f"/preview {KOSPI}", replies=2)
    assert text.kind == "text" and text.raw == expected.teaser.text
    assert "no image: text teaser" in details.text
    desk.send(f"/push {KOSPI}")
    (sent,) = desk.fake.channel_posts(desk.channel)
    assert (sent.raw, sent.text, sent.entities) == (text.raw, text.text, text.entities)
    assert sent.link_preview_options == text.link_preview_options
    assert sent.link_preview_options["url"] == post.url


@pytest.mark.parametrize("ref", [KOSPI, EXAONE])
def test_previews_show_the_x_post_with_its_line_breaks(desk: Any, ref: str) -> None:
    x_text = prepare(desk.services.tools, _post(desk, ref), "x").teaser.text
    assert x_text.count("\n") >= 3  # title, excerpt, hashtags and link on lines of their own
    _, details = desk.send(f"/preview {ref}", replies=2)
    assert x_text in details.text
    # The approval preview is the same details message, with the buttons.
    assert _notifier(desk).notify(approval_notice(desk.services.tools, _post(desk, ref)))
    card = desk.messages(desk.editor_chat)[-1]
    assert card.reply_markup and x_text in card.text


# ----------------------------------------------------------------------------- push
def test_push_is_deduplicated_and_answers_with_the_receipt_link(desk: Any) -> None:
    desk.send(f"/push {KOSPI}")
    assert len(desk.fake.channel_posts(desk.channel)) == 1
    (again,) = desk.send(f"/push {KOSPI} all")
    assert "already sent" in again.text
    receipt = _records(desk, KOSPI)[0].receipt_url
    assert receipt and any(e.get("url") == receipt for e in again.entities)
    assert len(desk.fake.channel_posts(desk.channel)) == 1
    assert len(desk.worker.enqueued) == 1


def test_push_force_asks_first_and_its_button_works_once(desk: Any) -> None:
    desk.send(f"/push {KOSPI}")
    (ask,) = desk.send(f"/push {KOSPI} force")
    assert "Send again?" in ask.text
    assert len(desk.fake.channel_posts(desk.channel)) == 1  # nothing without the confirmation
    data = button_data(ask, "Send again")
    answer, replies = desk.press(ask, data=data)
    assert answer["text"] == "Done"
    assert "queued again" in replies[-1].text
    assert len(desk.fake.channel_posts(desk.channel)) == 2
    assert ask.reply_markup in (None, {}) and "✔ tg:1001" in ask.text  # buttons closed
    replay, _ = desk.press(ask, data=data, replies=0)  # an old client still has the data
    assert replay["text"] == "This button was already used"
    assert len(desk.fake.channel_posts(desk.channel)) == 2
    actions = [row["action"] for row in audit_entries(desk.services, 10)]
    assert actions.count("push-force") == 1 and actions.count("push") == 1


# ----------------------------------------------------------------------------- pause
def test_pause_stops_sends_and_a_confirmed_push_goes_out_now(desk: Any) -> None:
    """Pause stops automatic publishing; [Push anyway] is an editor's decision to send now."""
    (paused,) = desk.send("/pause breaking news check")
    assert "paused" in paused.text
    assert desk.services.state.is_paused()
    (ask,) = desk.send(f"/push {KOSPI}")
    assert "Publishing is paused" in ask.text
    assert desk.worker.enqueued == []
    assert desk.fake.channel_posts(desk.channel) == []
    _, replies = desk.press(ask, "Push anyway")
    assert "goes out now" in replies[-1].text
    assert [o for _, o in desk.worker.outcomes] == ["sent"]
    assert len(desk.fake.channel_posts(desk.channel)) == 1
    assert _records(desk, KOSPI)[0].state == "sent"
    assert desk.services.state.is_paused()  # the pause itself stands

    (resumed,) = desk.send("/resume")
    assert "resumed" in resumed.text
    assert len(desk.fake.channel_posts(desk.channel)) == 1
    (status,) = desk.send("/status")
    assert "publishing" in status.text and "sent 1" in status.text


# ----------------------------------------------------------------------------- approval
def test_approval_preview_publish_now_and_skip(desk: Any) -> None:
    notifier = _notifier(desk)
    post = _post(desk, EXAONE)
    notice = approval_notice(desk.services.tools, post)
    assert notifier.notify(notice) is True
    assert notifier.notify(notice) is False  # once
    photo, card = desk.messages(desk.editor_chat)
    assert photo.raw == prepare(desk.services.tools, post, "telegram").teaser.text
    assert "Waiting for approval" in card.text and "X " in card.text
    assert desk.fake.channel_posts(desk.channel) == []

    answer, replies = desk.press(card, "Publish now", user=desk.other_editor, replies=2)
    assert answer["text"] == "Done"
    assert "Approved by tg:1002" in replies[0].text
    (sent,) = desk.fake.channel_posts(desk.channel)
    assert sent.raw == photo.raw and sent.photo == photo.photo
    assert desk.messages(desk.editor_chat)[1].reply_markup in (None, {})  # buttons removed

    kospi = _post(desk, KOSPI)
    notifier.notify(approval_notice(desk.services.tools, kospi))
    card = desk.messages(desk.editor_chat)[-1]
    desk.press(card, "Skip")
    assert {r.state for r in _records(desk, KOSPI)} == {"skipped"}
    assert len(desk.fake.channel_posts(desk.channel)) == 1
    actions = [row["action"] for row in audit_entries(desk.services, 10)]
    assert "approve" in actions and "skip" in actions


def test_post_edited_after_preview_is_previewed_again_before_approval(desk: Any, site: Path
                                                                      ) -> None:
    notifier = _notifier(desk)
    post = _post(desk, KOSPI)
    notifier.notify(approval_notice(desk.services.tools, post))
    old_card = desk.messages(desk.editor_chat)[-1]
    source = post.path.read_text(encoding="utf-8")
    post.path.write_text(source.replace("2,600선 회복", "2,600선 회복 (수정)", 1),
                         encoding="utf-8")

    before = len(desk.messages(desk.editor_chat))
    desk.press(old_card, "Publish now", replies=3)  # new preview (2) + "changed" line
    new = desk.messages(desk.editor_chat)[before:]
    assert any("changed after this preview" in (m.text or "") for m in new)
    assert desk.fake.channel_posts(desk.channel) == []
    new_card = next(m for m in new if m.reply_markup)
    assert "(수정)" in new_card.text
    desk.press(new_card, "Publish now", replies=2)
    (sent,) = desk.fake.channel_posts(desk.channel)
    assert "(수정)" in sent.text


# ----------------------------------------------------------------------------- in doubt, failed
def _queued(desk: Any, ref: str) -> Any:
    """A queued record of ``ref`` the worker has not picked up yet."""
    desk.worker.run = False
    post = _post(desk, ref)
    (rec,) = plan_manual(desk.services, post, ["telegram"], force=False, who="test",
                         enqueue=lambda key: None)
    desk.worker.run = True
    return rec


def test_in_doubt_buttons_send_again_or_mark_as_sent(desk: Any) -> None:
    state = desk.services.state
    notifier = _notifier(desk)
    for ref in (KOSPI, EXAONE):
        rec = _queued(desk, ref)
        assert state.acquire_send(*rec.ref, owner="dead-worker", lease_seconds=0.05)
        # the request left (fence), then the worker vanished
        assert state.fence_send(*rec.ref, owner="dead-worker", send_seconds=0.05)
        time.sleep(0.1)
        state.expire_leases()
        assert state.get(*rec.ref).state == "in_doubt"
        notifier.notify(Notice(kind="in_doubt", title=ref, post_url=rec.post,
                               platform=rec.platform, destination=rec.destination,
                               record_key=rec.key))
    kospi_card, exaone_card = desk.messages(desk.editor_chat)
    assert "Outcome unknown" in kospi_card.text

    desk.press(kospi_card, "It went out")
    assert _records(desk, KOSPI)[0].state == "sent"
    assert desk.fake.channel_posts(desk.channel) == []
    desk.press(exaone_card, "Send again")
    assert _records(desk, EXAONE)[0].state == "sent"
    assert len(desk.fake.channel_posts(desk.channel)) == 1
    actions = [row["action"] for row in audit_entries(desk.services, 10)]
    assert "resolve-mark_sent" in actions and "resolve-resend" in actions


def test_failure_notice_retry_button_and_failed_list(desk: Any) -> None:
    state = desk.services.state
    rec = _queued(desk, KOSPI)
    assert state.acquire_send(*rec.ref, owner="w", lease_seconds=30)
    assert state.fail_send(*rec.ref, owner="w", reason="Bad Request: chat not found",
                           permanent=True)
    (listing,) = desk.send("/failed")
    assert "Failures (1)" in listing.text and "chat not found" in listing.text
    assert _notifier(desk).notify(Notice(kind="failed", title="KOSPI", post_url=rec.post,
                                         platform="telegram", destination=rec.destination,
                                         reason="Bad Request: chat not found",
                                         record_key=rec.key))
    (card,) = desk.messages(desk.editor_chat)
    assert "Reason: Bad Request: chat not found" in card.text
    desk.press(card, "Retry")
    assert _records(desk, KOSPI)[0].state == "sent"
    assert len(desk.fake.channel_posts(desk.channel)) == 1


def test_retry_and_skip_commands(desk: Any) -> None:
    (nothing,) = desk.send(f"/retry {KOSPI}")
    assert nothing.text.startswith("⚠️ Cannot retry:")
    assert "\n" not in nothing.text
    (skipped,) = desk.send(f"/skip {KOSPI}")
    assert "will not be published" in skipped.text
    assert {r.state for r in _records(desk, KOSPI)} == {"skipped"}


# ----------------------------------------------------------------------------- who may
def test_strangers_get_one_polite_refusal_and_nothing_else(desk: Any, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="bot.editor.auth")
    (refusal,) = desk.send(f"/push {KOSPI}", user=desk.stranger)
    assert "editors only" in refusal.text and str(desk.stranger) in refusal.text
    assert desk.send("/status", user=desk.stranger, replies=0) == []
    assert desk.send("hello?", user=desk.stranger, replies=0) == []
    assert desk.services.state.records() == []
    refused = audit_entries(desk.services, 10)  # each attempt audited: who, what, why
    assert [(r["who"], r["action"], r["target"]) for r in refused] == [
        (f"tg:{desk.stranger}", "refused", t) for t in ("hello?", "/status", "/push")]
    assert all(json.loads(r["result"])["why"] == "not an editor" for r in refused)
    assert sum(f"refused user {desk.stranger}" in r.getMessage() for r in caplog.records) == 3

    # a real button, pressed by a stranger, does nothing and stays usable for editors
    desk.send(f"/push {KOSPI}")
    (ask,) = desk.send(f"/push {KOSPI} force")
    answer, _ = desk.press(ask, "Send again", user=desk.stranger, replies=0)
    assert answer.get("text") in (None, "Editors only")
    assert len(desk.fake.channel_posts(desk.channel)) == 1
    desk.press(ask, "Send again")
    assert len(desk.fake.channel_posts(desk.channel)) == 2


def test_forged_tampered_and_expired_callbacks_do_nothing(desk: Any) -> None:
    desk.send(f"/push {KOSPI}")
    (ask,) = desk.send(f"/push {KOSPI} force")
    real = next(b["callback_data"] for row in ask.reply_markup["inline_keyboard"] for b in row)
    handle, mac = real.split(".")
    tampered = f"{handle}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}"
    signer = desk.app.bot_data["desk"].signer
    expired = signer.issue("force", _post(desk, KOSPI).url, ttl=0.01)
    time.sleep(0.05)
    for data in ("force:" + _post(desk, KOSPI).url, "x" * 64, tampered, expired, ""):
        answer, replies = desk.press(ask, data=data, replies=0)
        assert answer["text"] == "Expired or invalid button", data
        assert replies == []
    assert len(desk.fake.channel_posts(desk.channel)) == 1
    desk.press(ask, "Send again")  # the untouched real button still works
    assert len(desk.fake.channel_posts(desk.channel)) == 2


def test_members_of_the_editors_chat_may_act_when_enabled(make_desk: Any) -> None:
    desk = make_desk(editor_chat_members_are_editors=True)
    member = 3003
    (reply,) = desk.send("/help", user=member)  # the fake's getChatMember: known user = member
    assert "editors' desk" in reply.text
    assert desk.fake.calls("getChatMember")
    desk.fake.fail_next("getChatMember", status=400, description="Bad Request: user not found")
    (refusal,) = desk.send("/help", user=3004)
    assert "editors only" in refusal.text


# ----------------------------------------------------------------------------- audit, status
def test_audit_lists_every_editor_action(desk: Any) -> None:
    desk.send(f"/push {KOSPI}")
    desk.send("/pause")
    desk.send("/resume")
    desk.send(f"/skip {EXAONE}")
    (audit,) = desk.send("/audit")
    for action in ("push", "pause", "resume", "skip"):
        assert action in audit.text
    assert "tg:1001" in audit.text
    rows = audit_entries(desk.services, 10)
    assert [r["action"] for r in rows] == ["skip", "resume", "pause", "push"]
    assert all(r["who"] == "tg:1001" and r["time"] for r in rows)


def test_long_status_is_paged_with_buttons(desk: Any) -> None:
    state = desk.services.state
    soon = state.now() + 3600
    for i in range(120):
        url = f"https://newsdao.kr/{'긴-주소-' * 40}{i}.html"
        state.ensure(url, "telegram", str(desk.channel), state="waiting", reason="scheduled",
                     scheduled_at=soon + i)
    (first,) = desk.send("/status")
    first_text = first.text  # the fake edits this very object in place
    pages = desk.app.bot_data["desk"].view_pages("status")
    assert len(pages) >= 3
    # The 20 soonest are listed, with how many there are in all.
    assert "(120)" in first_text and "… +100" in "".join(pages)
    assert all(len(p) <= 4096 for p in pages)
    assert first.reply_markup is not None
    assert "page 1/" in str(first.reply_markup)
    desk.press(first, "▶", replies=0)
    edited = desk.fake.channel_posts(desk.editor)[-1]
    assert edited.message_id == first.message_id and edited.text != first_text
    assert "page 2/" in str(edited.reply_markup)
    desk.press(edited, "◀", replies=0)  # paging buttons are not single-use
    assert desk.fake.channel_posts(desk.editor)[-1].text == first_text


# ----------------------------------------------------------------------------- arguments
def test_script_title_is_escaped_in_every_reply(desk: Any, site: Path) -> None:
    (site / "_posts" / "2024-10-05-evil.md").write_text(
        "---\ntitle: \"&lt;script&gt;alert('x')&lt;/script&gt; AT&T: 1 < 2 > 0\"\n"
        "date: 2024-10-05 10:00:00 +0900\n---\nBody text.\n", encoding="utf-8")
    title = _post(desk, "evil").title  # the reader neutralises the tag itself
    assert "script" in title and "&" in title and "<" in title
    _, details = desk.send("/preview evil", replies=2)
    assert title in details.text  # shown literally: escaped, not parsed (the fake parses HTML)
    (report,) = desk.send("/push evil")
    assert title in report.text

    # platform reasons are echoed verbatim, whatever they contain
    rec = _queued(desk, KOSPI)
    state = desk.services.state
    assert state.acquire_send(*rec.ref, owner="w", lease_seconds=30)
    reason = "Bad Request: <script>alert(1)</script> & <b>"
    assert state.fail_send(*rec.ref, owner="w", reason=reason, permanent=True)
    (listing,) = desk.send("/failed")
    assert reason in listing.text
    (status,) = desk.send("/status")
    assert reason in status.text


def test_arguments_are_data(desk: Any) -> None:
    for command in ("/push ../../etc/passwd", "/preview ../../etc/passwd",
                    "/preview /etc/passwd"):
        (reply,) = desk.send(command)
        assert reply.text.startswith("⚠️ Cannot"), reply.text
        assert "root:" not in reply.text and "\n" not in reply.text
    (reply,) = desk.send("/push " + "가" * 300)  # 900 bytes: longer than any file name
    assert reply.text == "⚠️ Cannot push: no post has a name that long"
    (reply,) = desk.send("/push " + "a" * 10_240)
    assert "too long" in reply.text and len(reply.text) < 200
    (usage,) = desk.send("/push")
    assert usage.text.startswith("Usage:")
    assert desk.services.state.records() == []
    assert desk.worker.enqueued == []


def test_an_edited_command_message_does_not_run_again(desk: Any) -> None:
    desk.send(f"/push {KOSPI}")
    update = desk.fake.make_message_update(desk.editor, text=f"/push {KOSPI} force")
    edited = {"edited_message": {**update["message"], "edit_date": int(time.time())}}
    desk.fake.push_update(edited)
    desk.settle()
    assert [m.text for m in desk.messages(desk.editor)][-1].startswith("Push")
    assert len(desk.fake.channel_posts(desk.channel)) == 1
