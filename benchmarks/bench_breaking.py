"""Breaking-lane benchmark (not a test): prints figures for the README.

`newsbot run` (embedded Redis, Celery worker and beat, file events) against the fakes at real
time (Telegram's 1/s and 20/min enforced), QUIET_HOURS laid around now, PIN_BREAKING on.

* baseline: a lone breaking post on an idle queue, file written -> the fake receives sendPhoto;
* per round: a burst of 20 normal posts is written, then one breaking post: the breaking post's
  file written -> the fake receives it.  MIN_SPACING_SECONDS=600 paces the burst (it stands in
  for the pacing caps, MAX_PER_HOUR, built apart): the burst waits, the breaking post does not;
* quiet hours: normal posts the channel received with a notification inside the window (0).

Run: .venv/bin/python benchmarks/bench_breaking.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_delivery import CHANNEL, CHAT_ID, Run, make_site, pct, post_text, wait_for
from timescale import announce

from fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from fakes.x import FakeX


def write(site: Path, slug: str, title: str, extra: str = "") -> float:
    when = datetime.now(UTC) - timedelta(minutes=1)
    path = site / "_posts" / f"{when:%Y-%m-%d}-{slug}.md"
    text = post_text(title, when, True)
    if extra:
        text = text.replace("\n---\n", f"\n{extra}\n---\n", 1)
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text)
    started = time.time()
    os.replace(tmp, path)
    return started


def arrival(tg: FakeTelegram, title: str, timeout: float = 60.0) -> float:
    def found() -> float | None:
        for call in tg.calls("sendPhoto"):
            if call.status == 200 and title in str(call.params.get("caption", "")):
                return call.time
        return None

    return wait_for(found, timeout, f"{title} in the channel")


class Setup:
    """One `newsbot run` against fresh fakes, a fresh site and data folder."""

    def __init__(self, extra: dict[str, str]) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="bench-breaking-"))
        self.site = make_site(self.work / "site")
        self.tg = FakeTelegram().start()
        self.tg.add_chat(CHAT_ID, CHANNEL)
        self.fx = FakeX().start()
        key, secret, token, token_secret = self.fx.credentials
        env = {"SITE_DIR": str(self.site), "DATA_DIR": str(self.work / "var"),
               "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN, "TELEGRAM_CHANNEL": CHANNEL,
               "TELEGRAM_API_URL": self.tg.base_url, "X_API_KEY": key,
               "X_API_SECRET": secret, "X_ACCESS_TOKEN": token,
               "X_ACCESS_TOKEN_SECRET": token_secret, "X_API_URL": self.fx.base_url, **extra}
        self.run = Run(self.work, env)

    def close(self) -> None:
        self.run.stop()
        self.tg.stop()
        self.fx.stop()
        shutil.rmtree(self.work, ignore_errors=True)


def quiet_figure(quiet: str, posts: int) -> None:
    """Normal posts written inside the window: how many reached the channel notifying."""
    setup = Setup({"QUIET_HOURS": quiet})
    try:
        setup.run.wait_ready()
        for i in range(posts):
            write(setup.site, f"night-{i:02d}", f"Night {i:02d}")
        wait_for(lambda: len(setup.tg.channel_posts(CHAT_ID)) >= posts, 300,
                 "the night posts", every=0.1)
        sent = setup.tg.channel_posts(CHAT_ID)
        loud = [m for m in sent if not m.disable_notification]
        held = len(setup.fx.posts)
        print(f"  quiet hours: {len(loud)} of {len(sent)} normal posts reached the channel "
              f"with a notification inside the window (target 0); X posts sent {held} of "
              f"{posts} (QUIET_X=hold); telegram 429s {setup.tg.count_429}")
    finally:
        setup.close()


def breaking_figure(quiet: str, rounds: int) -> None:
    setup = Setup({"QUIET_HOURS": quiet, "PIN_BREAKING": "true", "MIN_SPACING_SECONDS": "600"})
    tg, site = setup.tg, setup.site
    try:
        setup.run.wait_ready()
        time.sleep(2)
        written = write(site, "lone", "Lone breaking", "breaking: true")
        baseline = arrival(tg, "Lone breaking") - written
        time.sleep(1.5)
        latencies = []
        for r in range(rounds):
            for i in range(20):
                write(site, f"burst-{r}-{i:02d}", f"Burst {r}-{i:02d}")
            time.sleep(1.0)  # the burst is planned and handed to the worker first
            title = f"Breaking {r}"
            written = write(site, f"breaking-{r}", title, "breaking: true")
            latencies.append(arrival(tg, title) - written)
            time.sleep(1.5)
        posts = tg.channel_posts(CHAT_ID)
        breaking = [m for m in posts if "reaking" in (m.caption or "")]
        notifying = sum(1 for m in breaking if not m.disable_notification)
        print(f"  baseline, a lone breaking post on an idle queue: {baseline:.3f} s")
        print(f"  breaking behind a burst of 20 (MIN_SPACING_SECONDS=600 paces the burst), "
              f"written -> channel over {rounds} rounds: p50 {statistics.median(latencies):.3f}"
              f" s, p95 {pct(latencies, 95):.3f} s, max {max(latencies):.3f} s (target <= 2 s)")
        print(f"  breaking posts notifying inside quiet hours: {notifying} of {len(breaking)}; "
              f"pinned now: {tg.pinned(CHAT_ID)}; telegram 429s {tg.count_429}")
    finally:
        setup.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--posts", type=int, default=20)
    args = parser.parse_args()
    announce()  # real time: nothing scaled
    now = datetime.now(UTC)
    quiet = f"{now - timedelta(hours=2):%H:%M}-{now + timedelta(hours=2):%H:%M}"
    print(f"quiet hours and breaking lane (QUIET_HOURS {quiet} UTC, around now; real time):")
    quiet_figure(quiet, args.posts)
    breaking_figure(quiet, args.rounds)


if __name__ == "__main__":
    main()
