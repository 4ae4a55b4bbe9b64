"""Benchmark: `newsbot status --json` while `newsbot run` is up on its embedded Redis.

Plain script, not a test: `.venv/bin/python benchmarks/bench_status.py [RUNS]`.

An operator (or a script polling it) runs `status` at any moment of `run`'s life; it attaches to
the running server instead of starting one.  Each run is a whole command as a user starts it
(a new process).  Beside it, in the same run: a bare Python process start (the floor any command
pays) and the first `status` of an idle data folder (which starts a server for itself).
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NEWSBOT = str(Path(sys.executable).parent / "newsbot")


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def stats(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[max(0, int(len(values) * 0.95) - 1)]
    return f"p50 {statistics.median(values) * 1000:6.0f} ms  p95 {p95 * 1000:6.0f} ms"


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    work = Path(tempfile.mkdtemp(prefix="newsbot-bench-status-"))
    site = work / "site"
    shutil.copytree(REPO / "examples" / "site", site)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "TELEGRAM_", "X_"))}
    env.update(SITE_DIR=str(site), DATA_DIR=str(work / "var"), LOG_LEVEL="WARNING")
    try:
        floor = [timed([sys.executable, "-c", "pass"], env) for _ in range(runs)]
        cold = [timed([NEWSBOT, "status", "--json"], env) for _ in range(3)]
        run = subprocess.Popen([NEWSBOT, "run"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
        try:
            time.sleep(2)
            deadline = time.monotonic() + 60
            while not (work / "var" / "redis" / "embedded.state").exists() or (
                    work / "var" / "redis" / "embedded.state").read_text().strip() != "up":
                if time.monotonic() > deadline:
                    raise SystemExit("newsbot run did not come up")
                time.sleep(0.1)
            time.sleep(8)  # let `run` finish starting (imports, first scan): measure status alone
            attached = [timed([NEWSBOT, "status", "--json"], env) for _ in range(runs)]
        finally:
            os.killpg(run.pid, signal.SIGTERM)
            run.wait(60)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(floor)
    print(f"{'case':<42} {'':>30} {'ratio to python start':>22}")
    for name, values in (("python -c pass (floor)", floor),
                         ("status, nothing running (starts a server)", cold),
                         ("status with `newsbot run` up (attaches)", attached)):
        print(f"{name:<42} {stats(values):>30} {statistics.median(values) / base:>21.1f}x")


if __name__ == "__main__":
    main()
