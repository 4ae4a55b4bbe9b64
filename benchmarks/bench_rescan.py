"""Benchmark: the safety-net rescan of an unchanged N-post site (default 20,000).

Plain script, not a test: `.venv/bin/python benchmarks/bench_rescan.py [N]`.
The first scan of a site reads every post (and records the baseline), on every CPU; beside it,
the same first scan read in the scanning process alone (SCAN_PROCESSES=1), its baseline. A rescan
of the unchanged site must only stat the files and read none; beside it, a bare loop that walks
the folder and stats every file, the floor any rescan has to pay.
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
from bot.sources.parallel import auto_processes


def bare_stat_loop(root: Path) -> int:
    n = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            if name.endswith(".md"):
                os.stat(os.path.join(dirpath, name))
                n += 1
    return n


def first_scan(site: Path, var: Path, processes: int) -> tuple[float, int, Services, object]:
    """A first run's scan on a fresh state (its own embedded server in ``var``)."""
    settings = Settings(_env_file=None, site_dir=site, data_dir=var,  # type: ignore[call-arg]
                        scan_processes=processes)
    server = start_embedded(var)
    svc = Services.from_settings(settings, redis_url=server.url)
    t0 = time.perf_counter()
    report = planner.scan(svc, enqueue=lambda key: None)
    seconds = time.perf_counter() - t0
    assert report.baseline and report.new == report.files, report.to_json()
    return seconds, report.files, svc, server


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    announce()  # the settings below read the environment
    work = Path(tempfile.mkdtemp(prefix="newsbot-bench-rescan-"))
    parsed = 0
    real_read = planner.read_in_order

    def counting_read(site_cfg, paths, **kwargs):  # counts the files read, changes nothing
        nonlocal parsed
        parsed += len(paths)
        return real_read(site_cfg, paths, **kwargs)

    planner.read_in_order = counting_read  # type: ignore[assignment]
    try:
        site = work / "site"
        site.mkdir()
        build_site(site, n)
        t_serial, _, svc, server = first_scan(site, work / "var-serial", 1)
        svc.close()
        server.stop()  # type: ignore[attr-defined]
        parsed = 0
        t_first, _, svc, server = first_scan(site, work / "var", 0)
        try:
            parsed_first, parsed = parsed, 0
            t0 = time.perf_counter()
            again = planner.scan(svc, enqueue=lambda key: None)
            t_again = time.perf_counter() - t0
            parsed_again = parsed
        finally:
            svc.close()
            server.stop()  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        assert bare_stat_loop(site) == n
        t_bare = time.perf_counter() - t0
        assert again.files == n and again.unchanged == n, again.to_json()
        print(f"first scan of {n} posts (baseline), read by {auto_processes()} processes: "
              f"{t_first:.2f} s, {parsed_first} read")
        print(f"the same, read in the scanning process (SCAN_PROCESSES=1): {t_serial:.2f} s")
        print(f"ratio first scan / serial first scan: {t_first / t_serial:.2f}x")
        print(f"rescan, nothing changed:         {t_again:.2f} s, {parsed_again} read")
        print(f"bare walk+stat loop:             {t_bare:.2f} s")
        print(f"ratio rescan / bare loop:        {t_again / t_bare:.1f}x")
    finally:
        planner.read_in_order = real_read  # type: ignore[assignment]
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
