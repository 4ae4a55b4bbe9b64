"""``tasks.health_checks.HealthChecker``: the thread beside the lease reaper that checks every
destination at start and every HEALTH_SECONDS (real Redis, the real publishers, the fakes)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

import tasks
from bot.config import Settings
from bot.state.destination_health import HealthBook
from fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from fakes.x import FakeX
from tasks.health_checks import HealthChecker

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

CHAT_ID = -1001234567890
CHANNEL = "@newsfake"


@pytest.fixture
def fakes() -> Iterator[tuple[FakeTelegram, FakeX]]:
    with FakeTelegram(enforce_rate_limits=False) as tg, FakeX() as x:
        tg.add_chat(CHAT_ID, CHANNEL)
        yield tg, x


def _configure(tmp_path: Path, redis_url: str, fakes: tuple[FakeTelegram, FakeX],
               seconds: float) -> None:
    tg, x = fakes
    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True, exist_ok=True)
    key, secret, token, token_secret = x.credentials
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, site_dir=site, data_dir=tmp_path / "var", health_seconds=seconds,
        telegram_bot_token=DEFAULT_TOKEN, telegram_channel=CHANNEL,
        telegram_api_url=tg.base_url, x_api_key=key, x_api_secret=secret,
        x_access_token=token, x_access_token_secret=token_secret, x_api_url=x.base_url)
    tasks.configure(settings, redis_url=redis_url)


def test_checks_at_start_and_every_interval(tmp_path: Path, redis_client: redis.Redis,
                                            redis_url: str,
                                            fakes: tuple[FakeTelegram, FakeX]) -> None:
    tg, x = fakes
    _configure(tmp_path, redis_url, fakes, 0.2)
    checker = HealthChecker(0.2).start()
    assert checker is not None
    try:
        book = HealthBook(redis_client)
        deadline = time.monotonic() + 10
        while (book.get("x", "x") is None or book.get("telegram", CHANNEL) is None):
            assert time.monotonic() < deadline, "no check at start"
            time.sleep(0.05)
        tg.demote_bot(CHAT_ID, "kicked")
        while book.unhealthy_reason("telegram", CHANNEL) is None:
            assert time.monotonic() < deadline + 5, "no check after the demotion"
            time.sleep(0.05)
        assert "kicked" in (book.unhealthy_reason("telegram", CHANNEL) or "")
        assert len(x.calls("/2/users/me")) >= 2
    finally:
        checker.stop()
        tasks._close_services()


def test_zero_seconds_starts_no_thread(tmp_path: Path, redis_client: redis.Redis,
                                       redis_url: str,
                                       fakes: tuple[FakeTelegram, FakeX]) -> None:
    tg, x = fakes
    _configure(tmp_path, redis_url, fakes, 0)
    try:
        assert HealthChecker(0).start() is None
        assert tg.calls("getChatMember") == [] and x.calls("/2/users/me") == []
    finally:
        tasks._close_services()
