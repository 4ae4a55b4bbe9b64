"""The health figure (README "Connection health"): `newsbot run` with HEALTH_SECONDS=1, the
real Celery worker, beat thread, health checker, watcher and editors' bot, python-telegram-bot
and tweepy against the fakes.

Judged by what the fakes received: once the bot is demoted in the channel (or the X keys are
revoked, or the X credits are spent), no send to that destination is attempted, the editors'
chat gets exactly one notice within one check interval, the other platform goes on, nothing
fails, and the fix drains the held queue by itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from delivery_helpers import CHANNEL, CHAT_ID, live_env, now_utc, wait_for, write_post

from bot.config import TESTING_SWITCH
from bot.state.destination_health import HealthBook
from fakes.telegram import FakeTelegram
from fakes.x import FakeX

pytestmark = [pytest.mark.timeout(240),
              pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")]

HEALTH_SECONDS = 1.0
EDITORS = -100777
SCALE = 0.1
POSTS = 3


@pytest.fixture
def fake_tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(enforce_rate_limits=False) as server:
        server.add_chat(CHAT_ID, CHANNEL)
        server.add_chat(EDITORS, None, type="supergroup", title="Editors")
        yield server


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX(time_scale=0.01) as server:  # users/me every second stays within its window
        yield server


def _channel_attempts(fake_tg: FakeTelegram) -> int:
    return sum(1 for method in ("sendMessage", "sendPhoto") for call in fake_tg.calls(method)
               if str(call.params.get("chat_id")) in (str(CHAT_ID), CHANNEL))


def _x_attempts(fake_x: FakeX) -> int:
    return sum(1 for call in fake_x.calls("/2/tweets") if call.method == "POST")


def _notices(fake_tg: FakeTelegram, words: str) -> list[str]:
    return [m.text for m in fake_tg.channel_posts(EDITORS) if words in (m.text or "")]


def _sent(e2e: Any, platform: str) -> int:
    return sum(1 for r in e2e.records("sent") if r.platform == platform)


def _phase(e2e: Any, fake_tg: FakeTelegram, fake_x: FakeX, name: str, platform: str,
           destination: str, attempts: Callable[[], int], breaks: Callable[[], None],
           fixes: Callable[[], None], said: str) -> dict[str, float]:
    book = HealthBook(e2e.state.client)
    other = "x" if platform == "telegram" else "telegram"
    down_before = len(_notices(fake_tg, "Connection unhealthy"))
    up_before = len(_notices(fake_tg, "Connection healthy again"))
    sent_before, other_before = _sent(e2e, platform), _sent(e2e, other)

    broken_at = time.monotonic()
    breaks()
    wait_for(lambda: book.unhealthy_reason(platform, destination), 10, f"{name}: unhealthy")
    detected = time.monotonic() - broken_at
    wait_for(lambda: len(_notices(fake_tg, "Connection unhealthy")) > down_before, 15,
             f"{name}: the notice")
    noticed = time.monotonic() - broken_at
    tried = attempts()

    when = now_utc() - timedelta(minutes=2)
    for i in range(POSTS):
        write_post(e2e.site, f"{name}-{i}", when, title=f"{name} story {i}", image=False)
    wait_for(lambda: _sent(e2e, other) == other_before + POSTS, 60, f"{name}: {other} goes on")
    wait_for(lambda: sum(1 for r in e2e.records("waiting") if r.platform == platform
                         and r.reason.startswith("unhealthy: ")) == POSTS, 30,
             f"{name}: held records")
    time.sleep(3 * HEALTH_SECONDS)  # three more checks: still nothing tried, no second notice
    assert attempts() == tried, f"{name}: a send was attempted while unhealthy"
    notices = _notices(fake_tg, "Connection unhealthy")
    assert len(notices) == down_before + 1, notices
    assert said in notices[-1], notices[-1]
    assert e2e.records("failed") == []

    fixed_at = time.monotonic()
    fixes()
    wait_for(lambda: _sent(e2e, platform) == sent_before + POSTS, 60, f"{name}: the queue drains")
    drained = time.monotonic() - fixed_at
    wait_for(lambda: len(_notices(fake_tg, "Connection healthy again")) == up_before + 1, 15,
             f"{name}: healthy again")
    assert attempts() == tried + POSTS  # each held post once, nothing more
    return {"detected": detected, "noticed": noticed, "drained": drained}


def test_health_figure(e2e: Any, fake_tg: FakeTelegram, fake_x: FakeX) -> None:
    env = {k.upper(): str(v) for k, v in live_env(fake_tg, fake_x).items()}
    env |= {"HEALTH_SECONDS": str(HEALTH_SECONDS), "TELEGRAM_EDITOR_CHAT": str(EDITORS),
            "BOT_LANGUAGE": "en", "RATE_TIME_SCALE": str(SCALE), TESTING_SWITCH: "1"}
    proc = e2e.start("run", extra_env=env)
    book = HealthBook(e2e.state.client)
    wait_for(lambda: all((h := book.get(p, d)) is not None and h.status == "ok"
                         for p, d in (("telegram", CHANNEL), ("x", "x"))), 30,
             "the start-up checks")
    wait_for(lambda: e2e.state.baseline_done(_site_key(e2e)), 30, "the baseline")

    figures = {
        "telegram demoted": _phase(
            e2e, fake_tg, fake_x, "demoted", "telegram", CHANNEL,
            lambda: _channel_attempts(fake_tg), lambda: fake_tg.demote_bot(CHAT_ID, "member"),
            lambda: fake_tg.restore_bot(CHAT_ID), "is no longer an administrator"),
        "x keys revoked": _phase(
            e2e, fake_tg, fake_x, "revoked", "x", "x", lambda: _x_attempts(fake_x),
            fake_x.revoke_credentials, fake_x.restore_account, "X no longer accepts the keys"),
        "x credits spent": _phase(
            e2e, fake_tg, fake_x, "credits", "x", "x", lambda: _x_attempts(fake_x),
            fake_x.deplete_credits, fake_x.restore_account, "X credits are spent (402"),
    }
    for name, f in figures.items():
        print(f"\nhealth {name}: unhealthy after {f['detected']:.2f} s, editors told after "
              f"{f['noticed']:.2f} s, 0 sends attempted while unhealthy, {POSTS} held posts "
              f"drained {f['drained']:.2f} s after the fix (HEALTH_SECONDS={HEALTH_SECONDS:g})")
        # found by the next check (one interval, plus the check's own time); the notice then
        # goes through the editors' bot queue at Telegram's pace
        assert f["detected"] <= HEALTH_SECONDS + 1.0, (name, f)
        assert f["noticed"] <= HEALTH_SECONDS + 3.0, (name, f)
    assert len(fake_tg.channel_posts(CHAT_ID)) == 3 * POSTS
    assert len(fake_x.posts) == 3 * POSTS
    log = proc.text()
    for secret in (fake_tg.token, *fake_x.credentials):
        assert secret not in log
    assert "Traceback" not in log, log[-3000:]


def _site_key(e2e: Any) -> str:
    from bot.delivery.services import site_key_of
    from bot.sources.site import SiteConfig

    return site_key_of(SiteConfig.load(e2e.site))


def test_split_deployment_beat_checks_and_workers_hold(e2e: Any, fake_tg: FakeTelegram,
                                                      fake_x: FakeX) -> None:
    """`newsbot beat` runs the checks, `newsbot worker` reads the health before each send."""
    env = {k.upper(): str(v) for k, v in live_env(fake_tg, fake_x).items()}
    env |= {"HEALTH_SECONDS": str(HEALTH_SECONDS), "RATE_TIME_SCALE": str(SCALE),
            TESTING_SWITCH: "1"}
    e2e.start("worker", "--concurrency", "2", extra_env=env)
    e2e.start("beat", extra_env=env, ready="for new and changed posts")
    book = HealthBook(e2e.state.client)
    wait_for(lambda: (h := book.get("telegram", CHANNEL)) is not None and h.status == "ok", 30,
             "beat's start-up check")
    wait_for(lambda: e2e.state.baseline_done(_site_key(e2e)), 30, "the baseline")
    fake_tg.demote_bot(CHAT_ID, "no_post")
    wait_for(lambda: book.unhealthy_reason("telegram", CHANNEL), 10, "unhealthy")
    tried = _channel_attempts(fake_tg)
    write_post(e2e.site, "split", now_utc() - timedelta(minutes=2), title="Split", image=False)
    wait_for(lambda: _sent(e2e, "x") == 1, 60, "x goes on")
    wait_for(lambda: [r for r in e2e.records("waiting") if r.platform == "telegram"], 30,
             "telegram held")
    time.sleep(2 * HEALTH_SECONDS)
    assert _channel_attempts(fake_tg) == tried
    fake_tg.restore_bot(CHAT_ID)
    wait_for(lambda: _sent(e2e, "telegram") == 1, 30, "drained after the fix")
    assert len(fake_tg.channel_posts(CHAT_ID)) == 1 and e2e.records("failed") == []
