"""The editors' bot says it is up only once Telegram answered `getMe`; a bot that cannot start
(a token Telegram refuses, an API that cannot be reached) costs one line, never the publishing,
and never a clean stop.

Real processes: the installed `newsbot` console script, the fake Telegram (401 for a wrong
token) and fake X servers in this test process, or a closed port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta

from delivery_helpers import write_post

from fakes.telegram import FakeTelegram
from fakes.x import FakeX

from .conftest import E2E, NEWSBOT
from .test_clean_stop import (
    CHAT,
    STOP_WITHIN,
    TOKEN,
    WRONG_TOKEN,
    _closed_port,
    _env,
    _stop_and_check,
    _valkey_pid,
    _wait_for,
    fakes,
)

__all__ = ["fakes"]  # the fixture, shared with test_clean_stop


def test_bot_that_cannot_start_says_so_and_publishing_goes_on(
    e2e: E2E, fakes: tuple[FakeTelegram, FakeX]
) -> None:
    """A token Telegram refuses (401 from the fake) stops the editors' bot with one line; the
    new post still reaches X, and `newsbot run` stops cleanly afterwards."""
    x = fakes[1]
    data = e2e.tmp / "var-rejected"
    write_post(e2e.site, "seed", datetime.now(UTC) - timedelta(days=3), title="Seed")
    proc = e2e.start("run", extra_env=_env(fakes, token=WRONG_TOKEN, reachable=True, data=data))
    _wait_for(proc, "event=scan")  # the baseline is recorded: what is written now is new
    _wait_for(proc, "Telegram rejected TELEGRAM_BOT_TOKEN")
    text = proc.text()
    assert "editors' bot is up" not in text
    rejected = [line for line in text.splitlines() if "rejected TELEGRAM_BOT_TOKEN" in line]
    assert len(rejected) == 1 and rejected[0].endswith("publishing goes on"), rejected
    before = len(x.posts)
    write_post(e2e.site, "after-rejection", datetime.now(UTC) - timedelta(minutes=1),
               title="Still published")
    deadline = time.monotonic() + 30
    while not any("Still published" in p.text for p in x.posts[before:]):
        assert time.monotonic() < deadline, f"no post reached X:\n{proc.text()[-3000:]}"
        time.sleep(0.1)
    _stop_and_check(proc, signal.SIGINT, _valkey_pid(data))
    assert WRONG_TOKEN not in proc.text() and TOKEN not in proc.text()


def test_newsbot_bot_alone_says_why_it_cannot_serve(
    e2e: E2E, fakes: tuple[FakeTelegram, FakeX]
) -> None:
    """`newsbot bot`: an unreachable API is one line and the process still stops at once; a
    token Telegram refuses ends it with one error line (exit 2)."""
    tg = fakes[0]
    settings = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_CHANNEL": str(CHAT),
                "TELEGRAM_API_URL": _closed_port()}
    proc = e2e.start("bot", extra_env=settings, ready="cannot reach the Telegram API")
    started = time.monotonic()
    os.killpg(proc.popen.pid, signal.SIGTERM)
    assert proc.popen.wait(10) == 0 and time.monotonic() - started < STOP_WITHIN
    lines = proc.text().strip().splitlines()
    assert lines[-1] == "newsbot stopped" and "Traceback" not in proc.text()
    assert sum("cannot reach the Telegram API" in line for line in lines) == 1

    rejected = subprocess.run(
        [NEWSBOT, "bot"], cwd=e2e.tmp, capture_output=True, text=True, timeout=60,
        env={**e2e.env, **settings, "TELEGRAM_API_URL": tg.base_url,
             "TELEGRAM_BOT_TOKEN": WRONG_TOKEN})
    assert rejected.returncode == 2, rejected.stdout + rejected.stderr
    assert "Traceback" not in rejected.stdout + rejected.stderr
    assert rejected.stderr.strip().splitlines()[-1].startswith(
        "error: Telegram rejected TELEGRAM_BOT_TOKEN")
    assert WRONG_TOKEN not in rejected.stdout + rejected.stderr


def test_telegram_gone_while_running_is_one_line_and_a_clean_stop(e2e: E2E) -> None:
    """The API disappears under a running bot (before: a traceback per failed poll, and a stop
    that waited for PTB's retry sleep): one line, and Ctrl-C still ends everything at once."""
    data = e2e.tmp / "var-gone"
    tg = FakeTelegram(token=TOKEN, enforce_rate_limits=False).start()
    try:
        tg.add_chat(CHAT, "newsfake")
        env = {"REDIS_URL": "", "DATA_DIR": str(data), "TELEGRAM_BOT_TOKEN": TOKEN,
               "TELEGRAM_CHANNEL": str(CHAT), "TELEGRAM_API_URL": tg.base_url}
        proc = e2e.start("run", extra_env=env, ready="editors' bot is up as @")
        _wait_for(proc, " ready.")
    finally:
        tg.stop()
    _wait_for(proc, "polling Telegram failed")
    time.sleep(4)  # several polls fail meanwhile
    text = _stop_and_check(proc, signal.SIGINT, _valkey_pid(data))
    assert sum("polling Telegram failed" in line for line in text.splitlines()) == 1


def test_a_token_revoked_while_running_is_one_line_and_publishing_goes_on(e2e: E2E) -> None:
    """The bot's token is revoked under a running `newsbot run` (PTB's poll ends on the 401 and
    logs it only): `run` says so in one line, goes on publishing, and stops cleanly."""
    data = e2e.tmp / "var-revoked"
    with FakeTelegram(token=TOKEN, enforce_rate_limits=False, time_scale=0.05) as tg, \
            FakeX() as x:
        tg.add_chat(CHAT, "newsfake")
        write_post(e2e.site, "seed-revoked", datetime.now(UTC) - timedelta(days=3), title="Seed")
        proc = e2e.start("run", extra_env=_env((tg, x), token=TOKEN, reachable=True, data=data),
                         ready="editors' bot is up as @")
        _wait_for(proc, " ready.")
        tg.revoke_token()
        _wait_for(proc, "no longer accepts TELEGRAM_BOT_TOKEN")
        write_post(e2e.site, "after-revoke", datetime.now(UTC) - timedelta(minutes=1),
                   title="Published after the revoke")
        deadline = time.monotonic() + 30
        while not any("Published after the revoke" in p.text for p in x.posts):
            assert time.monotonic() < deadline, f"no post reached X:\n{proc.text()[-3000:]}"
            time.sleep(0.1)
        text = _stop_and_check(proc, signal.SIGINT, _valkey_pid(data))
    said = [line for line in text.splitlines() if "editors' bot" in line]
    assert len(said) == 2 and said[1].endswith("publishing goes on"), said  # up, then stopped
    assert "Traceback" not in text and TOKEN not in text and tg.token not in text
