"""Metrics benchmark (not a test): the Metrics figure of issue 12, with numbers for the README.

`newsbot run` (embedded Redis, file events, both platforms live against the fakes) with
METRICS_LISTEN, N posts written one after another with one Telegram 429 and one X 503 injected;
then one scrape of /metrics, printed family by family and compared with what the fakes counted:

* every family present (sends, both latency histograms, queue depth, retries, rate-limit waits,
  X spend; destination health only once a connection check records it);
* sends counted = posts the fakes received, histogram counts = sends;
* the histograms' mean against the latency the fakes measured (file written -> request);
* what a scrape costs: median time of 20 scrapes (multi-process files summed, queue counted).

Run: .venv/bin/python benchmarks/bench_metrics.py [--posts 30]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from bench_delivery import CHANNEL, CHAT_ID, Run, make_site, pct, wait_for, write_post
from prometheus_client.parser import text_string_to_metric_families
from timescale import announce

from fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from fakes.x import FakeX

FAMILIES = ("newsbot_sends", "newsbot_file_to_send_seconds", "newsbot_live_to_send_seconds",
            "newsbot_queue_depth", "newsbot_broker_queue_length", "newsbot_retries",
            "newsbot_rate_limit_waits", "newsbot_rate_limit_wait_seconds",
            "newsbot_x_spend_usd", "newsbot_x_billable_calls", "newsbot_destination_healthy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrape(port: int) -> dict[str, list]:
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {f.name: f.samples for f in text_string_to_metric_families(body)}


def sample(families: dict[str, list], family: str, name: str, **labels: str) -> float:
    for s in families.get(family, []):
        if s.name == name and s.labels == labels:
            return float(s.value)
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=30)
    args = parser.parse_args()
    posts = args.posts

    work = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    site = make_site(work / "site")
    scaled = announce(0.01)
    tg = FakeTelegram(time_scale=0.01).start()
    tg.add_chat(CHAT_ID, CHANNEL)
    fx = FakeX(time_scale=0.01, user_24h_limit=10_000).start()
    key, secret, token, token_secret = fx.credentials
    port = free_port()
    env = {"SITE_DIR": str(site), "DATA_DIR": str(work / "var"), **scaled,
           "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN, "TELEGRAM_CHANNEL": CHANNEL,
           "TELEGRAM_API_URL": tg.base_url, "X_API_KEY": key, "X_API_SECRET": secret,
           "X_ACCESS_TOKEN": token, "X_ACCESS_TOKEN_SECRET": token_secret,
           "X_API_URL": fx.base_url, "METRICS_LISTEN": f"127.0.0.1:{port}"}
    run = Run(work, env)
    try:
        run.wait_ready()
        tg.fail_next("sendPhoto", status=429, retry_after=1)
        fx.fail_next("/2/tweets", status=503)
        tg_lat: list[float] = []
        x_lat: list[float] = []
        for i in range(posts):
            written = write_post(site, f"m-{i}", f"Metrics post {i}")
            wait_for(lambda i=i: len(tg.channel_posts(CHANNEL)) > i and len(fx.posts) > i,
                     60, f"post {i}")
            tg_lat.append([c for c in tg.calls("sendPhoto") if c.status == 200][i].time
                          - written)
            x_lat.append(fx.posts[i].created_at - written)
        time.sleep(0.5)
        families = scrape(port)
        timings = []
        for _ in range(20):
            t0 = time.perf_counter()
            scrape(port)
            timings.append(time.perf_counter() - t0)

        print(f"metrics after {posts} posts (one Telegram 429, one X 503 injected):")
        missing = [f for f in FAMILIES if f not in families]
        print(f"  families present {len(FAMILIES) - len(missing)}/{len(FAMILIES)}"
              + (f"; missing: {', '.join(missing)}" if missing else ""))
        for family in FAMILIES:
            for s in families.get(family, []):
                if s.name.endswith("_bucket") or s.name.endswith("_created"):
                    continue
                labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                print(f"    {s.name}{{{labels}}} {s.value:g}")
        for platform, measured, received in (("telegram", tg_lat, len(tg.channel_posts(CHANNEL))),
                                             ("x", x_lat, len(fx.posts))):
            sent = sample(families, "newsbot_sends", "newsbot_sends_total", platform=platform,
                          outcome="sent")
            count = sample(families, "newsbot_file_to_send_seconds",
                           "newsbot_file_to_send_seconds_count", platform=platform)
            total = sample(families, "newsbot_file_to_send_seconds",
                           "newsbot_file_to_send_seconds_sum", platform=platform)
            print(f"  {platform}: sends_total(sent) {sent:g} vs {received} received by the fake;"
                  f" file_to_send count {count:g}; mean {total / count:.3f} s vs measured "
                  f"(file written -> request) mean {statistics.fmean(measured):.3f} s, "
                  f"p95 {pct(measured, 95):.3f} s")
        print(f"  a scrape: median {statistics.median(timings) * 1000:.1f} ms, "
              f"max {max(timings) * 1000:.1f} ms (20 scrapes)")
    finally:
        run.stop()
        tg.stop()
        fx.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
