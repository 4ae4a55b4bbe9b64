"""Benchmark: the quick answers of the `newsbot` command, each as a new process.

Plain script, not a test: `.venv/bin/python benchmarks/bench_cli.py [RUNS]`.

Operators and scripts call `newsbot --help`, `--version` and a mistyped command all day; they
must answer at once (target: under 0.3 s), which holds only while `bot.cli` imports nothing but
typer at start (each command imports what it needs when it runs).  Beside them, in the same run,
a bare Python start (`python -c pass`, the floor of any command) and `import typer` alone (what
the CLI framework costs by itself): the ratios are what to compare between machines.
`benchmarks/bench_status.py` measures `newsbot status` while `newsbot run` is up.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NEWSBOT = str(Path(sys.executable).parent / "newsbot")
TARGET = 0.3


def timed(argv: list[str], env: dict[str, str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SITE_", "DATA_DIR", "REDIS_", "TELEGRAM_", "X_"))}
    cases = [
        ("python -c pass (floor)", [sys.executable, "-c", "pass"], None),
        ("python -c 'import typer'", [sys.executable, "-c", "import typer"], None),
        ("newsbot --version", [NEWSBOT, "--version"], TARGET),
        ("newsbot --help", [NEWSBOT, "--help"], TARGET),
        ("newsbot status --help", [NEWSBOT, "status", "--help"], TARGET),
        ("newsbot frobnicate (usage error)", [NEWSBOT, "frobnicate"], TARGET),
    ]
    with tempfile.TemporaryDirectory(prefix="newsbot-bench-cli-") as cwd:  # no .env there
        for _, argv, _ in cases:  # warm the page cache and the .pyc files
            timed(argv, env, cwd)
        # interleaved, so a burst of load on this shared machine hits every case alike
        samples: dict[str, list[float]] = {name: [] for name, _, _ in cases}
        for _ in range(runs):
            for name, argv, _ in cases:
                samples[name].append(timed(argv, env, cwd))
    floor = statistics.median(samples[cases[0][0]])
    print(f"{'case':<36} {'p50':>8} {'p90':>8} {'ratio to python start':>22}  target")
    for name, _, target in cases:
        values = sorted(samples[name])
        p50 = statistics.median(values)
        p90 = values[max(0, int(len(values) * 0.9) - 1)]
        verdict = "" if target is None else (
            f"<= {target:.1f} s {'ok' if p50 <= target else 'MISSED'}")
        print(f"{name:<36} {p50 * 1000:6.0f} ms {p90 * 1000:6.0f} ms {p50 / floor:21.1f}x  "
              f"{verdict}")


if __name__ == "__main__":
    main()
