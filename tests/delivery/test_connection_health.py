"""Connection health in the delivery core: real Services, real Redis, the real publishers over
HTTP to the fakes.  An unhealthy destination holds its queue (no send attempted, never
``failed``), the editors are told once, and the first healthy check releases the queue."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

from delivery_helpers import CHAT_ID, Queue, live_env, queued_post

from bot.delivery.connection_health import (
    UNHEALTHY_PREFIX,
    UNREACHABLE_LIMIT,
    check_destinations,
    health_book,
)
from bot.delivery.sender import deliver
from bot.delivery.services import Services
from bot.editor.outbox import NoticeDispatcher
from bot.platforms.telegram import TelegramPublisher
from fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from fakes.x import FakeX

EDITORS = -100777
SEND_METHODS = ("sendMessage", "sendPhoto")


def editor_chat(svc: Services, fake_tg: FakeTelegram) -> list[Any]:
    sender = NoticeDispatcher.from_settings(svc.settings, svc)
    assert sender is not None
    try:
        sender.drain()
    finally:
        sender.close()
    return fake_tg.channel_posts(EDITORS)


def channel_attempts(fake_tg: FakeTelegram) -> int:
    """Send requests that named the channel, answered or refused."""
    return sum(1 for method in SEND_METHODS for call in fake_tg.calls(method)
               if str(call.params.get("chat_id")) in (str(CHAT_ID), "@newsfake"))


def env(fake_tg: FakeTelegram, fake_x: FakeX, **extra: Any) -> dict[str, Any]:
    fake_tg.add_chat(EDITORS, None, type="supergroup", title="Editors")
    return {**live_env(fake_tg, fake_x), "telegram_editor_chat": str(EDITORS),
            "bot_language": "en", "health_seconds": 300, **extra}


def send_out(svc: Services, key: str, owner: str) -> str:
    """deliver, waiting out a rate slot (the test's time-scaled windows) as the tick would."""
    for _ in range(50):
        outcome = deliver(svc, key, owner=owner)
        if outcome not in ("rate_wait", "not_queued"):
            return outcome
        time.sleep(0.05)
        svc.state.promote_due()
    return outcome


def health_notices(svc: Services, fake_tg: FakeTelegram) -> list[str]:
    return [m.text for m in editor_chat(svc, fake_tg) if "Connection" in (m.text or "")]


def test_a_demoted_bot_holds_the_queue_and_the_fix_releases_it(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX) -> None:
    svc = make_services(**env(fake_tg, fake_x))
    queue = Queue()
    assert [o.outcome for o in check_destinations(svc, queue)] == ["ok", "ok"]
    assert health_notices(svc, fake_tg) == []  # healthy from the start: nothing to say

    fake_tg.demote_bot(CHAT_ID, "member")
    first = check_destinations(svc, queue)
    assert [(o.platform, o.outcome, o.changed) for o in first] == [
        ("telegram", "unhealthy", True), ("x", "ok", False)]
    check_destinations(svc, queue)  # the same outage: no second notice
    said = health_notices(svc, fake_tg)
    assert len(said) == 1 and "Connection unhealthy" in said[0]
    assert "is no longer an administrator of @newsfake" in said[0]

    keys = queued_post(svc, site, "held")
    before = channel_attempts(fake_tg)
    assert deliver(svc, keys["telegram"], owner="w1") == "unhealthy"
    assert deliver(svc, keys["x"], owner="w1") == "sent"  # X is fine: it goes on
    assert channel_attempts(fake_tg) == before  # no send attempted
    rec = svc.state.get_by_key(keys["telegram"])
    assert rec.state == "waiting" and rec.reason.startswith(UNHEALTHY_PREFIX)
    assert rec.attempts == 0 and rec.scheduled_at is None

    fake_tg.restore_bot(CHAT_ID)
    released = Queue()
    outcome = check_destinations(svc, released)
    assert outcome[0].changed and outcome[0].released == 1 and released.keys == [keys["telegram"]]
    assert svc.state.get_by_key(keys["telegram"]).state == "queued"
    assert send_out(svc, keys["telegram"], "w2") == "sent"
    assert len(fake_tg.channel_posts(CHAT_ID)) == 1
    said = health_notices(svc, fake_tg)
    assert len(said) == 2 and "Connection healthy again" in said[1]


def test_a_send_refused_for_the_channel_waits_instead_of_failing(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX) -> None:
    """Demoted between two checks: the one send that meets the refusal marks the destination
    unhealthy itself; it and the posts behind it wait, none fails."""
    svc = make_services(**env(fake_tg, fake_x))
    first = queued_post(svc, site, "first")
    fake_tg.demote_bot(CHAT_ID, "left")
    assert deliver(svc, first["telegram"], owner="w1") == "unhealthy"
    rec = svc.state.get_by_key(first["telegram"])
    assert rec.state == "waiting" and "bot is not a member of the channel chat" in rec.reason
    assert svc.state.counts().get("failed", 0) == 0
    attempts = channel_attempts(fake_tg)
    second = queued_post(svc, site, "second")
    assert deliver(svc, second["telegram"], owner="w1") == "unhealthy"
    assert channel_attempts(fake_tg) == attempts
    said = health_notices(svc, fake_tg)
    assert len(said) == 1 and "not a member" in said[0]

    fake_tg.restore_bot(CHAT_ID)
    released = Queue()
    check_destinations(svc, released)
    assert sorted(released.keys) == sorted([first["telegram"], second["telegram"]])
    for key in released.keys:
        assert send_out(svc, key, "w2") == "sent"
    assert len(fake_tg.channel_posts(CHAT_ID)) == 2


def test_spent_x_credits_on_a_send_hold_x_only(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX) -> None:
    svc = make_services(**env(fake_tg, fake_x))
    keys = queued_post(svc, site, "credits")
    fake_x.deplete_credits()
    assert deliver(svc, keys["x"], owner="w1") == "unhealthy"
    assert deliver(svc, keys["telegram"], owner="w1") == "sent"
    rec = svc.state.get_by_key(keys["x"])
    assert rec.state == "waiting" and "X credits are spent (402" in rec.reason
    tweets = len(fake_x.calls("/2/tweets"))
    assert check_destinations(svc, Queue())[1].outcome == "unhealthy"
    assert len(fake_x.calls("/2/tweets")) == tweets
    fake_x.restore_account()
    released = Queue()
    check_destinations(svc, released)
    assert released.keys == [keys["x"]]
    assert send_out(svc, keys["x"], "w2") == "sent" and len(fake_x.posts) == 1
    said = health_notices(svc, fake_tg)
    assert len(said) == 2 and "X credits are spent" in said[0]


def test_revoked_x_keys_and_a_locked_account(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX) -> None:
    svc = make_services(**env(fake_tg, fake_x))
    fake_x.revoke_credentials()
    assert check_destinations(svc, Queue())[1].outcome == "unhealthy"
    assert "X no longer accepts the keys" in (
        health_book(svc).unhealthy_reason("x", "x") or "")
    keys = queued_post(svc, site, "locked")
    fake_x.lock_account()  # a second cause during the same outage: no second notice
    check_destinations(svc, Queue())
    assert deliver(svc, keys["x"], owner="w1") == "unhealthy"
    assert fake_x.calls("/2/tweets") == []
    assert len(health_notices(svc, fake_tg)) == 1
    fake_x.restore_account()
    released = Queue()
    check_destinations(svc, released)
    assert released.keys == [keys["x"]]


def test_with_checks_off_a_refusal_fails_as_before(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX) -> None:
    held = make_services(**env(fake_tg, fake_x))
    keys = queued_post(held, site, "off")
    fake_tg.demote_bot(CHAT_ID, "member")
    check_destinations(held, Queue())
    assert deliver(held, keys["telegram"], owner="w1") == "unhealthy"
    # the operator turns the checks off: what was held goes back to the queue, and a refusal
    # fails as it did before health checks existed
    svc = make_services(**env(fake_tg, fake_x, health_seconds=0))
    released = Queue()
    assert check_destinations(svc, released) == []
    assert released.keys == [keys["telegram"]]
    assert deliver(svc, keys["telegram"], owner="w1") == "failed"


def test_no_answer_counts_only_after_several_checks(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = TelegramPublisher(DEFAULT_TOKEN, "@newsfake", api_url=f"http://127.0.0.1:{port}",
                             timeout=0.5)
    svc = make_services(publishers=[gone], **env(fake_tg, fake_x))
    for n in range(UNREACHABLE_LIMIT - 1):
        (outcome,) = check_destinations(svc, Queue())
        assert outcome.outcome == "unreachable" and not outcome.changed, n
        assert health_book(svc).unhealthy_reason("telegram", "@newsfake") is None
    (outcome,) = check_destinations(svc, Queue())
    assert outcome.changed
    reason = health_book(svc).unhealthy_reason("telegram", "@newsfake") or ""
    assert f"no answer in {UNREACHABLE_LIMIT} checks in a row" in reason
    assert DEFAULT_TOKEN not in reason


def test_status_json_cli_and_desk_show_each_destinations_health(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX) -> None:
    import io
    import json

    from rich.console import Console

    from bot.actions.status import status
    from bot.cli.status import print_status
    from bot.editor.render import status_lines

    svc = make_services(**env(fake_tg, fake_x))
    before = status(svc).to_json()["health"]
    assert {k: v["status"] for k, v in before.items()} == {"telegram:@newsfake": "unknown",
                                                          "x:x": "unknown"}
    fake_x.deplete_credits()
    check_destinations(svc, Queue())
    report = status(svc)
    data = json.loads(json.dumps(report.to_json()))
    tg, x = data["health"]["telegram:@newsfake"], data["health"]["x:x"]
    assert tg["status"] == "ok" and tg["checked_at"] and tg["reason"] == ""
    assert x["status"] == "unhealthy" and "X credits are spent (402" in x["reason"]
    assert x["since"] and x["checked_at"]

    out = io.StringIO()
    print_status(Console(file=out, width=300, color_system=None), report)
    text = out.getvalue()
    assert "health telegram @newsfake: ok (checked " in text
    assert "health x account: UNHEALTHY since" in text and "X credits are spent" in text

    _, lines = status_lines("en", report)
    health = [line for line in lines if line.startswith("<b>Health</b>")]
    assert len(health) == 1 and "telegram @newsfake: ok" in health[0]
    assert "x x: ❌ users/me: X credits are spent" in health[0]

    off = make_services(**env(fake_tg, fake_x, health_seconds=0))
    assert {v["status"] for v in status(off).to_json()["health"].values()} == {"off"}


def test_a_revoked_bot_token_holds_telegram_until_a_new_one_is_configured(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX) -> None:
    svc = make_services(**env(fake_tg, fake_x))
    keys = queued_post(svc, site, "revoked")
    check_destinations(svc, Queue())  # initialised with the old token
    old = fake_tg.token
    new = fake_tg.revoke_token()
    assert deliver(svc, keys["telegram"], owner="w1") == "unhealthy"
    rec = svc.state.get_by_key(keys["telegram"])
    assert rec.state == "waiting" and "rejected the bot token" in rec.reason
    assert old not in rec.reason
    assert check_destinations(svc, Queue())[0].outcome == "unhealthy"
    # the operator configures the new token and restarts: the first check releases the post
    fixed = make_services(**{**env(fake_tg, fake_x), "telegram_bot_token": new})
    released = Queue()
    check_destinations(fixed, released)
    assert released.keys == [keys["telegram"]]
    assert send_out(fixed, keys["telegram"], "w2") == "sent"


def test_a_correction_waits_for_the_channels_health_too(
        make_services: Any, site: Path, fake_tg: FakeTelegram, fake_x: FakeX) -> None:
    """EDIT_PUBLISHED: an edit to a channel that refuses the bot is not reported as refused
    (nothing an editor could fix per message): it is tried again after HEALTH_SECONDS."""
    from datetime import timedelta

    from delivery_helpers import now_utc, write_post

    from bot.delivery.planner import scan

    svc = make_services(**env(fake_tg, fake_x, edit_published=True))
    keys = queued_post(svc, site, "fix")
    assert send_out(svc, keys["telegram"], "w1") == "sent"
    [message] = fake_tg.channel_posts(CHAT_ID)
    fake_tg.demote_bot(CHAT_ID, "member")
    path = write_post(site, "fix", now_utc() - timedelta(minutes=2), title="Corrected fix")
    scan(svc, paths=[path], enqueue=Queue())
    now = svc.state.now()
    # between two checks: the edit itself meets the refusal
    assert deliver(svc, keys["telegram"], owner="w2", now=now) == "unhealthy"
    assert health_book(svc).unhealthy_reason("telegram", "@newsfake") is not None
    assert [e for e in svc.state.audit_log() if e["action"] == "edit_failed"] == []
    assert svc.state.edits.claim(keys["telegram"], lease=60, now=now + 299) is None
    edits_tried = len(fake_tg.calls("editMessageCaption"))
    # still unhealthy when it comes due: not even tried
    assert deliver(svc, keys["telegram"], owner="w3", now=now + 301) == "unhealthy"
    assert len(fake_tg.calls("editMessageCaption")) == edits_tried
    fake_tg.restore_bot(CHAT_ID)
    check_destinations(svc, Queue())
    assert deliver(svc, keys["telegram"], owner="w4", now=now + 602) == "edited"
    [after] = fake_tg.channel_posts(CHAT_ID)
    assert after.message_id == message.message_id and after.caption.startswith("Corrected fix")
