"""The bot as a process runs it: ``serve`` in long-polling and in webhook mode (BotThread)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.delivery.services import Services
from bot.editor import lifecycle
from bot.editor.app import BotThread, webhook_secret
from bot.editor.lifecycle import BotRejectedError
from fakes.telegram import FakeTelegram

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

EDITOR = 1001
DEMO = Path(__file__).resolve().parents[2] / "examples" / "site"


def _wait(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(tmp_path: Path, fake: FakeTelegram, **extra: Any) -> Any:
    from bot.config import load_settings

    return load_settings(site_dir=DEMO, data_dir=tmp_path / "var", telegram_bot_token=fake.token,
                         telegram_api_url=fake.base_url, telegram_channel="-1001234567890",
                         telegram_editor_ids=str(EDITOR), bot_language="en", **extra)


def test_long_polling_thread_serves_and_stops(tmp_path: Path, redis_url: str,
                                              redis_namespace: str) -> None:
    with FakeTelegram(enforce_rate_limits=False, time_scale=0.01) as fake:
        fake.add_chat(-1001234567890, "newsdao_test")
        settings = _settings(tmp_path, fake)
        services = Services.from_settings(settings, redis_url=redis_url,
                                          namespace=redis_namespace)
        runner = BotThread(settings, services, enqueue=lambda key: None).start()
        try:
            _wait(lambda: fake.calls("setMyCommands"))
            fake.push_update(fake.make_message_update(EDITOR, text="/help"))
            reply = _wait(lambda: fake.channel_posts(EDITOR))
            assert "editors' desk" in reply[0].text
        finally:
            runner.stop()
            services.close()
        assert not runner.alive and runner.error is None
        assert len(fake.calls("setMyCommands")) == 3


def test_a_token_revoked_while_polling_stops_the_bot_with_one_report(
        tmp_path: Path, redis_url: str, redis_namespace: str) -> None:
    """PTB's long poll ends for good on a 401 and says so only in its log: the bot must say it
    stopped (``newsbot run`` prints that line and goes on publishing), not look alive."""
    heard: list[tuple[str, str]] = []
    with FakeTelegram(enforce_rate_limits=False, time_scale=0.01) as fake:
        settings = _settings(tmp_path, fake)
        services = Services.from_settings(settings, redis_url=redis_url,
                                          namespace=redis_namespace)
        runner = BotThread(settings, services, enqueue=lambda key: None,
                           report=lambda kind, line: heard.append((kind, line))).start()
        try:
            _wait(lambda: ("up" in [kind for kind, _ in heard]))
            old = fake.token
            fake.revoke_token()
            _wait(lambda: not runner.alive)
        finally:
            runner.stop()
            services.close()
    assert [kind for kind, _ in heard] == ["up", "stopped"]
    assert "no longer accepts TELEGRAM_BOT_TOKEN" in heard[1][1]
    assert old not in heard[1][1] and fake.token not in heard[1][1]
    assert isinstance(runner.error, BotRejectedError)


def test_a_token_revoked_in_webhook_mode_is_noticed_by_the_watch(
        tmp_path: Path, redis_url: str, redis_namespace: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing polls in webhook mode: the periodic getMe notices the revoke."""
    monkeypatch.setattr(lifecycle, "WATCH_SECONDS", 0.2)
    heard: list[tuple[str, str]] = []
    with FakeTelegram(enforce_rate_limits=False) as fake:
        settings = _settings(tmp_path, fake, bot_webhook_url="https://desk.example/tg",
                             bot_webhook_listen=f"127.0.0.1:{_free_port()}")
        services = Services.from_settings(settings, redis_url=redis_url,
                                          namespace=redis_namespace)
        runner = BotThread(settings, services, enqueue=lambda key: None,
                           report=lambda kind, line: heard.append((kind, line))).start()
        try:
            _wait(lambda: ("up" in [kind for kind, _ in heard]))
            _wait(lambda: len(fake.calls("getMe")) >= 3)  # the watch asks, all well
            assert runner.alive
            fake.revoke_token()
            _wait(lambda: not runner.alive)
        finally:
            runner.stop()
            services.close()
    assert [kind for kind, _ in heard] == ["up", "stopped"]
    assert "no longer accepts TELEGRAM_BOT_TOKEN" in heard[1][1]


def test_webhook_mode_accepts_only_telegram_signed_posts(tmp_path: Path, redis_url: str,
                                                         redis_namespace: str) -> None:
    port = _free_port()
    with FakeTelegram(enforce_rate_limits=False) as fake:
        settings = _settings(tmp_path, fake, bot_webhook_url="https://desk.example/tg",
                             bot_webhook_listen=f"127.0.0.1:{port}")
        services = Services.from_settings(settings, redis_url=redis_url,
                                          namespace=redis_namespace)
        runner = BotThread(settings, services, enqueue=lambda key: None).start()
        try:
            hook = _wait(lambda: fake.calls("setWebhook"))[0].params
            secret = webhook_secret(fake.token)
            assert hook["url"] == f"https://desk.example/tg/{secret[:16]}"
            assert hook["secret_token"] == secret
            assert fake.token not in hook["url"]
            update = fake.make_message_update(EDITOR, text="/help")
            update["update_id"] = 1
            url = f"http://127.0.0.1:{port}/{secret[:16]}"
            forged = _wait(lambda: _post(url, update, "not-the-secret"))
            assert forged.status_code == 403
            good = _wait(lambda: _post(url, update, secret))
            assert good.status_code == 200
            reply = _wait(lambda: fake.channel_posts(EDITOR))
            assert "editors' desk" in reply[0].text and len(reply) == 1
            assert not fake.calls("getUpdates")  # webhook mode never polls
        finally:
            runner.stop()
            services.close()
        assert not runner.alive


def test_the_running_bot_sends_the_notices_workers_queued(tmp_path: Path, redis_url: str,
                                                           redis_namespace: str) -> None:
    """``serve`` runs the notice sender beside the bot, and stops it with the bot."""
    from bot.delivery.notify import Notice

    with FakeTelegram(enforce_rate_limits=False, time_scale=0.01) as fake:
        fake.add_chat(-100500, None, type="supergroup", title="Editors")
        settings = _settings(tmp_path, fake, telegram_editor_chat="-100500")
        services = Services.from_settings(settings, redis_url=redis_url,
                                          namespace=redis_namespace)
        # Queued while no bot runs (a worker elsewhere): waits in Redis until the bot is up.
        assert services.notify(Notice(kind="generic", text="queued before the bot started"))
        runner = BotThread(settings, services, enqueue=lambda key: None).start()
        try:
            (notice,) = _wait(lambda: fake.channel_posts(-100500))
            assert "queued before the bot started" in notice.text
            sender = runner.app.bot_data["notices"]
            assert sender.alive
        finally:
            runner.stop()
            services.close()
        assert not runner.alive and not sender.alive


def _post(url: str, update: dict[str, Any], secret: str) -> httpx.Response | None:
    try:
        return httpx.post(url, content=json.dumps(update), headers={
            "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})
    except httpx.TransportError:
        return None
