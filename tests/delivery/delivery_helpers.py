"""Helpers shared by the delivery and end-to-end tests (imported by name: see conftest)."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from fakes.x import FakeX

CHAT_ID = -1001234567890
CHANNEL = "@newsfake"
SITE_URL = "https://news.example"


def jpeg(size: tuple[int, int] = (800, 450)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (20, 110, 190)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def make_site(root: Path) -> Path:
    (root / "_posts").mkdir(parents=True, exist_ok=True)
    (root / "_config.yml").write_text(f"url: {SITE_URL}\ntimezone: UTC\n", encoding="utf-8")
    (root / "assets").mkdir(exist_ok=True)
    (root / "assets" / "feature.jpg").write_bytes(jpeg())
    return root


def write_post(site: Path, slug: str, when: datetime, *, title: str | None = None,
               extra: str = "", image: bool = True, body: str = "Body text.") -> Path:
    """A post file; bumps the mtime so a rewrite within the same tick is still a change."""
    path = site / "_posts" / f"{when:%Y-%m-%d}-{slug}.md"
    front = [
        "---",
        f"title: {title or 'Story ' + slug}",
        f"date: {when.astimezone(UTC):%Y-%m-%d %H:%M:%S} +0000",
        "tags: [ai, news]",
        "excerpt: A short excerpt about " + slug + ".",
    ]
    if image:
        front += ["image: /assets/feature.jpg", "image_alt: Blue test picture"]
    if extra:
        front.append(extra)
    front.append("---")
    existed = path.exists()
    old = path.stat().st_mtime_ns if existed else 0
    path.write_text("\n".join(front) + "\n\n" + body + "\n", encoding="utf-8")
    if existed:
        new = max(path.stat().st_mtime_ns, old + 1_000_000)
        os.utime(path, ns=(new, new))
    return path


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def hours_ago(h: float) -> datetime:
    return now_utc() - timedelta(hours=h)


def live_env(fake_tg: FakeTelegram, fake_x: FakeX) -> dict[str, Any]:
    key, secret, token, token_secret = fake_x.credentials
    return {
        "telegram_bot_token": DEFAULT_TOKEN,
        "telegram_channel": CHANNEL,
        "telegram_api_url": fake_tg.base_url,
        "x_api_key": key,
        "x_api_secret": secret,
        "x_access_token": token,
        "x_access_token_secret": token_secret,
        "x_api_url": fake_x.base_url,
    }




def queued_post(svc: Any, site: Path, slug: str = "news") -> dict[str, str]:
    """Baseline an empty site, drop one post, scan: platform -> queued record key."""
    from bot.delivery.planner import scan

    scan(svc, enqueue=Queue())
    write_post(site, slug, now_utc() - timedelta(minutes=2), title=f"Big news {slug}")
    queue = Queue()
    scan(svc, enqueue=queue)
    return {svc.state.get_by_key(k).platform: k for k in queue.keys}


class Queue:
    """The enqueue callback tests pass: remembers record keys in order."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, key: str) -> None:
        self.keys.append(key)


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition",
             interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy (returned) or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
