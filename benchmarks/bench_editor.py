"""Benchmark: the editor bot answers a command within 300 ms of the update reaching it (p95).

Plain script, not a test: `.venv/bin/python benchmarks/bench_editor.py [N]` (default 100).
The real PTB Application long-polls the fake Telegram server; Redis is the embedded server (or
REDIS_URL).  Each sample is one command from an editor (a mix of /help, /status, /failed,
/audit and /push of an already-sent post, which exercises the site lookup, Redis and the audit
stream), measured from ``push_update`` to the moment the bot's sendMessage reached the fake
(the journal's request time).  The site is the demo site plus 200 generated posts.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from timescale import announce  # noqa: E402

from bot.config import load_settings  # noqa: E402
from bot.delivery.sender import deliver  # noqa: E402
from bot.delivery.services import Services  # noqa: E402
from bot.editor.app import build_application  # noqa: E402
from bot.redis_embedded import start_embedded  # noqa: E402
from fakes.telegram import FakeTelegram  # noqa: E402

CHANNEL = -1001234567890
EDITOR = 1001
TARGET_MS = 300.0
COMMANDS = ("/help", "/status", "/failed", "/audit", "/push kospi-rebound")


def build_site(root: Path, extra: int) -> None:
    shutil.copytree(REPO / "examples" / "site", root)
    sample = (root / "_posts" / "2024-10-02-kospi-rebound.md").read_text(encoding="utf-8")
    for i in range(extra):
        text = sample.replace("title: 코스피", f"title: 코스피 {i}")
        (root / "_posts" / f"2023-01-{1 + i % 28:02d}-gen-{i}.md").write_text(text, "utf-8")


def main(n: int) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="bench-editor-"))
    embedded = None
    url = os.environ.get("REDIS_URL")
    if not url:
        embedded = start_embedded(tmp / "redis")
        url = embedded.url
    fake = FakeTelegram(enforce_rate_limits=False).start()
    fake.add_chat(CHANNEL, "newsdao_bench")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    try:
        build_site(tmp / "site", 200)
        announce(0.001)
        settings = load_settings(
            site_dir=tmp / "site", data_dir=tmp / "var", telegram_bot_token=fake.token,
            telegram_api_url=fake.base_url, telegram_channel=str(CHANNEL),
            telegram_editor_ids=str(EDITOR), bot_language="en", rate_time_scale=0.001)
        services = Services.from_settings(settings, redis_url=url,
                                          namespace=f"bench{uuid.uuid4().hex[:6]}")
        app = build_application(
            settings, services,
            enqueue=lambda key: deliver(services, key, owner=uuid.uuid4().hex))

        async def start() -> None:
            await app.initialize()
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=10)

        thread.start()
        asyncio.run_coroutine_threadsafe(start(), loop).result(10)

        def one(text: str) -> float:
            before = len(fake.calls("sendMessage"))
            started = time.time()
            fake.push_update(fake.make_message_update(EDITOR, text=text))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                sends = fake.calls("sendMessage")
                if len(sends) > before:
                    return (sends[before].time - started) * 1000
                time.sleep(0.001)
            raise RuntimeError(f"no reply to {text}")

        for text in COMMANDS:  # warm-up: first push sends the post, caches fill
            one(text)
        samples = {text: [] for text in COMMANDS}
        for i in range(n):
            text = COMMANDS[i % len(COMMANDS)]
            samples[text].append(one(text))
        every = sorted(v for values in samples.values() for v in values)
        p50 = statistics.median(every)
        p95 = every[max(0, round(0.95 * len(every)) - 1)]
        print(f"editor bot: {len(every)} commands, p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
              f"max {every[-1]:.1f} ms (target p95 <= {TARGET_MS:.0f} ms)")
        for text, values in samples.items():
            values.sort()
            print(f"  {text:<22} n={len(values):3d} p50 {statistics.median(values):6.1f} ms  "
                  f"max {values[-1]:6.1f} ms")

        async def stop() -> None:
            assert app.updater is not None
            await app.updater.stop()
            await app.stop()
            await app.shutdown()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        services.close()
        return 0 if p95 <= TARGET_MS else 1
    finally:
        loop.call_soon_threadsafe(loop.stop)
        fake.stop()
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100))
