"""Benchmark: the safety-net rescan of an unchanged N-post site (default 20,000).

Plain script, not a test: `.venv/bin/python benchmarks/bench_rescan.py [N]`.
The first scan of a site reads every post (and records the baseline); a rescan of the unchanged
site must only stat the files and parse none. Printed beside it, measured in the same run: a bare
loop that walks the folder and stats every file, the floor any rescan has to pay.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench_check import build_site
from timescale import announce

from bot.config import Settings
from bot.delivery import planner
from bot.delivery.services import Services
from bot.redis_embedded import start_embedded
from bot.sources import jekyll


def bare_stat_loop(root: Path) -> int:
    n = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            if name.endswith(".md"):
                os.stat(os.path.join(dirpath, name))
                n += 1
    return n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    announce()  # the settings below read the environment
    work = Path(tempfile.mkdtemp(prefix="newsbot-bench-rescan-"))
    parsed = 0
    real_read = jekyll.read_post

    def counting_read(*args, **kwargs):  # counts parses, changes nothing
        nonlocal parsed
        parsed += 1
        return real_read(*args, **kwargs)

    planner_read = getattr(planner, "read_post", None)
    try:
        site = work / "site"
        site.mkdir()
        build_site(site, n)
        settings = Settings(_env_file=None, site_dir=site, data_dir=work / "var")  # type: ignore[call-arg]
        with start_embedded(work / "var") as redis:
            svc = Services.from_settings(settings, redis_url=redis.url)
            if planner_read is not None:
                planner.read_post = counting_read  # type: ignore[attr-defined]
            jekyll.read_post = counting_read  # type: ignore[assignment]
            try:
                t0 = time.perf_counter()
                first = planner.scan(svc, enqueue=lambda key: None)
                t_first = time.perf_counter() - t0
                parsed_first, parsed = parsed, 0
                t0 = time.perf_counter()
                again = planner.scan(svc, enqueue=lambda key: None)
                t_again = time.perf_counter() - t0
                parsed_again = parsed
            finally:
                jekyll.read_post = real_read  # type: ignore[assignment]
                if planner_read is not None:
                    planner.read_post = planner_read  # type: ignore[attr-defined]
                svc.close()
        t0 = time.perf_counter()
        assert bare_stat_loop(site) == n
        t_bare = time.perf_counter() - t0
        assert first.files == again.files == n and again.unchanged == n, again.to_json()
        print(f"first scan of {n} posts (baseline): {t_first:.2f} s, {parsed_first} parsed")
        print(f"rescan, nothing changed:         {t_again:.2f} s, {parsed_again} parsed")
        print(f"bare walk+stat loop:             {t_bare:.2f} s")
        print(f"ratio rescan / bare loop:        {t_again / t_bare:.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
