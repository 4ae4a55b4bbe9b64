"""Benchmark: `newsbot check` over a generated N-post Jekyll site (default 20,000).

Plain script, not a test: `.venv/bin/python benchmarks/bench_check.py [N]`.
Target: <= 15 s cold (a fresh `newsbot check --json` process). Printed beside it, measured in
the same run, is the baseline this machine sets: a fresh Python process that only walks the
folder and reads every file, so the ratio stays meaningful on a noisy machine.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timescale import announce

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "examples/site/_posts/2024-08-07-exaone-3-open-source.md"

BARE_LOOP = """
import os, sys
n = 0
for dirpath, dirnames, filenames in os.walk(sys.argv[1]):
    for name in filenames:
        if name.endswith(".md"):
            with open(os.path.join(dirpath, name), "rb") as fh:
                fh.read().decode("utf-8")
            n += 1
print(n)
"""


def build_site(root: Path, n: int) -> None:
    """Posts shaped like the real blog: half carry a front-matter excerpt, half need the body."""
    head, body = SAMPLE.read_text(encoding="utf-8").split("\n---\n", 1)
    (root / "_config.yml").write_text(
        "url: https://newsdao.kr\ntimezone: Asia/Seoul\n"
        "permalink: /:categories/:year/:month/:day/:title:output_ext\n",
        encoding="utf-8",
    )
    rnd = random.Random(1)
    for i in range(n):
        folder = root / ["", "tech/", "news/world/"][i % 3] / "_posts"
        folder.mkdir(parents=True, exist_ok=True)
        y, m, d = 2015 + i % 10, 1 + i % 12, 1 + rnd.randrange(28)
        if i % 2:
            text = (
                head.replace("AI LG", f"AI LG {i}")
                + f"\ndate: {y}-{m:02d}-{d:02d} 09:{i % 60:02d}:00 +0900"
                + f"\ntags: [AI, LG, n{i}]\n---\n"
                + body
            )
        else:
            text = f'---\ntitle: "기사 {i}: 제목"\ncategories: [경제]\n---\n' + body
        (folder / f"{y}-{m:02d}-{d:02d}-post-{i}.md").write_text(text, encoding="utf-8")


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    return time.perf_counter() - t0, run


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    announce()  # `newsbot check` inherits this environment
    root = Path(tempfile.mkdtemp(prefix="newsbot-bench-site-"))
    try:
        build_site(root, n)
        newsbot = [sys.executable, "-m", "bot", "check", "--json", "--site", str(root)]
        bare = [sys.executable, "-c", BARE_LOOP, str(root)]
        timed(bare)  # warm the page cache once so both sides read from memory
        results = []
        for _ in range(2):
            t_bare, run = timed(bare)
            assert int(run.stdout) == n, run.stdout
            t_check, run = timed(newsbot)
            assert run.returncode == 0, run.stderr[-2000:]
            results.append((t_check, t_bare))
        t_check, t_bare = min(results)
        print(f"newsbot check over {n} posts: {t_check:.2f} s (target <= 15 s)")
        print(f"bare walk+read loop:           {t_bare:.2f} s")
        print(f"ratio check / bare loop:       {t_check / t_bare:.1f}x")
        print(f"per post:                      {t_check / n * 1000:.3f} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
