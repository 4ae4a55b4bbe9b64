"""Live-to-post benchmark (not a test): prints the figure for README's Benchmarks table.

A real `newsbot run` (embedded Redis, Celery worker, file watcher, the live checker thread) with
WAIT_FOR_LIVE=true against the fakes of Telegram and X and a local HTTP server playing the site
(fakes/site.py).  100 post files land, one every --spacing seconds; each one's page answers 404
until a random moment 5 to 300 s after its file landed (times --live-scale, said in the output),
then 200 with the post's title.  Measured: from the page's first 200 to the fake channel
receiving the send (p50/p95/max per platform), and how many sends reached a channel while their
page still answered 404 (must be 0).

Run: .venv/bin/python benchmarks/bench_live.py [--posts 100] [--live-scale 0.4] [--spacing 0.3]
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_delivery import CHANNEL, CHAT_ID, Run, make_site, pct, wait_for
from timescale import announce

from fakes.site import FakeSite
from fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from fakes.x import FakeX

ROOT = Path(__file__).resolve().parents[1]
#: The fakes' and our limiter's rate windows, shrunk so that pacing never hides the live path.
RATE_SCALE = 0.01


def post_text(title: str, when: datetime) -> str:
    return "\n".join(["---", f"title: {title}", f"date: {when:%Y-%m-%d %H:%M:%S} +0000",
                      "tags: [bench]", f"excerpt: Excerpt of {title}.",
                      "image: /assets/feature.jpg", "image_alt: A blue rectangle",
                      "---", "", "Body.", ""])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100)
    parser.add_argument("--live-scale", type=float, default=0.4,
                        help="the 5-300 s until a page is live, times this (default 0.4)")
    parser.add_argument("--spacing", type=float, default=0.3,
                        help="seconds between two post files landing")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    work = Path(tempfile.mkdtemp(prefix="bench-live-"))
    site = make_site(work / "site")
    scaled = announce(RATE_SCALE)
    lo, hi = 5 * args.live_scale, 300 * args.live_scale
    print(f"time scaled: each page turns 200 {lo:g}-{hi:g} s after its file lands (the issue's "
          f"5-300 s x{args.live_scale:g}); LIVE_POLL_SECONDS=1 and the sends are not scaled")
    tg = FakeTelegram(time_scale=RATE_SCALE).start()
    tg.add_chat(CHAT_ID, CHANNEL)
    fx = FakeX(time_scale=RATE_SCALE, user_24h_limit=10_000).start()
    web = FakeSite().__enter__()
    web.image("/assets/feature.jpg", (site / "assets" / "feature.jpg").read_bytes())
    key, secret, token, token_secret = fx.credentials
    env = {"SITE_DIR": str(site), "DATA_DIR": str(work / "var"), **scaled,
           "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN, "TELEGRAM_CHANNEL": CHANNEL,
           "TELEGRAM_API_URL": tg.base_url, "X_API_KEY": key, "X_API_SECRET": secret,
           "X_ACCESS_TOKEN": token, "X_ACCESS_TOKEN_SECRET": token_secret,
           "X_API_URL": fx.base_url, "SITE_URL": web.base_url,
           "IMAGE_ALLOW_PRIVATE_HOSTS": "true", "HEALTH_SECONDS": "0", "WAIT_FOR_LIVE": "true"}
    run = Run(work, {**env})
    titles: dict[str, str] = {}  # page path -> title
    timers: list[threading.Timer] = []
    started = time.time()
    try:
        run.wait_ready()
        when = datetime.now(UTC) - timedelta(minutes=1)
        for i in range(args.posts):
            slug = f"live-{i:03d}"
            title = f"Live post {i:03d} arrives"
            path = f"/{when:%Y/%m/%d}/{slug}.html"
            titles[path] = title
            delay = rng.uniform(lo, hi)
            timer = threading.Timer(delay, web.page, args=(path, title))
            timer.daemon = True
            file = site / "_posts" / f"{when:%Y-%m-%d}-{slug}.md"
            tmp = file.with_name("." + file.name + ".tmp")
            tmp.write_text(post_text(title, when))
            tmp.replace(file)  # the file lands
            timer.start()
            timers.append(timer)
            time.sleep(args.spacing)
        wait_for(lambda: len(tg.calls("sendPhoto")) >= args.posts and len(fx.posts) >= args.posts,
                 hi + 120, "every post on both platforms", every=0.25)
        time.sleep(1.0)
        missing = [p for p in titles if not web.requests(p)]
        if missing:
            seen = sorted({r.path for r in web.requests()})[:5]
            raise SystemExit(f"the bot never asked for {missing[:3]} (it asked for {seen}); "
                             "check the permalink")
        by_title = {t: p for p, t in titles.items()}
        tg_lat, x_lat, early = [], [], 0
        for call in tg.calls("sendPhoto"):
            if call.status != 200:
                continue
            text = str(call.params.get("caption", ""))
            path = next((p for t, p in by_title.items() if t in text), None)
            live = web.live_since(path) if path else None
            if live is None or call.time < live:
                early += 1
                continue
            tg_lat.append(call.time - live)
        for post in fx.posts:
            path = next((p for t, p in by_title.items() if t in post.text), None)
            live = web.live_since(path) if path else None
            if live is None or post.created_at < live:
                early += 1
                continue
            x_lat.append(post.created_at - live)
        pages = [r for r in web.requests() if not r.path.startswith("/assets/")]
        print(f"live-to-post over {args.posts} posts (page's first 200 -> fake channel receives "
              f"the send), `newsbot run`, WAIT_FOR_LIVE=true, run took "
              f"{time.time() - started:.0f} s:")
        for name, values, bound in (("telegram", tg_lat, 1.5), ("x", x_lat, 2.0)):
            print(f"  {name:9s} p50 {statistics.median(values):.3f} s   p95 "
                  f"{pct(values, 95):.3f} s   max {max(values):.3f} s   (bound {bound} s) "
                  f"{'OK' if pct(values, 95) <= bound else 'OVER'}")
        print(f"  sends that reached a channel while the page was not 200: {early}")
        print(f"  page requests seen by the site: {len(pages)} "
              f"({sum(1 for r in pages if r.status == 404)} answered 404, "
              f"{sum(1 for r in pages if r.status == 304)} answered 304)")
        return 0 if early == 0 else 1
    finally:
        for timer in timers:
            timer.cancel()
        run.stop()
        web.close()
        tg.stop()
        fx.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
