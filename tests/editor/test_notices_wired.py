"""Notices from the real delivery paths (scan, sender, tick) to the editors' chat, and approval.

The bot runs against the fake Telegram server (editors' chat and channel on the same fake); the
scan and the worker are the real ``bot.delivery`` code with the ``Services`` the bot shares, whose
notifier is built from the settings.  Each test checks what reached the editors' chat (text and
buttons, each once) and what reached the channel.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import tasks
from bot.actions.lookup import find_post
from bot.delivery.planner import plan_manual, scan
from bot.delivery.schedule import bucket_name
from bot.delivery.sender import deliver
from bot.delivery.services import AWAITING_APPROVAL

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

KOSPI = "kospi-rebound"  # no image: text teaser


def write_post(site: Path, slug: str, when: datetime, title: str, *, front: str = "") -> Path:
    """A new post file (the mtime bumped on rewrite, so the scan sees every edit)."""
    path = site / "_posts" / f"{when:%Y-%m-%d}-{slug}.md"
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(
        f"---\ntitle: {title}\ndate: {when.astimezone(UTC):%Y-%m-%d %H:%M:%S} +0000\n"
        f"excerpt: What happened in {slug}.\n{front}---\n\nBody of {slug}.\n",
        encoding="utf-8")
    if old:
        new = max(path.stat().st_mtime_ns, old + 1_000_000)
        os.utime(path, ns=(new, new))
    return path


# The demo site's post dated 2030: in the first run's baseline it waits for its date (and, under
# APPROVAL_REQUIRED, is previewed then); the tests below are about the posts they write.
FUTURE_DEMO_TITLE = "2030년 새해"


def cards(desk: Any) -> list[Any]:
    """Editors' chat messages that carry buttons (the notices an editor acts on)."""
    return [m for m in desk.messages(desk.editor_chat)
            if m.reply_markup and FUTURE_DEMO_TITLE not in (m.text or "")]


def waiting(svc: Any, slug: str) -> list[Any]:
    """Waiting records of the post a test wrote (not the demo site's draft or future post)."""
    return [r for r in svc.state.records(state="waiting") if slug in r.post]


def button_data(message: Any, label: str) -> str:
    (data,) = [b["callback_data"] for row in message.reply_markup["inline_keyboard"] for b in row
               if b["text"] == label]
    return str(data)


def labels(message: Any) -> list[str]:
    return [b["text"] for row in message.reply_markup["inline_keyboard"] for b in row]


def baseline(desk: Any) -> None:
    scan(desk.services, enqueue=desk.worker)
    assert desk.worker.enqueued == []
    # the demo site's draft, its social: false post and its post dated 2030 wait
    assert {r.reason.split(" ")[0] for r in desk.services.state.records(state="waiting")} <= {
        "published:", "social:", "scheduled"}


def minutes_ago(n: float) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=n)


# ----------------------------------------------------------------------------- approval loop
def test_scan_under_approval_previews_and_publish_now_sends_once(make_desk: Any) -> None:
    desk = make_desk(approval_required=True)
    baseline(desk)
    write_post(desk.services.tools.site.root, "chip-deal", minutes_ago(2), "Chip deal signed")
    report = scan(desk.services, enqueue=desk.worker)
    assert report.new == 1 and report.waiting == 1 and report.queued == 0
    assert desk.worker.enqueued == []  # nothing handed to the workers
    (rec,) = waiting(desk.services, "chip-deal")
    assert rec.reason == AWAITING_APPROVAL and rec.scheduled_at is None
    (card,) = cards(desk)
    assert "Waiting for approval" in card.text and "Chip deal signed" in card.text
    assert labels(card) == ["Publish now", "Skip"]
    assert desk.fake.channel_posts(desk.channel) == []

    # A rescan (and a stray task for the record) sends nothing and previews nothing again.
    write_post(desk.services.tools.site.root, "other", minutes_ago(1), "Other story",
               front="published: false\n")
    scan(desk.services, enqueue=desk.worker)
    assert deliver(desk.services, rec.key, owner="stray") == "not_queued"
    assert len(cards(desk)) == 1

    publish = button_data(card, "Publish now")
    answer, _ = desk.press(card, data=publish, replies=2)
    assert answer["text"] == "Done"
    (sent,) = desk.fake.channel_posts(desk.channel)
    assert "Chip deal signed" in (sent.text or "")
    assert desk.services.state.get_by_key(rec.key).state == "sent"
    # Pressing again (a replay) or rescanning never sends it twice.
    desk.press(card, data=publish, replies=0)
    scan(desk.services, enqueue=desk.worker)
    assert len(desk.fake.channel_posts(desk.channel)) == 1


def test_edit_while_awaiting_approval_is_previewed_again(make_desk: Any) -> None:
    desk = make_desk(approval_required=True)
    baseline(desk)
    root = desk.services.tools.site.root
    write_post(root, "budget", minutes_ago(2), "Budget passes")
    scan(desk.services, enqueue=desk.worker)
    (first,) = cards(desk)
    write_post(root, "budget", minutes_ago(2), "Budget passes after all-night session")
    scan(desk.services, enqueue=desk.worker)
    old, new = cards(desk)
    assert old.message_id == first.message_id
    assert "all-night session" in new.text and "all-night" not in first.text
    assert desk.worker.enqueued == [] and desk.fake.channel_posts(desk.channel) == []
    scan(desk.services, enqueue=desk.worker)  # unchanged: no third preview
    assert len(cards(desk)) == 2

    desk.press(new, "Publish now", replies=2)
    (sent,) = desk.fake.channel_posts(desk.channel)
    assert "all-night session" in (sent.text or "")


def test_future_post_is_previewed_when_planned_and_held_when_due(make_desk: Any) -> None:
    desk = make_desk(approval_required=True)
    baseline(desk)
    svc = desk.services
    when = datetime.now(UTC) + timedelta(hours=1)
    write_post(svc.tools.site.root, "tomorrow", when, "Tomorrow's story")
    scan(svc, enqueue=desk.worker)
    (rec,) = waiting(svc, "tomorrow")
    assert rec.reason.startswith("scheduled for ")
    assert rec.scheduled_at == pytest.approx(when.timestamp(), abs=1)
    (card,) = cards(desk)
    assert "Tomorrow's story" in card.text

    # The date passes: the schedule queues the record, the worker parks it for approval.
    due = when.timestamp() + 1
    (promoted,) = svc.state.promote_due(now=due)
    assert deliver(svc, promoted.key, owner="w", now=due) == "waiting"
    held = svc.state.get_by_key(rec.key)
    assert held.state == "waiting" and held.reason == AWAITING_APPROVAL
    assert desk.fake.channel_posts(desk.channel) == []
    assert len(cards(desk)) == 1  # same content: the preview already sent stands

    post = find_post(svc.tools.site, "tomorrow")
    plan_manual(svc, post, ["telegram"], force=False, who="tg:1001", enqueue=desk.worker)
    assert len(desk.fake.channel_posts(desk.channel)) == 1


def test_a_queued_record_nobody_approved_is_parked_and_previewed(make_desk: Any) -> None:
    """E.g. a backfill under APPROVAL_REQUIRED: the worker holds it, the editors decide."""
    desk = make_desk(approval_required=True)
    svc = desk.services
    post = find_post(svc.tools.site, KOSPI)
    ((platform, destination),) = svc.destinations()
    rec = svc.state.ensure(post.url, platform, destination, state="queued",
                           reason="backfill", by="backfill")
    svc.state.mark_seen(svc.site_key, post.url, {"rel_path": post.rel_path, "title": "K"})
    assert deliver(svc, rec.key, owner="w") == "waiting"
    assert desk.fake.channel_posts(desk.channel) == []
    (card,) = cards(desk)
    assert labels(card) == ["Publish now", "Skip"]
    desk.press(card, "Publish now", replies=2)
    assert len(desk.fake.channel_posts(desk.channel)) == 1


# ----------------------------------------------------------------------------- failures
def test_failed_send_from_the_worker_notifies_once_with_retry(desk: Any) -> None:
    svc = desk.services
    desk.fake.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    post = find_post(svc.tools.site, KOSPI)
    (rec,) = plan_manual(svc, post, ["telegram"], force=False, who="t", enqueue=desk.worker)
    assert desk.worker.outcomes == [(rec.key, "failed")]
    (card,) = cards(desk)
    assert "Delivery failed" in card.text and "Reason: sendMessage: Chat not found" in card.text
    assert "telegram" in card.text
    assert labels(card) == ["Retry"]
    assert deliver(svc, rec.key, owner="again") == "not_queued"
    assert len(desk.messages(desk.editor_chat)) == 1

    desk.press(card, "Retry")
    assert svc.state.get_by_key(rec.key).state == "sent"
    assert len(desk.fake.channel_posts(desk.channel)) == 1
    # A later failure of the same record (new attempt) is a new notice.
    svc.state.editor_resolve(*rec.ref, "force", "tg:1001")
    desk.fake.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    later = svc.state.now() + 120  # past the channel's rate windows
    assert deliver(svc, rec.key, owner="third", now=later) == "failed"
    failures = [m for m in desk.messages(desk.editor_chat) if "Delivery failed" in m.text]
    assert len(failures) == 2 and labels(failures[-1]) == ["Retry"]


def test_published_notices_only_when_enabled(make_desk: Any) -> None:
    quiet = make_desk()
    post = find_post(quiet.services.tools.site, KOSPI)
    plan_manual(quiet.services, post, ["telegram"], force=False, who="t", enqueue=quiet.worker)
    assert len(quiet.fake.channel_posts(quiet.channel)) == 1
    assert quiet.messages(quiet.editor_chat) == []


def test_published_notice_carries_the_receipt_link(make_desk: Any) -> None:
    desk = make_desk(notify_published=True)
    post = find_post(desk.services.tools.site, KOSPI)
    (rec,) = plan_manual(desk.services, post, ["telegram"], force=False, who="t",
                         enqueue=desk.worker)
    assert len(desk.fake.channel_posts(desk.channel)) == 1
    (notice,) = desk.messages(desk.editor_chat)
    receipt = desk.services.state.get_by_key(rec.key)
    assert receipt.receipt_url and receipt.receipt_url in notice.text
    assert notice.text.startswith("✅ Published")
    assert not notice.reply_markup


# ----------------------------------------------------------------------------- in doubt
def test_tick_notifies_each_in_doubt_record_once(desk: Any, redis_url: str,
                                                 redis_namespace: str) -> None:
    svc = desk.services
    post = find_post(svc.tools.site, KOSPI)
    desk.worker.run = False
    (rec,) = plan_manual(svc, post, ["telegram"], force=False, who="t", enqueue=desk.worker)
    desk.worker.run = True
    assert svc.state.acquire_send(*rec.ref, owner="dead-worker", lease_seconds=0.05)
    # the request left (fence), then the worker vanished
    assert svc.state.fence_send(*rec.ref, owner="dead-worker", send_seconds=0.05)
    time.sleep(0.1)
    tasks.configure(desk.settings, redis_url=redis_url, namespace=redis_namespace)
    try:
        assert tasks.tick()["in_doubt"] == 1
        assert tasks.tick()["in_doubt"] == 0
    finally:
        tasks._close_services()
    (card,) = cards(desk)
    assert "Outcome unknown" in card.text and "코스피" in card.text
    assert labels(card) == ["Send again", "It went out"]
    desk.press(card, "It went out")
    assert svc.state.get_by_key(rec.key).state == "sent"
    assert desk.fake.channel_posts(desk.channel) == []


# ----------------------------------------------------------------------------- bad files
def test_bad_file_is_notified_once_per_version(desk: Any) -> None:
    baseline(desk)
    bad = desk.services.tools.site.root / "_posts" / f"{datetime.now(UTC):%Y-%m-%d}-broken.md"
    bad.write_text("---\ntitle: [unclosed\n---\nBody\n", encoding="utf-8")
    report = scan(desk.services, enqueue=desk.worker)
    assert len(report.bad) == 1
    (notice,) = desk.messages(desk.editor_chat)
    assert notice.text.startswith("📄 Bad post file")
    assert bad.name in notice.text
    scan(desk.services, enqueue=desk.worker)
    # Another scanner that has not stored the signature yet (a racing worker) stays quiet too.
    desk.services.state.set_file_signatures(desk.services.site_key, {},
                                            [f"_posts/{bad.name}"])
    assert len(scan(desk.services, enqueue=desk.worker).bad) == 1
    assert len(desk.messages(desk.editor_chat)) == 1

    old = bad.stat().st_mtime_ns
    bad.write_text("---\ntitle: [still unclosed\n---\nBody\n", encoding="utf-8")
    os.utime(bad, ns=(old + 10_000_000, old + 10_000_000))
    scan(desk.services, enqueue=desk.worker)
    assert len(desk.messages(desk.editor_chat)) == 2


def test_an_approved_record_stays_approved_through_a_failure_retry_and_a_rate_wait(
        make_desk: Any) -> None:
    desk = make_desk(approval_required=True)
    svc, state = desk.services, desk.services.state
    post = find_post(svc.tools.site, KOSPI)
    desk.fake.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    (rec,) = plan_manual(svc, post, ["telegram"], force=False, who="tg:1001",
                         enqueue=desk.worker)  # the push approves the teaser as it is now
    assert state.get_by_key(rec.key).state == "failed"
    state.editor_resolve(*rec.ref, "retry", "tg:1001")

    now = state.now() + 120  # past the channel's rate windows
    platform, destination = rec.platform, rec.destination
    svc.limiter.block_until(bucket_name(platform, destination), now + 5, now=now)
    assert deliver(svc, rec.key, owner="a", now=now) == "rate_wait"
    (promoted,) = state.promote_due(now=now + 6)
    assert deliver(svc, promoted.key, owner="b", now=now + 6) == "sent"
    # no approval asked: the content is what the editor pushed
    assert [c for c in cards(desk) if "Waiting for approval" in c.text] == []


def test_an_edit_after_publish_now_asks_again_instead_of_sending(make_desk: Any) -> None:
    """The approval covers the content the editor saw: an edit while the approved post waits
    (paused, or for a rate slot) is previewed again, never sent unreviewed."""
    desk = make_desk(approval_required=True)
    baseline(desk)
    svc, state = desk.services, desk.services.state
    root = svc.tools.site.root
    write_post(root, "merger", minutes_ago(2), "Merger approved")
    scan(svc, enqueue=desk.worker)
    (card,) = cards(desk)
    # the channel's rate window is taken, so the approved record waits for its slot ...
    now = state.now()
    svc.limiter.block_until(bucket_name(*svc.destinations()[0]), now + 30, now=now)
    desk.press(card, "Publish now", replies=2)
    (rec,) = [r for r in state.records() if "merger" in r.post]
    assert rec.state in ("waiting", "retry_wait", "queued") and rec.extra.get("approved_fp")
    # ... and meanwhile someone edits the post
    write_post(root, "merger", minutes_ago(2), "Merger approved, CEO resigns")
    scan(svc, enqueue=desk.worker)
    if rec.state != "queued":
        (promoted,) = state.promote_due(now=now + 31)
        assert promoted.key == rec.key
    assert deliver(svc, rec.key, owner="late", now=now + 31) == "waiting"
    assert desk.fake.channel_posts(desk.channel) == []
    assert state.get_by_key(rec.key).reason == AWAITING_APPROVAL
    fresh = [c for c in cards(desk) if "CEO resigns" in c.text]
    assert len(fresh) == 1  # the new content is previewed for a new decision
    desk.press(fresh[0], "Publish now", replies=2)  # the bot's worker meets the rate block
    for due in state.promote_due(now=now + 32):
        deliver(svc, due.key, owner="after", now=now + 32)
    (sent,) = desk.fake.channel_posts(desk.channel)
    assert "CEO resigns" in (sent.text or "")


def test_a_lost_approval_preview_is_offered_again_on_rescan(make_desk: Any) -> None:
    desk = make_desk(approval_required=True)
    baseline(desk)
    write_post(desk.services.tools.site.root, "outage", minutes_ago(2), "Telegram outage story")
    desk.fake.fail_next("sendMessage", status=502)  # the (text) preview cannot be delivered
    scan(desk.services, enqueue=desk.worker)
    assert cards(desk) == []
    assert desk.services.remind_approvals() == 1  # Telegram is back: the preview goes out
    (card,) = cards(desk)
    assert "Telegram outage story" in card.text
    assert desk.services.remind_approvals() == 0  # delivered previews are not repeated
    assert len(cards(desk)) == 1 and desk.fake.channel_posts(desk.channel) == []
