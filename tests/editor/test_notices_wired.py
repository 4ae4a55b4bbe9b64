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
from bot.delivery.notify import Notice
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
    desk.fake.fail_next("sendMessage", status=400, description="Bad Request: message is too long")
    post = find_post(svc.tools.site, KOSPI)
    (rec,) = plan_manual(svc, post, ["telegram"], force=False, who="t", enqueue=desk.worker)
    assert desk.worker.outcomes == [(rec.key, "failed")]
    (card,) = cards(desk)
    assert "Delivery failed" in card.text
    assert "Reason: sendMessage: Message is too long" in card.text
    assert "telegram" in card.text
    assert labels(card) == ["Retry"]
    assert deliver(svc, rec.key, owner="again") == "not_queued"
    assert len(desk.messages(desk.editor_chat)) == 1

    desk.press(card, "Retry")
    assert svc.state.get_by_key(rec.key).state == "sent"
    assert len(desk.fake.channel_posts(desk.channel)) == 1
    # A later failure of the same record (new attempt) is a new notice.
    svc.state.editor_resolve(*rec.ref, "force", "tg:1001")
    desk.fake.fail_next("sendMessage", status=400, description="Bad Request: message is too long")
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
    desk.fake.fail_next("sendMessage", status=400, description="Bad Request: message is too long")
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


def test_an_approval_preview_survives_a_telegram_outage(make_desk: Any) -> None:
    desk = make_desk(approval_required=True)
    baseline(desk)
    before = len(desk.messages(desk.editor_chat))  # (the baseline's preview of the 2030 post)
    journal_before = len(desk.fake.journal)
    write_post(desk.services.tools.site.root, "outage", minutes_ago(2), "Telegram outage story")
    desk.fake.fail_next("sendMessage", status=502)  # the text preview's first try
    desk.fake.fail_next("sendMessage", status=500)  # and its second
    scan(desk.services, enqueue=desk.worker)
    preview, card = desk.messages(desk.editor_chat)[before:]  # both parts, each once
    assert "Telegram outage story" in card.text and labels(card) == ["Publish now", "Skip"]
    assert not preview.reply_markup
    assert [c.status for c in desk.fake.journal[journal_before:] if c.method == "sendMessage"
            and str(c.params.get("chat_id")) == str(desk.editor_chat)] == [502, 500, 200, 200]
    assert desk.services.remind_approvals() == 0  # queued once: a rescan does not repeat it
    assert len(desk.messages(desk.editor_chat)) == before + 2
    assert desk.fake.channel_posts(desk.channel) == []


def test_a_failure_notice_survives_telegram_errors_and_arrives_once(desk: Any) -> None:
    """Regression: a notice sent straight from the worker was lost on a 5xx."""
    svc = desk.services
    desk.fake.fail_next("sendMessage", status=400, description="Bad Request: message is too long")
    desk.fake.fail_next("sendMessage", status=500)  # the notice's first try
    post = find_post(svc.tools.site, KOSPI)
    (rec,) = plan_manual(svc, post, ["telegram"], force=False, who="t", enqueue=desk.worker)
    assert desk.worker.outcomes == [(rec.key, "failed")]
    (card,) = cards(desk)
    assert "Delivery failed" in card.text and labels(card) == ["Retry"]
    assert len(desk.messages(desk.editor_chat)) == 1


def test_a_first_run_with_40_bad_files_sends_one_message(make_desk: Any) -> None:
    desk = make_desk()
    if desk.notices is not None:
        desk.notices.gather_seconds = 2.0  # a slow test machine must not split the burst
    posts = desk.services.tools.site.root / "_posts"
    for n in range(40):
        (posts / f"2024-01-{n % 28 + 1:02d}-broken-{n}.md").write_text(
            f"---\ntitle: [unclosed {n}\n---\nBody\n", encoding="utf-8")
    report = scan(desk.services, enqueue=desk.worker)
    assert len(report.bad) == 40
    (digest,) = desk.messages(desk.editor_chat)
    assert digest.text.startswith("📄 Bad post files: 40")
    assert all(f"broken-{n}.md: line 3: front matter is not valid YAML" in digest.text
               for n in range(40))


# ----------------------------------------------------------------------------- one record each
@pytest.fixture
def fake_x() -> Any:
    from fakes.x import FakeX

    with FakeX() as server:
        yield server


def with_x(fake_x: Any) -> dict[str, Any]:
    key, secret, token, token_secret = fake_x.credentials
    return {"x_api_key": key, "x_api_secret": secret, "x_access_token": token,
            "x_access_token_secret": token_secret, "x_api_url": fake_x.base_url}


def both_queued(desk: Any) -> dict[str, Any]:
    """Records of KOSPI on Telegram and X, queued, no worker has run them."""
    desk.worker.run = False
    post = find_post(desk.services.tools.site, KOSPI)
    recs = plan_manual(desk.services, post, ["telegram", "x"], force=False, who="t",
                       enqueue=desk.worker)
    desk.worker.run = True
    desk.worker.enqueued.clear()
    return {r.platform: r for r in recs}


def into(desk: Any, rec: Any, state: str) -> None:
    """Move a queued record where a test needs it, the way the workers would."""
    st = desk.services.state
    if state == "queued":
        return
    lease = 0.05 if state == "in_doubt" else 30
    assert st.acquire_send(*rec.ref, owner="w", lease_seconds=lease)
    if state == "in_doubt":  # the request left (fence), then the worker vanished
        assert st.fence_send(*rec.ref, owner="w", send_seconds=lease)
    if state == "sent":
        assert st.complete_send(*rec.ref, owner="w", receipt_id="99",
                                receipt_url="https://x.com/i/status/99")
    elif state == "failed":
        assert st.fail_send(*rec.ref, owner="w", reason="Forbidden", permanent=True)


def doubt(desk: Any, redis_url: str, redis_namespace: str) -> None:
    """Leases run out; the real tick turns them in_doubt and queues the notices."""
    time.sleep(0.1)
    tasks.configure(desk.settings, redis_url=redis_url, namespace=redis_namespace)
    try:
        assert tasks.tick()["in_doubt"] >= 1
    finally:
        tasks._close_services()


def card_for(desk: Any, platform: str) -> Any:
    (card,) = [c for c in cards(desk) if f"\n{platform} " in c.text]
    return card


@pytest.mark.parametrize("x_state", ["queued", "sent", "in_doubt"])
def test_in_doubt_buttons_act_only_on_the_record_they_were_shown_for(
        make_desk: Any, fake_x: Any, redis_url: str, redis_namespace: str,
        x_state: str) -> None:
    desk = make_desk(**with_x(fake_x))
    st = desk.services.state
    recs = both_queued(desk)
    resent_x = x_state == "in_doubt"
    into(desk, recs["telegram"], "in_doubt")
    into(desk, recs["x"], x_state)
    doubt(desk, redis_url, redis_namespace)
    assert st.get_by_key(recs["telegram"].key).state == "in_doubt"
    assert st.get_by_key(recs["x"].key).state == x_state
    assert len(cards(desk)) == (2 if x_state == "in_doubt" else 1)

    if x_state == "in_doubt":  # [Send again] on X re-sends X, and leaves Telegram in doubt
        desk.press(card_for(desk, "x"), "Send again")
        assert st.get_by_key(recs["x"].key).state == "sent"
        assert len(fake_x.posts) == 1
        assert st.get_by_key(recs["telegram"].key).state == "in_doubt"
        assert desk.fake.channel_posts(desk.channel) == []
        x_state = "sent"

    # [It went out] on Telegram marks Telegram, and nothing of X changes.
    before = st.get_by_key(recs["x"].key)
    desk.press(card_for(desk, "telegram"), "It went out")
    assert st.get_by_key(recs["telegram"].key).state == "sent"
    after = st.get_by_key(recs["x"].key)
    assert (after.state, after.updated_at, after.attempts) == (
        x_state, before.updated_at, before.attempts)
    assert desk.fake.channel_posts(desk.channel) == []
    assert len(fake_x.posts) == (1 if resent_x else 0)


def test_retry_button_retries_only_its_record(make_desk: Any, fake_x: Any) -> None:
    desk = make_desk(**with_x(fake_x))
    st, svc = desk.services.state, desk.services
    recs = both_queued(desk)
    for rec in recs.values():
        into(desk, rec, "failed")
        svc.notify(Notice(kind="failed", title="K", post_url=rec.post, platform=rec.platform,
                          destination=rec.destination, reason="Forbidden", record_key=rec.key))
    desk.press(card_for(desk, "telegram"), "Retry")
    assert st.get_by_key(recs["telegram"].key).state == "sent"
    assert st.get_by_key(recs["x"].key).state == "failed"
    assert len(desk.fake.channel_posts(desk.channel)) == 1 and fake_x.posts == []
    desk.press(card_for(desk, "x"), "Retry")
    assert st.get_by_key(recs["x"].key).state == "sent" and len(fake_x.posts) == 1
    assert len(desk.fake.channel_posts(desk.channel)) == 1


# ----------------------------------------------------------------------------- push vs in doubt
@pytest.mark.parametrize("force", [False, True])
def test_push_never_resends_an_in_doubt_record(make_desk: Any, fake_x: Any, redis_url: str,
                                               redis_namespace: str, force: bool) -> None:
    desk = make_desk(**with_x(fake_x))
    st = desk.services.state
    recs = both_queued(desk)
    into(desk, recs["telegram"], "in_doubt")
    doubt(desk, redis_url, redis_namespace)
    if force:
        (ask,) = desk.send(f"/push {KOSPI} force")
        _, replies = desk.press(ask, "Send again")
    else:
        replies = desk.send(f"/push {KOSPI}")
    text = replies[-1].text
    assert "in doubt" in text and "newsbot resolve" in text and "--mark-sent" in text
    assert "It went out" in text
    assert st.get_by_key(recs["telegram"].key).state == "in_doubt"
    assert desk.fake.channel_posts(desk.channel) == []
    assert recs["telegram"].key not in desk.worker.enqueued
    # The other platform's record goes on as before.
    assert st.get_by_key(recs["x"].key).state == "sent" and len(fake_x.posts) == 1
