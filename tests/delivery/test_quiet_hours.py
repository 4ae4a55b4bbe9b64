"""Quiet hours and the breaking lane against real Redis and the fakes over HTTP (PTB, tweepy).

Time is controlled the way the sender allows it: ``deliver(..., now=...)`` and a quiet window
laid around the real clock (the site's zone is UTC in these tests).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from delivery_helpers import CHAT_ID, Queue, live_env, now_utc, write_post

from bot.actions.status import status
from bot.delivery.pins import pin_book, run_due_unpins
from bot.delivery.planner import scan
from bot.delivery.quiet import QUIET_REASON, QuietWindow
from bot.delivery.sender import deliver
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

EDITORS = -1009990001111


def window(start_in_minutes: float, end_in_minutes: float) -> str:
    """QUIET_HOURS from offsets of the current UTC minute."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    a = now + timedelta(minutes=start_in_minutes)
    b = now + timedelta(minutes=end_in_minutes)
    return f"{a:%H:%M}-{b:%H:%M}"


def around_now() -> str:
    return window(-60, 60)


def planned(svc: Any, site: Path, slug: str, *, extra: str = "") -> dict[str, str]:
    """Baseline (first time), write one post, scan: platform -> record key."""
    if not svc.state.baseline_done(svc.site_key):
        scan(svc, enqueue=Queue())
    write_post(site, slug, now_utc() - timedelta(minutes=2), title=f"Story {slug}", extra=extra)
    queue = Queue()
    scan(svc, enqueue=queue)
    return {svc.state.get_by_key(k).platform: k for k in queue.keys}


def send(svc: Any, key: str) -> str:
    """Deliver until the outcome is no rate wait (the scaled 1-per-second rule)."""
    for attempt in range(50):
        outcome = deliver(svc, key, owner=f"o{attempt}")
        if outcome not in ("rate_wait", "not_queued"):
            return outcome
        time.sleep(0.06)
        svc.state.promote_due(now=time.time() + 1)
    return outcome


def last_post(fake_tg: FakeTelegram) -> Any:
    return fake_tg.channel_posts(CHAT_ID)[-1]


def test_inside_the_window_telegram_is_silent_on_time_and_x_waits_for_its_end(
        live, site: Path, fake_tg: FakeTelegram, fake_x: FakeX):
    svc = live(quiet_hours=around_now())
    keys = planned(svc, site, "night")
    now = time.time()
    assert deliver(svc, keys["telegram"], owner="t", now=now) == "sent"
    assert last_post(fake_tg).disable_notification is True
    assert fake_tg.calls("sendPhoto")[-1].params.get("disable_notification") in (True, "true")

    assert deliver(svc, keys["x"], owner="x", now=now) == "waiting"
    rec = svc.state.get_by_key(keys["x"])
    assert rec.reason == QUIET_REASON
    quiet = QuietWindow(*_minutes(svc.settings.quiet_hours), UTC)
    assert rec.scheduled_at == quiet.end_after(now)
    assert 0 < rec.scheduled_at - now <= 3600 + 60
    assert fake_x.posts == []
    (pending,) = [p for p in status(svc).pending if p["platform"] == "x"]
    assert pending["label"] == "waiting (quiet hours)"
    # Before the end nothing is due; at the end the record is queued again and goes out.
    assert svc.state.promote_due(now=rec.scheduled_at - 1) == []
    (promoted,) = svc.state.promote_due(now=rec.scheduled_at + 0.01)
    assert promoted.key == keys["x"] and promoted.state == "queued"
    assert deliver(svc, keys["x"], owner="x2", now=rec.scheduled_at + 0.01) == "sent"


def _minutes(value: str) -> tuple[int, int]:
    from bot.config import parse_quiet_hours

    return parse_quiet_hours(value)


def test_quiet_x_send_posts_x_at_once_inside_the_window(live, site: Path, fake_tg, fake_x):
    svc = live(quiet_hours=around_now(), quiet_x="send")
    keys = planned(svc, site, "sendnow")
    assert deliver(svc, keys["x"], owner="x") == "sent"
    assert deliver(svc, keys["telegram"], owner="t") == "sent"
    assert last_post(fake_tg).disable_notification is True


def test_outside_the_window_posts_notify_as_usual(live, site: Path, fake_tg, fake_x):
    svc = live(quiet_hours=window(120, 180))
    keys = planned(svc, site, "day")
    assert deliver(svc, keys["telegram"], owner="t") == "sent"
    assert last_post(fake_tg).disable_notification is False
    assert "disable_notification" not in fake_tg.calls("sendPhoto")[-1].params or \
        fake_tg.calls("sendPhoto")[-1].params["disable_notification"] in (False, "false")
    assert deliver(svc, keys["x"], owner="x") == "sent"


def test_no_normal_post_notifies_inside_the_window(live, site: Path, fake_tg, fake_x):
    """The figure "Quiet hours: 0 normal posts with notifications inside the window"."""
    svc = live(quiet_hours=around_now())
    sent = 0
    for i in range(8):
        keys = planned(svc, site, f"n{i}")
        assert send(svc, keys["telegram"]) == "sent"
        sent += 1
    posts = fake_tg.channel_posts(CHAT_ID)
    assert len(posts) == sent == 8
    assert [p for p in posts if not p.disable_notification] == []


def test_a_breaking_post_notifies_and_x_is_not_held_inside_quiet_hours(
        live, site: Path, fake_tg, fake_x):
    svc = live(quiet_hours=around_now())
    keys = planned(svc, site, "quake", extra="breaking: true")
    for key in keys.values():
        assert svc.state.get_by_key(key).extra.get("breaking") == "1"
    assert deliver(svc, keys["telegram"], owner="t") == "sent"
    assert last_post(fake_tg).disable_notification is False
    assert deliver(svc, keys["x"], owner="x") == "sent"
    assert fake_tg.pinned(CHAT_ID) == []  # PIN_BREAKING is off by default


def test_breaking_categories_are_case_insensitive(live, site: Path, fake_tg, fake_x):
    svc = live(quiet_hours=around_now(), breaking_categories=" Alerts, storm ")
    keys = planned(svc, site, "flood", extra="categories: [ALERTS]")
    assert svc.state.get_by_key(keys["telegram"]).extra.get("breaking") == "1"
    assert deliver(svc, keys["telegram"], owner="t") == "sent"
    assert last_post(fake_tg).disable_notification is False
    other = planned(svc, site, "sports", extra="categories: [sports]")
    assert "breaking" not in svc.state.get_by_key(other["telegram"]).extra
    assert send(svc, other["telegram"]) == "sent"
    assert last_post(fake_tg).disable_notification is True


def test_breaking_pin_then_unpin_after_pin_hours(live, site: Path, fake_tg, fake_x):
    svc = live(pin_breaking=True, pin_hours=2)
    keys = planned(svc, site, "pin1", extra="breaking: true")
    start = time.time()
    assert deliver(svc, keys["telegram"], owner="t", now=start) == "sent"
    (msg,) = fake_tg.pinned(CHAT_ID)
    assert msg == last_post(fake_tg).message_id
    assert fake_tg.calls("pinChatMessage")[-1].params.get("disable_notification") in (
        True, "true")
    (entry,) = pin_book(svc).scheduled()
    assert entry[1] == str(msg) and abs(entry[2] - (start + 7200)) < 1
    assert run_due_unpins(svc, now=start + 7200 - 5) == 0
    assert fake_tg.pinned(CHAT_ID) == [msg]
    assert run_due_unpins(svc, now=start + 7200 + 1) == 1
    assert fake_tg.pinned(CHAT_ID) == []
    assert pin_book(svc).scheduled() == [] and pin_book(svc).current(channel_name(svc)) is None


def channel_name(svc: Any) -> str:
    return svc.settings.telegram_channel


def test_a_new_breaking_pin_unpins_the_previous_one_and_the_schedule_survives_a_restart(
        live, site: Path, fake_tg, fake_x):
    svc = live(pin_breaking=True, pin_hours=6)
    first = planned(svc, site, "b1", extra="breaking: true")
    assert send(svc, first["telegram"]) == "sent"
    (one,) = fake_tg.pinned(CHAT_ID)
    svc.close()
    svc = live(pin_breaking=True, pin_hours=6)  # a restart: a new process, the same Redis
    second = planned(svc, site, "b2", extra="breaking: true")
    assert send(svc, second["telegram"]) == "sent"
    assert len(fake_tg.pinned(CHAT_ID)) == 2
    assert run_due_unpins(svc) == 1
    (two,) = fake_tg.pinned(CHAT_ID)
    assert two != one
    assert pin_book(svc).current(svc.settings.telegram_channel) == str(two)


def test_a_refused_pin_is_told_once_and_the_post_is_sent_anyway(
        make_services, site: Path, fake_tg, fake_x):
    fake_tg.add_chat(EDITORS, None, type="supergroup", title="Editors")
    svc = make_services(**live_env(fake_tg, fake_x), telegram_editor_chat=str(EDITORS),
                        bot_language="en", pin_breaking=True)
    fake_tg.set_pin_right(CHAT_ID, False)
    for slug in ("r1", "r2"):
        keys = planned(svc, site, slug, extra="breaking: true")
        assert send(svc, keys["telegram"]) == "sent"
        assert svc.state.get_by_key(keys["telegram"]).state == "sent"
    assert fake_tg.pinned(CHAT_ID) == []
    errors = [c for c in fake_tg.calls("pinChatMessage")]
    assert len(errors) == 2
    notices = [n for n in svc.notifier.queue.due()
               if "pinChatMessage" in n.data["notice"].get("text", "")]
    assert len(notices) == 1
    text = notices[0].data["notice"]["text"].lower()
    assert "not enough rights to manage pinned" in text and "right to post" not in text


def test_a_breaking_post_is_not_held_by_min_spacing_but_a_normal_one_is(
        live, site: Path, fake_tg, fake_x):
    svc = live(min_spacing_seconds=3600)  # an hour between posts (scaled: 3.6 s)
    first = planned(svc, site, "first")
    assert send(svc, first["telegram"]) == "sent"
    normal = planned(svc, site, "second")
    # held by MIN_SPACING_SECONDS: it joins the destination's paced backlog
    assert deliver(svc, normal["telegram"], owner="n") == "paced"
    breaking = planned(svc, site, "alert", extra="breaking: true")
    time.sleep(0.06)  # the platform's own 1-per-second rule (scaled) still applies
    assert deliver(svc, breaking["telegram"], owner="b") == "sent"
    held = svc.state.get_by_key(normal["telegram"])
    assert held.state == "waiting" and held.reason.startswith("paced")


def test_a_post_edited_to_breaking_and_an_editor_push_are_marked(live, site: Path, fake_tg,
                                                                 fake_x):
    from bot.delivery.planner import plan_manual

    svc = live()
    scan(svc, enqueue=Queue())
    later = now_utc() + timedelta(hours=1)
    write_post(site, "soon", later, title="Soon")
    scan(svc, enqueue=Queue())
    (rec,) = [r for r in svc.state.records() if r.platform == "telegram"]
    assert rec.state == "waiting" and "breaking" not in rec.extra
    write_post(site, "soon", later, title="Soon", extra="breaking: true")
    scan(svc, enqueue=Queue())
    marked = svc.state.get_by_key(rec.key)
    assert marked.extra.get("breaking") == "1" and marked.state == "waiting"
    assert marked.scheduled_at == rec.scheduled_at

    from bot.sources.jekyll import read_post

    path = write_post(site, "pushed", now_utc() - timedelta(hours=80), title="Old",
                      extra="breaking: true")
    post = read_post(svc.site, path)
    out = plan_manual(svc, post, ["telegram"], force=False, who="editor", enqueue=Queue())
    assert [r.extra.get("breaking") for r in out] == ["1"]


def test_a_dry_run_outbox_says_which_telegram_posts_would_be_silent(
        make_services, site: Path, tmp_path: Path):
    import json

    svc = make_services(quiet_hours=around_now())
    assert svc.dry_run
    keys = planned(svc, site, "dry")
    assert deliver(svc, keys["telegram"], owner="t") == "sent"
    lines = [json.loads(x) for x in
             (tmp_path / "var" / "outbox.jsonl").read_text().splitlines()]
    assert [x.get("silent") for x in lines if x["platform"] == "telegram"] == [True]


def test_an_unpin_that_fails_is_retried_later_or_told_once_when_refused(
        make_services, site: Path, fake_tg, fake_x):
    from bot.delivery.pins import RETRY_SECONDS

    fake_tg.add_chat(EDITORS, None, type="supergroup", title="Editors")
    svc = make_services(**live_env(fake_tg, fake_x), telegram_editor_chat=str(EDITORS),
                        bot_language="en", pin_breaking=True, pin_hours=1)
    keys = planned(svc, site, "u1", extra="breaking: true")
    start = time.time()
    assert deliver(svc, keys["telegram"], owner="t", now=start) == "sent"
    (msg,) = fake_tg.pinned(CHAT_ID)
    due = start + 3600 + 1
    fake_tg.fail_next("unpinChatMessage", status=502)
    assert run_due_unpins(svc, now=due) == 0  # Telegram down: tried again later
    (entry,) = pin_book(svc).scheduled()
    assert abs(entry[2] - (due + RETRY_SECONDS)) < 1
    fake_tg.set_pin_right(CHAT_ID, False)
    assert run_due_unpins(svc, now=due + RETRY_SECONDS) == 0  # refused: told, not retried
    assert pin_book(svc).scheduled() == []
    assert fake_tg.pinned(CHAT_ID) == [msg]
    told = [n for n in svc.notifier.queue.due()
            if "unpinChatMessage" in n.data["notice"].get("text", "")]
    assert len(told) == 1
