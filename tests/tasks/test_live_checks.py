"""``tasks.live_checks.LiveChecker``: the thread that looks at posts waiting for their pages.
Starting it never takes the process down (Redis not up yet), and stopping it is quick.  Its
work against a site is tested in tests/delivery/test_live.py and tests/e2e/test_live_e2e.py."""

from __future__ import annotations

import time
from pathlib import Path

from bot.config import Settings
from bot.delivery.services import Services
from fakes.telegram import DEFAULT_TOKEN
from tasks.live_checks import LiveChecker


def _services(tmp_path: Path, redis_url: str, **extra: object) -> Services:
    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True, exist_ok=True)
    (site / "_config.yml").write_text("url: https://news.example\n", encoding="utf-8")
    settings = Settings(_env_file=None, site_dir=site,  # type: ignore[call-arg]
                        data_dir=tmp_path / "var", telegram_bot_token=DEFAULT_TOKEN,
                        telegram_channel="@newsfake", **extra)
    return Services.from_settings(settings, redis_url=redis_url, namespace="livechk")


def test_a_start_without_redis_does_not_raise_and_stops_quickly(tmp_path: Path) -> None:
    svc = _services(tmp_path, "redis://127.0.0.1:1/0", wait_for_live=True)
    try:
        checker = LiveChecker(svc, lambda key: None).start()
        assert checker is not None  # the thread runs and sets itself up once Redis answers
        time.sleep(0.5)
        started = time.monotonic()
        checker.stop()
        assert time.monotonic() - started < 1.5
    finally:
        svc.close()


def test_off_means_no_thread(tmp_path: Path, redis_url: str) -> None:
    svc = _services(tmp_path, redis_url, wait_for_live=False)
    try:
        assert LiveChecker(svc, lambda key: None).start() is None
    finally:
        svc.close()
