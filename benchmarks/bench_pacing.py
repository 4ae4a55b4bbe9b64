"""Pacing benchmark (not a test): the burst figure of issue 11, printed for the README.

20 posts land while newsbot is stopped (an outage); `newsbot run` (embedded Redis, a real worker
and the tick) starts with all of them due, against the fake Telegram (enforcing its flood limits)
and the fake X, both time-scaled, with MAX_PER_HOUR=6 and MIN_SPACING_SECONDS=300 (so both
bind: six go 5.5 min apart, the seventh waits for the first to leave the hour).  A breaking
post due a few seconds into the catch-up has its records marked ``breaking="1"`` (what the
breaking lane's planner does for front matter ``breaking: true``) while it waits for its time.

Printed per platform: sends and the catch-up's length (first to last paced send, as real time),
the most in any (scaled) hour, the smallest gap (as real time: the 50 ms jitter allowance is not
scaled, so it adds 30 s at the default scale), whether the backlog went newest first
(BACKLOG_ORDER), the breaking post's delay after coming due and how many paced posts were still
waiting then; 429s of both fakes.

Run: .venv/bin/python benchmarks/bench_pacing.py [--posts 20] [--cap 6] [--scale 0.001667]
"""

from __future__ import annotations

import argparse
import itertools
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench_delivery import CHANNEL, CHAT_ID, Run, make_site, post_text, wait_for
from timescale import announce

from bot.state import State
from fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from fakes.x import FakeX


def _write(site: Path, slug: str, title: str, when: datetime) -> None:
    path = site / "_posts" / f"{when:%Y-%m-%d}-{slug}.md"
    path.write_text(post_text(title, when, False))


def _story(text: str) -> str:
    found = re.search(r"Story (\d\d)", text)
    return found.group(1) if found else "breaking"


def _most_in_any(times: list[float], window: float) -> int:
    times = sorted(times)
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


def _state(data: Path) -> State:
    import redis

    port = int((data / "redis" / "embedded.pid").read_text().split()[1])
    secret = data / "redis" / "password"
    password = secret.read_text().strip() if secret.exists() else None
    return State(redis.Redis(port=port, password=password, decode_responses=True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=20)
    ap.add_argument("--cap", type=int, default=6)
    ap.add_argument("--spacing", type=float, default=300.0, help="MIN_SPACING_SECONDS")
    ap.add_argument("--scale", type=float, default=1 / 600)
    ap.add_argument("--breaking-after", type=float, default=12.0,
                    help="wall seconds after the restart at which the breaking post is due")
    args = ap.parse_args()
    env_scale = announce(args.scale)
    hour = 3600 * args.scale
    with tempfile.TemporaryDirectory() as tmp, \
            FakeTelegram(time_scale=args.scale) as tg, FakeX(time_scale=args.scale) as x:
        tg.add_chat(CHAT_ID, CHANNEL)
        work = Path(tmp)
        site = make_site(work / "site")
        key, secret, token, token_secret = x.credentials
        env = {"SITE_DIR": str(site), "DATA_DIR": str(work / "var"),
               "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN, "TELEGRAM_CHANNEL": CHANNEL,
               "TELEGRAM_API_URL": tg.base_url, "X_API_KEY": key, "X_API_SECRET": secret,
               "X_ACCESS_TOKEN": token, "X_ACCESS_TOKEN_SECRET": token_secret,
               "X_API_URL": x.base_url, "MAX_PER_HOUR": str(args.cap),
               "MIN_SPACING_SECONDS": f"{args.spacing:g}", "HEALTH_SECONDS": "0",
               "SCAN_SECONDS": "3600", **env_scale}
        run = Run(work, env)
        run.wait_ready()
        run.stop()  # the outage: posts land while nothing runs
        first = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
        for i in range(args.posts):
            _write(site, f"p{i:02d}", f"Story {i:02d}", first + timedelta(minutes=i))
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=args.breaking_after)
        _write(site, "zz-breaking", "Breaking story", due)
        started = time.time()
        run = Run(work, env)
        try:
            run.wait_ready()
            state = _state(work / "var")
            held = wait_for(lambda: [r for r in state.records(state="waiting")
                                     if r.post.endswith("/zz-breaking.html")], 60,
                            "the breaking post's records")
            for rec in held:
                state.transition(*rec.ref, "waiting", "waiting", breaking="1",
                                 scheduled_at=rec.scheduled_at)
            total = 2 * (args.posts + 1)
            wait_for(lambda: len(state.records(state="sent")) == total,
                     60 + 3 * hour * args.posts / args.cap, "every send", every=0.05)
            took = time.time() - started
        finally:
            run.stop()
        sends = {
            "telegram": sorted((c.time, _story(str(c.params.get("text", ""))))
                               for c in itertools.chain(tg.calls("sendMessage"))
                               if c.status == 200),
            "x": sorted((p.created_at, _story(p.text)) for p in x.posts),
        }
        print(f"burst: {args.posts} posts due at once after an outage, MAX_PER_HOUR={args.cap}, "
              f"MIN_SPACING_SECONDS={args.spacing:g}, BACKLOG_ORDER=newest; a breaking post due "
              f"{args.breaking_after:g} s into the catch-up")
        for platform, got in sends.items():
            paced = [(t, s) for t, s in got if s != "breaking"]
            times = [t for t, _ in paced]
            gaps = [b - a for a, b in itertools.pairwise(times)]
            names = [s for _, s in paced[1:]]
            b_at = [t for t, s in got if s == "breaking"]
            late = (b_at[0] - due.timestamp()) if b_at else float("nan")
            behind = sum(1 for t in times if b_at and t > b_at[0])
            span_h = (times[-1] - times[0]) / args.scale / 3600 if times else 0.0
            print(f"  {platform}: {len(paced)} paced sends over {span_h:.2f} h (real-time "
                  f"equivalent, first to last), at most "
                  f"{_most_in_any(times, hour)} in any hour (cap {args.cap}), smallest gap "
                  f"{min(gaps) / args.scale:.0f} s (minimum {args.spacing:g} s), the "
                  f"{args.cap + 1}th {(times[args.cap] - times[0]) / args.scale / 60:.1f} min "
                  f"after the 1st, newest first "
                  f"after the first: {names == sorted(names, reverse=True)}; breaking post "
                  f"{late:.2f} s after coming due (wall), {behind} paced posts still waiting")
        print(f"  429s: Telegram {tg.count_429}, X {x.count_429}; {took:.1f} s wall from the "
              f"restart to the last send (newsbot's start included)")


if __name__ == "__main__":
    main()
