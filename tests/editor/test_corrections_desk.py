"""The editors' side of corrections, with the real bot against the fake Telegram: ``/edit``
pushes a published post's current text to its channel message, and a retracted post's notice
carries [Delete] / [Keep] buttons whose press deletes the message (audited)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.delivery.planner import plan_manual, scan

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def write(desk: Any, slug: str, title: str, front: str = "") -> Any:
    when = datetime.now(UTC) - timedelta(minutes=5)
    path = desk.services.tools.site.root / "_posts" / f"{when:%Y-%m-%d}-{slug}.md"
    path.write_text(f"---\ntitle: {title}\ndate: {when:%Y-%m-%d %H:%M:%S} +0000\n"
                    f"excerpt: What happened in {slug}.\n{front}---\n\nBody.\n",
                    encoding="utf-8")
    return path


def published(desk: Any, slug: str = "correction-desk") -> Any:
    svc = desk.services
    scan(svc, enqueue=desk.worker)  # baseline of the demo site
    write(desk, slug, "First words")
    scan(svc, enqueue=desk.worker)
    (message,) = desk.fake.channel_posts(desk.channel)
    return message


def test_edit_command_pushes_the_current_text_to_the_channel_message(make_desk: Any) -> None:
    desk = make_desk()  # EDIT_PUBLISHED off: only /edit changes a published message
    message = published(desk)
    path = write(desk, "correction-desk", "Corrected words")
    scan(desk.services, paths=[path], enqueue=desk.worker)
    assert desk.fake.channel_posts(desk.channel)[0].text.startswith("First words")

    (reply,) = desk.send("/edit correction-desk")
    assert reply.text.startswith("Edit") and "queued" in reply.text
    (after,) = desk.fake.channel_posts(desk.channel)
    assert after.message_id == message.message_id and after.text.startswith("Corrected words")
    assert [h["method"] for h in desk.fake.edit_history(desk.channel, message.message_id)] == [
        "editMessageText"]
    actions = [e["action"] for e in desk.services.state.audit_log()]
    assert "edit_requested" in actions and "edit" in actions


def test_retraction_notice_buttons_delete_the_message(make_desk: Any) -> None:
    desk = make_desk()
    message = published(desk)
    path = write(desk, "correction-desk", "First words", front="retracted: true\n")
    scan(desk.services, paths=[path], enqueue=desk.worker)
    cards = [m for m in desk.messages(desk.editor_chat) if m.reply_markup
             and "Retracted" in (m.text or "")]
    assert len(cards) == 1
    (card,) = cards
    assert "First words" in card.text and "48 h" in card.text
    _answer, replies = desk.press(card, "Delete (Telegram and X)")
    assert any("deleted" in (r.text or "") for r in replies)
    assert desk.fake.channel_posts(desk.channel) == []
    [entry] = [e for e in desk.services.state.audit_log() if e["action"] == "delete"]
    result = json.loads(entry["result"])
    assert result["message"] == str(message.message_id) and result["before"]
    # the record stays sent: nothing posts the retracted story again
    assert {r.state for r in desk.services.state.records() if "correction-desk" in r.post} == {
        "sent"}


def test_keep_button_leaves_the_message(make_desk: Any) -> None:
    desk = make_desk()
    published(desk)
    path = write(desk, "correction-desk", "First words", front="published: false\n")
    scan(desk.services, paths=[path], enqueue=desk.worker)
    (card,) = [m for m in desk.messages(desk.editor_chat) if m.reply_markup
               and "Retracted" in (m.text or "")]
    desk.press(card, "Keep them")
    assert len(desk.fake.channel_posts(desk.channel)) == 1
    assert any(e["action"] == "retraction_kept" for e in desk.services.state.audit_log())


def test_plan_manual_is_untouched_by_corrections(make_desk: Any) -> None:
    """A push of a sent post (no force) still does not post it again."""
    desk = make_desk()
    published(desk)
    post = desk.services.find_post_by_url(desk.services.state.records(
        state="sent")[0].post)
    plan_manual(desk.services, post, ["telegram"], force=False, who="t", enqueue=desk.worker)
    assert len(desk.fake.channel_posts(desk.channel)) == 1
