"""`newsbot scan` and the process commands' argument checks, as an operator runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from delivery_helpers import hours_ago, now_utc, write_post

NEWSBOT = str(Path(sys.executable).parent / "newsbot")


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "LANG": "C.UTF-8",
            "WAIT_FOR_LIVE": "false"}
    return subprocess.run([NEWSBOT, *args], cwd=cwd, env={**base, **env}, timeout=90,
                          capture_output=True, text=True)


def test_worker_and_beat_need_redis_url(tmp_path: Path, site: Path) -> None:
    for command in ("worker", "beat"):
        result = run([command, "--site", str(site)], tmp_path)
        assert result.returncode == 2
        assert "REDIS_URL is required" in result.stderr


def test_scan_on_the_embedded_redis_baselines_then_queues_and_backfills(
    tmp_path: Path, site: Path
) -> None:
    write_post(site, "old-a", hours_ago(10))
    write_post(site, "old-b", hours_ago(9))
    env = {"DATA_DIR": str(tmp_path / "var")}
    first = run(["scan", "--site", str(site), "--json"], tmp_path, **env)
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["baseline"] and report["new"] == 2 and report["skipped"] == 4

    write_post(site, "new-c", now_utc() - timedelta(minutes=1))
    second = json.loads(run(["scan", "--site", str(site), "--json"], tmp_path, **env).stdout)
    assert second["new"] == 1 and second["queued"] == 2 and second["unchanged"] == 2

    # The 2 newest: new-c (already queued) and old-b (baseline-skipped, now queued).
    third = json.loads(run(["scan", "--site", str(site), "--backfill", "2", "--json"], tmp_path,
                           **env).stdout)
    assert third["backfilled"] == 2 and third["queued"] == 2 and third["new"] == 0
