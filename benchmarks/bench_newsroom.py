"""Newsroom benchmark (not a test): the two combined figures of issue 11, printed for the README.

Both parts run a real `newsbot run` (embedded Redis, Celery worker, tick, live checker thread) with
WAIT_FOR_LIVE=true against the fakes of Telegram and X and a local site server (fakes/site.py).

(a) burst + breaking: MAX_PER_HOUR=6 on both platforms, rate windows time-scaled (RATE_TIME_SCALE,
    said in the output) so the burst stays paced during the run.  Each round: 20 normal posts land
    (their pages already 200), then a `breaking: true` post whose page answers 404 until a few
    seconds after its file landed.  Measured: the breaking page's first 200 -> the fake channel
    receiving it (Telegram and X; target <= 2 s), and how many paced posts still waited then.
(b) pushed post: the site lives in a local bare Git repository (SITE_GIT_URL) and newsbot serves
    WEBHOOK_LISTEN.  Each round commits and pushes one post, sends a signed GitHub `push` event,
    and the page turns 200 a couple of seconds after the event.  Measured: webhook -> the post's
    records planned in Redis (an upper bound of webhook -> scan start, which also holds the pull
    and the scan; target p95 < 1 s), and page's first 200 -> channel (Telegram p95 <= 1.5 s, X <=
    2 s).  Both parts count sends that reached a channel while their page was not 200 (must be 0).

Run: .venv/bin/python benchmarks/bench_newsroom.py [--rounds 5] [--pushes 15]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_delivery import CHANNEL, CHAT_ID, Run, make_site, pct, wait_for
from bench_live import post_text
from bench_pacing import _state
from timescale import announce

from bot.webhook import github_signature
from fakes.site import FakeSite
from fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from fakes.x import FakeX

ROOT = Path(__file__).resolve().parents[1]
SECRET = "whsec-BENCH-fake-secret-not-real-newsroom-0123"
#: Part (a): an hour of pacing is 60 s wall, so a burst of 20 at 6/hour stays paced for minutes.
PACE_SCALE = 1 / 60
#: Part (b): the rate windows shrunk so that the rate limiter never hides the live path.
RATE_SCALE = 0.01


def _git_remote() -> Any:
    """tests/git_remote.py (a real bare repository), loaded by path as bench_webhook does."""
    spec = importlib.util.spec_from_file_location("git_remote", ROOT / "tests" / "git_remote.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Fakes:
    """Fresh fakes of Telegram, X and the site, and the environment `newsbot run` needs."""

    def __init__(self, scale: float, work: Path) -> None:
        self.tg = FakeTelegram(time_scale=scale).start()
        self.tg.add_chat(CHAT_ID, CHANNEL)
        self.fx = FakeX(time_scale=scale, user_24h_limit=10_000).start()
        self.web = FakeSite().__enter__()
        site = make_site(work / "images")
        self.jpeg = (site / "assets" / "feature.jpg").read_bytes()
        self.web.image("/assets/feature.jpg", self.jpeg)
        key, secret, token, token_secret = self.fx.credentials
        self.env = {"DATA_DIR": str(work / "var"), "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
                    "TELEGRAM_CHANNEL": CHANNEL, "TELEGRAM_API_URL": self.tg.base_url,
                    "X_API_KEY": key, "X_API_SECRET": secret, "X_ACCESS_TOKEN": token,
                    "X_ACCESS_TOKEN_SECRET": token_secret, "X_API_URL": self.fx.base_url,
                    "SITE_URL": self.web.base_url, "IMAGE_ALLOW_PRIVATE_HOSTS": "true",
                    "HEALTH_SECONDS": "0", "WAIT_FOR_LIVE": "true"}

    def arrivals(self, title: str) -> tuple[float | None, float | None]:
        """When the fake Telegram and the fake X received the post titled ``title``."""
        tg = next((c.time for c in self.tg.calls("sendPhoto")
                   if c.status == 200 and title in str(c.params.get("caption", ""))), None)
        x = next((p.created_at for p in self.fx.posts if title in p.text), None)
        return tg, x

    def both(self, title: str) -> tuple[float, float] | None:
        """Both arrival times once both platforms received ``title``, else None."""
        tg, x = self.arrivals(title)
        return (tg, x) if tg is not None and x is not None else None

    def early(self, titles: dict[str, str]) -> int:
        """Sends that reached a channel before their page's first 200 (``titles``: path->title)."""
        count = 0
        for path, title in titles.items():
            live = self.web.live_since(path)
            for at in self.arrivals(title):
                if at is not None and (live is None or at < live):
                    count += 1
        return count

    def close(self) -> None:
        self.web.close()
        self.tg.stop()
        self.fx.stop()


def _land(posts: Path, slug: str, title: str, when: datetime, extra: str = "") -> str:
    """Write a post atomically; returns its page path (the default permalink)."""
    text = post_text(title, when)
    if extra:
        text = text.replace("\n---\n", f"\n{extra}\n---\n", 1)
    file = posts / f"{when:%Y-%m-%d}-{slug}.md"
    tmp = file.with_name("." + file.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(file)
    return f"/{when:%Y/%m/%d}/{slug}.html"


def _line(name: str, values: list[float], bound: float, unit: str = "s") -> str:
    k = 1000.0 if unit == "ms" else 1.0
    p95 = pct(values, 95)
    return (f"  {name:34s} p50 {statistics.median(values) * k:.3f} {unit}   p95 {p95 * k:.3f} "
            f"{unit}   max {max(values) * k:.3f} {unit}   (bound {bound * k:g} {unit}, p95/bound "
            f"{p95 / bound:.2f}) {'OK' if p95 <= bound else 'OVER'}")


def burst_and_breaking(rounds: int, burst: int, cap: int, live_after: float) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-newsroom-a-"))
    site = make_site(work / "site")
    scaled = announce(PACE_SCALE)
    fakes = Fakes(PACE_SCALE, work)
    run = Run(work, {**fakes.env, **scaled, "SITE_DIR": str(site), "MAX_PER_HOUR": str(cap)})
    titles: dict[str, str] = {}
    tg_lat: list[float] = []
    x_lat: list[float] = []
    behind: list[int] = []
    timers: list[threading.Timer] = []
    try:
        run.wait_ready()
        state = _state(work / "var")
        for r in range(rounds):
            when = datetime.now(UTC) - timedelta(minutes=1)
            for i in range(burst):
                slug, title = f"burst-{r}-{i:02d}", f"Burst story {r}-{i:02d}"
                path = f"/{when:%Y/%m/%d}/{slug}.html"
                fakes.web.page(path, title)  # already live
                titles[_land(site / "_posts", slug, title, when)] = title
            time.sleep(1.5)  # the burst is planned and paced first
            title = f"Breaking story {r}"
            path = f"/{when:%Y/%m/%d}/breaking-{r}.html"
            titles[path] = title
            _land(site / "_posts", f"breaking-{r}", title, when, "breaking: true")
            timer = threading.Timer(live_after, fakes.web.page, args=(path, title))
            timer.daemon = True
            timer.start()
            timers.append(timer)
            got = wait_for(lambda t=title: fakes.both(t), live_after + 30,
                           f"{title} on both platforms", every=0.02)
            live = fakes.web.live_since(path)
            assert live is not None
            tg_lat.append(got[0] - live)
            x_lat.append(got[1] - live)
            behind.append(sum(1 for rec in state.records(state="waiting")
                              if "/burst-" in rec.post))
            time.sleep(1.0)
        early = fakes.early(titles)
        sent = sum(1 for c in fakes.tg.calls("sendPhoto") if c.status == 200)
        print(f"(a) {rounds} rounds of {burst} normal posts (pages live) then a breaking post "
              f"whose page turns 200 {live_after:g} s after its file lands; MAX_PER_HOUR={cap} "
              f"(an hour is {3600 * PACE_SCALE:g} s wall), WAIT_FOR_LIVE=true, "
              "LIVE_POLL_SECONDS=1:")
        print(_line("breaking page 200 -> telegram", tg_lat, 2.0))
        print(_line("breaking page 200 -> x", x_lat, 2.0))
        print(f"  paced burst posts still waiting when each breaking post arrived: {behind} "
              f"(records); telegram sends by the end {sent}; 429s Telegram "
              f"{fakes.tg.count_429}, X {fakes.fx.count_429}")
        print(f"  sends that reached a channel while their page was not 200: {early}")
        ok = early == 0 and max(tg_lat + x_lat) <= 2.0 and min(behind) > 0
        return 0 if ok else 1
    finally:
        for timer in timers:
            timer.cancel()
        run.stop()
        fakes.close()
        shutil.rmtree(work, ignore_errors=True)


def pushed_posts(pushes: int, live_after: float) -> int:
    work = Path(tempfile.mkdtemp(prefix="bench-newsroom-b-"))
    scaled = announce(RATE_SCALE)
    fakes = Fakes(RATE_SCALE, work)
    remote = _git_remote().Remote(work / "git")
    (remote.work / "assets").mkdir()
    (remote.work / "assets" / "feature.jpg").write_bytes(fakes.jpeg)
    remote.commit("assets")
    port = _free_port()
    run = Run(work, {**fakes.env, **scaled, "SITE_GIT_URL": remote.url,
                     "WEBHOOK_LISTEN": f"127.0.0.1:{port}", "WEBHOOK_SECRET": SECRET})
    body = json.dumps({"ref": "refs/heads/main", "repository": {"default_branch": "main"}}).encode()
    titles: dict[str, str] = {}
    planned: list[float] = []
    tg_lat: list[float] = []
    x_lat: list[float] = []
    timers: list[threading.Timer] = []
    try:
        run.wait_ready()
        state = _state(work / "var")
        for i in range(pushes):
            when = datetime.now(UTC) - timedelta(minutes=1)
            slug, title = f"pushed-{i:02d}", f"Pushed story {i:02d}"
            path = _land(remote.work / "_posts", slug, title, when)
            titles[path] = title
            remote.commit(f"post {slug}")
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/hooks/github", data=body, method="POST",
                headers={"X-GitHub-Event": "push", "Content-Type": "application/json",
                         "X-GitHub-Delivery": f"bench-{i}-{time.time_ns()}",
                         "X-Hub-Signature-256": github_signature(SECRET, body)})
            sent = time.monotonic()
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 202, response.status
            timer = threading.Timer(live_after, fakes.web.page, args=(path, title))
            timer.daemon = True
            timer.start()
            timers.append(timer)
            wait_for(lambda s=slug: any(rec.post.endswith(f"/{s}.html")
                                        for rec in state.records()), 30,
                     f"{slug} planned", every=0.002)
            planned.append(time.monotonic() - sent)
            got = wait_for(lambda t=title: fakes.both(t), live_after + 30,
                           f"{title} on both platforms", every=0.02)
            live = fakes.web.live_since(path)
            assert live is not None
            tg_lat.append(got[0] - live)
            x_lat.append(got[1] - live)
            time.sleep(0.5)
        early = fakes.early(titles)
        print(f"(b) {pushes} posts, each committed and pushed to a bare Git remote (SITE_GIT_URL), "
              f"a signed GitHub push event to WEBHOOK_LISTEN, the page 200 {live_after:g} s "
              f"after the event; WAIT_FOR_LIVE=true, LIVE_POLL_SECONDS=1:")
        print(_line("webhook -> post planned (>= start)", planned, 1.0, "ms"))
        print(_line("page 200 -> telegram", tg_lat, 1.5))
        print(_line("page 200 -> x", x_lat, 2.0))
        print(f"  sends that reached a channel while their page was not 200: {early}")
        ok = (early == 0 and pct(planned, 95) < 1.0 and pct(tg_lat, 95) <= 1.5
              and pct(x_lat, 95) <= 2.0)
        return 0 if ok else 1
    finally:
        for timer in timers:
            timer.cancel()
        run.stop()
        fakes.close()
        shutil.rmtree(work, ignore_errors=True)


def _free_port() -> int:
    """A free local port for WEBHOOK_LISTEN (bound, read, released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="burst+breaking rounds (a)")
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--cap", type=int, default=6, help="MAX_PER_HOUR")
    parser.add_argument("--pushes", type=int, default=15, help="pushed posts (b)")
    parser.add_argument("--live-after", type=float, default=3.0,
                        help="seconds until a breaking/pushed post's page turns 200")
    parser.add_argument("--only", choices=["a", "b"])
    args = parser.parse_args()
    rc = 0
    if args.only in (None, "a"):
        rc |= burst_and_breaking(args.rounds, args.burst, args.cap, args.live_after)
    if args.only in (None, "b"):
        rc |= pushed_posts(args.pushes, args.live_after)
    return rc


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
