"""Delivery benchmark (not a test): prints figures for the README.

1. latency: a post file written into the site -> the fake server receives the send, over 50 posts
   (`newsbot run`, embedded Redis, file events on, both platforms live against the fakes);
2. backlog: 300 posts against a fake channel that enforces 20/min (time scaled down in the fake
   and, by RATE_TIME_SCALE, in our limiter): 429s seen and drain time against the limit's bound;
3. memory: resident memory of `newsbot run` (all processes, idle) on the demo site, dry run.

Run: .venv/bin/python benchmarks/bench_delivery.py [--posts 50] [--backlog 300] [--scale 0.05]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from timescale import announce

from fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from fakes.x import FakeX

ROOT = Path(__file__).resolve().parents[1]
NEWSBOT = str(Path(sys.executable).parent / "newsbot")
CHANNEL = "@benchchannel"
CHAT_ID = -1009876543210


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.005) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(every)


def make_site(root: Path) -> Path:
    (root / "_posts").mkdir(parents=True)
    (root / "assets").mkdir()
    (root / "_config.yml").write_text("url: https://bench.example\ntimezone: UTC\n")
    buf = io.BytesIO()
    Image.new("RGB", (1200, 675), (30, 90, 160)).save(buf, "JPEG", quality=85)
    (root / "assets" / "feature.jpg").write_bytes(buf.getvalue())
    return root


def post_text(title: str, when: datetime, image: bool) -> str:
    lines = ["---", f"title: {title}", f"date: {when:%Y-%m-%d %H:%M:%S} +0000",
             "tags: [bench]", f"excerpt: Excerpt of {title}."]
    if image:
        lines += ["image: /assets/feature.jpg", "image_alt: A blue rectangle"]
    return "\n".join([*lines, "---", "", "Body.", ""])


def write_post(site: Path, slug: str, title: str, *, image: bool = True) -> float:
    when = datetime.now(UTC) - timedelta(minutes=1)
    path = site / "_posts" / f"{when:%Y-%m-%d}-{slug}.md"
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(post_text(title, when, image))
    started = time.time()
    os.replace(tmp, path)  # atomic, like an editor or a git checkout
    return started


class Run:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.log = workdir / "run.log"
        handle = open(self.log, "wb")  # noqa: SIM115
        base = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "LANG": "C.UTF-8",
                "NO_PROXY": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING",
                "WAIT_FOR_LIVE": "false"}  # the site URL is not served here: bench_live.py
        self.proc = subprocess.Popen([NEWSBOT, "run"], cwd=workdir, env={**base, **env},
                                     stdout=handle, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        handle.close()
        self.data = Path(env["DATA_DIR"])

    def wait_ready(self) -> None:
        """Ready when the baseline of the (possibly empty) site is recorded."""
        import redis

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise SystemExit("newsbot run exited:\n" + self.log.read_text()[-2000:])
            pid_file = self.data / "redis" / "embedded.pid"
            if not pid_file.exists():
                return False
            port = int(pid_file.read_text().split()[1])
            secret = self.data / "redis" / "password"  # the embedded server requires it
            password = secret.read_text().strip() if secret.exists() else None
            client = redis.Redis(port=port, password=password, decode_responses=True)
            try:
                return bool(client.keys("newsbot:site:*:baseline")) and bool(
                    client.hlen("newsbot:heartbeat"))
            except redis.RedisError:
                return False
            finally:
                client.close()

        wait_for(ready, 60, "newsbot run to be ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def bench_latency(posts: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    site = make_site(work / "site")
    scaled = announce(0.01)
    tg = FakeTelegram(time_scale=0.01).start()
    tg.add_chat(CHAT_ID, CHANNEL)
    fx = FakeX(time_scale=0.01, user_24h_limit=10_000).start()
    key, secret, token, token_secret = fx.credentials
    env = {"SITE_DIR": str(site), "DATA_DIR": str(work / "var"), **scaled,
           "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN, "TELEGRAM_CHANNEL": CHANNEL,
           "TELEGRAM_API_URL": tg.base_url, "X_API_KEY": key, "X_API_SECRET": secret,
           "X_ACCESS_TOKEN": token, "X_ACCESS_TOKEN_SECRET": token_secret,
           "X_API_URL": fx.base_url}
    run = Run(work, env)
    try:
        run.wait_ready()
        time.sleep(3)
        idle_live = _tree_memory(run.proc.pid)
        tg_lat: list[float] = []
        x_lat: list[float] = []
        for i in range(posts):
            written = write_post(site, f"lat-{i}", f"Latency post {i}")
            wait_for(lambda i=i: len(tg.calls("sendPhoto")) > i and len(fx.posts) > i, 30,
                     f"post {i}")
            tg_lat.append(tg.calls("sendPhoto")[i].time - written)
            x_lat.append(fx.posts[i].created_at - written)
            time.sleep(0.1)
        both = [max(a, b) for a, b in zip(tg_lat, x_lat, strict=True)]
        print(f"latency over {posts} posts (file written -> fake server receives the send):")
        for name, values in (("telegram", tg_lat), ("x", x_lat), ("both done", both)):
            print(f"  {name:10s} p50 {statistics.median(values):.3f} s   "
                  f"p95 {pct(values, 95):.3f} s   max {max(values):.3f} s")
        print(f"  photos {len(tg.channel_posts(CHANNEL))}, X posts {len(fx.posts)}, "
              f"telegram 429s {tg.count_429}, X 429s {fx.count_429}")
        busy = _tree_memory(run.proc.pid)
        print(f"  memory, live mode (both platforms): idle RSS {idle_live[0]:.1f} MB "
              f"(PSS {idle_live[1]:.1f} MB); after {posts} sends RSS {busy[0]:.1f} MB "
              f"(PSS {busy[1]:.1f} MB)")
    finally:
        run.stop()
        tg.stop()
        fx.stop()
        shutil.rmtree(work, ignore_errors=True)


def bench_backlog(count: int, scale: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-backlog-"))
    site = make_site(work / "site")
    scaled = announce(scale)
    tg = FakeTelegram(time_scale=scale).start()  # enforces 1/s per chat and 20/min per channel
    tg.add_chat(CHAT_ID, CHANNEL)
    env = {"SITE_DIR": str(site), "DATA_DIR": str(work / "var"), **scaled,
           "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN, "TELEGRAM_CHANNEL": CHANNEL,
           "TELEGRAM_API_URL": tg.base_url}
    run = Run(work, env)
    try:
        run.wait_ready()
        for i in range(count):
            write_post(site, f"backlog-{i:04d}", f"Backlog post {i}", image=False)
        wait_for(lambda: len(tg.channel_posts(CHANNEL)) >= count, 600, "the backlog to drain",
                 every=0.25)
        time.sleep(1.0)
        sends = [c.time for c in tg.journal
                 if c.method.lower() in ("sendmessage", "sendphoto") and c.status == 200]
        drain = max(sends) - min(sends)
        per_minute, window, per_second = 20, 60.0 * scale, 1.0 * scale
        full_windows = -(-count // per_minute) - 1
        bound = full_windows * window + (min(count, per_minute) - 1) * per_second
        print(f"backlog of {count} posts, channel limit 20/min and 1/s, time scale {scale}:")
        t0 = min(sends)
        for c in tg.journal:
            if c.status == 429:
                before = [t for t in sends if t <= c.time]
                in_window = sum(1 for t in before if t > c.time - window)
                gap = c.time - max(before) if before else float("nan")
                print(f"  429 at +{c.time - t0:.3f} s: {in_window} accepted in the window "
                      f"before it, {gap * 1000:.0f} ms after the previous send")
        print(f"  delivered {len(tg.channel_posts(CHANNEL))}, 429s {tg.count_429}")
        print(f"  drain time {drain:.2f} s (first to last send); bound {bound:.2f} s; "
              f"ratio {drain / bound:.3f} (real-time equivalent {drain / scale / 60:.1f} min "
              f"vs {bound / scale / 60:.1f} min)")
    finally:
        run.stop()
        tg.stop()
        shutil.rmtree(work, ignore_errors=True)


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(Path(entry, "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _tree_memory(root: int) -> tuple[float, float]:
    pids = _descendants(root)
    return (sum(_rss_kb(p) for p in pids) / 1024, sum(_pss_kb(p) for p in pids) / 1024)


def bench_memory(idle_seconds: float) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    shutil.copytree(ROOT / "examples" / "site", work / "site")
    run = Run(work, {"SITE_DIR": str(work / "site"), "DATA_DIR": str(work / "var")})
    try:
        run.wait_ready()
        time.sleep(idle_seconds)
        pids = _descendants(run.proc.pid)
        rows = []
        for pid in pids:
            try:
                name = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            rows.append((pid, name, _rss_kb(pid), _pss_kb(pid)))
        print(f"`newsbot run` on examples/site (dry run), idle {idle_seconds:.0f} s:")
        for pid, name, rss, pss in rows:
            print(f"  pid {pid:7d} {name:16s} RSS {rss / 1024:6.1f} MB  PSS {pss / 1024:6.1f} MB")
        print(f"  total RSS {sum(r[2] for r in rows) / 1024:.1f} MB, "
              f"total PSS {sum(r[3] for r in rows) / 1024:.1f} MB (target <= 250 MB)")
    finally:
        run.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--backlog", type=int, default=300)
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument("--only", choices=("latency", "backlog", "memory"))
    args = parser.parse_args()
    if args.only in (None, "latency"):
        bench_latency(args.posts)
    if args.only in (None, "backlog"):
        bench_backlog(args.backlog, args.scale)
    if args.only in (None, "memory"):
        bench_memory(args.idle)


if __name__ == "__main__":
    main()
