"""The worker's notices to the editors' chat (a second chat on the fake Telegram server).

Notices are on whenever the bot token and TELEGRAM_EDITOR_CHAT are set: ``Services`` builds the
notifier, so every worker process can queue what happened; the editors' bot sends the queue
(``editor_chat`` below runs its sender once, as that process would).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from delivery_helpers import CHANNEL, live_env, queued_post

from bot.delivery.sender import DUPLICATE_NOTE, deliver
from bot.delivery.services import Services
from bot.editor.outbox import NoticeDispatcher
from bot.platforms.telegram import TelegramPublisher
from bot.platforms.x import XPublisher
from bot.platforms.x_api import XCredentials
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

EDITORS = -100777


def editor_chat(svc: Services, fake_tg: FakeTelegram) -> list[Any]:
    """Everything queued so far, sent as the editors' bot would; the editors' chat then."""
    sender = NoticeDispatcher.from_settings(svc.settings, svc)
    assert sender is not None
    try:
        assert sender.drain()
    finally:
        sender.close()
    return fake_tg.channel_posts(EDITORS)


def editors_env(fake_tg: FakeTelegram, fake_x: FakeX, **extra: object) -> dict[str, object]:
    fake_tg.add_chat(EDITORS, None, type="supergroup", title="Editors")
    return {**live_env(fake_tg, fake_x), "telegram_editor_chat": str(EDITORS),
            "bot_language": "en", **extra}


def test_without_an_editors_chat_there_is_no_notifier(make_services, fake_tg, fake_x):
    assert make_services(**live_env(fake_tg, fake_x)).notifier is None


def test_publish_notices_name_each_receipt_link_once(make_services, site: Path,
                                                     fake_tg: FakeTelegram, fake_x: FakeX):
    svc = make_services(**editors_env(fake_tg, fake_x, notify_published=True))
    assert svc.notifier is not None
    keys = queued_post(svc, site)
    assert deliver(svc, keys["telegram"], owner="t") == "sent"
    assert len(editor_chat(svc, fake_tg)) == 1
    assert deliver(svc, keys["x"], owner="x") == "sent"
    assert deliver(svc, keys["x"], owner="x2") == "not_queued"
    notices = editor_chat(svc, fake_tg)
    assert [n.text.split(" ")[1] for n in notices] == ["Published", "Published"]
    for notice, key in zip(notices, (keys["telegram"], keys["x"]), strict=True):
        rec = svc.state.get_by_key(key)
        assert rec.receipt_url and rec.receipt_url in notice.text
        assert "Big news news" in notice.text
    assert len(fake_tg.channel_posts(CHANNEL)) == 1


def test_duplicate_after_an_uncertain_send_is_announced_as_published_with_the_note(
    make_services, site: Path, fake_tg: FakeTelegram, fake_x: FakeX
):
    env = editors_env(fake_tg, fake_x, notify_published=True)
    slow = XPublisher(XCredentials(*fake_x.credentials), api_url=fake_x.base_url, timeout=0.5)
    tg = TelegramPublisher(str(env["telegram_bot_token"]), CHANNEL, api_url=fake_tg.base_url)
    svc = make_services(publishers=[tg, slow], **env)
    key = queued_post(svc, site)["x"]
    fake_x.timeline_lag = 60.0  # the retry's read does not see it yet: X's refusal settles it
    fake_x.delay_next("/2/tweets", 1.5)
    now = svc.state.now()
    assert deliver(svc, key, owner="a", now=now) == "retry_wait"
    deadline = time.monotonic() + 5
    while not fake_x.posts and time.monotonic() < deadline:
        time.sleep(0.05)
    assert editor_chat(svc, fake_tg) == []  # a retry_wait is nobody's business yet
    rec = svc.state.get_by_key(key)
    assert deliver(svc, key, owner="b", now=rec.scheduled_at + 0.01) == "sent"
    (notice,) = editor_chat(svc, fake_tg)
    assert "Published" in notice.text and DUPLICATE_NOTE in notice.text


def test_giving_up_after_max_attempts_notifies_the_failure(make_services, site: Path,
                                                          fake_tg: FakeTelegram, fake_x: FakeX):
    svc = make_services(**editors_env(fake_tg, fake_x, max_attempts=1))
    key = queued_post(svc, site)["telegram"]
    fake_tg.fail_next("sendPhoto", status=502)
    assert deliver(svc, key, owner="a") == "failed"
    (queued,) = svc.notifier.queue.due()  # queued as an event: record, reason, no text yet
    assert queued.data["notice"]["record_key"] == key
    assert queued.data["notice"]["kind"] == "failed"
    (notice,) = editor_chat(svc, fake_tg)
    assert "Delivery failed" in notice.text and "gave up after 1 attempts" in notice.text
    assert [b["text"] for b in notice.reply_markup["inline_keyboard"][0]] == ["Retry"]


def test_the_delivery_core_never_imports_the_editors_desk() -> None:
    """Notices are events: delivery queues them, the desk renders and sends them."""
    import subprocess
    import sys

    code = ("import sys, bot.delivery.sender, bot.delivery.planner, bot.delivery.services, "
            "bot.delivery.notify, tasks\n"
            "print(sorted(m for m in sys.modules if m.startswith('bot.editor')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=Path(__file__).resolve().parents[2], check=True)
    assert out.stdout.strip() == "[]"
