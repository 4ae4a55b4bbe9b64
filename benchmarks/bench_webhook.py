"""Benchmark: a Git push webhook -> the scan starts (and finds the pushed post).

Plain script, not a test: `.venv/bin/python benchmarks/bench_webhook.py [PUSHES]` (default 40).
A real bare Git repository in a temp folder is the site's remote; newsbot's webhook endpoint
(`WEBHOOK_LISTEN`) and a real Celery worker (solo pool, in this process) run against an embedded
Redis, as in `newsbot run`.  Each round commits one post, pushes it to the bare remote and sends a
signed GitHub `push` event; measured from the request leaving the client to the scan task
starting on the worker (the figure: p95 under 1 s), and to the scan's end (it pulled the remote
first and found the one new post).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from timescale import announce


def _git_remote() -> Any:
    """The tests' real bare-repository helper, loaded by path (``tests/`` on ``sys.path`` would
    shadow the ``tasks`` package with the ``tests/tasks`` folder)."""
    path = Path(__file__).resolve().parents[1] / "tests" / "git_remote.py"
    spec = importlib.util.spec_from_file_location("git_remote", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

SECRET = "whsec-BENCH-fake-secret-not-real-0123456789"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(pushes: int) -> None:
    announce()  # the settings below read the environment
    from celery import signals
    from celery.contrib.testing.worker import start_worker

    import tasks
    from bot.config import Settings
    from bot.redis_embedded import start_embedded
    from bot.runner import _start_webhooks
    from bot.webhook import github_signature

    root = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    server = start_embedded(root / "redis")
    started: list[float] = []
    reports: list[dict[str, Any]] = []
    done = threading.Condition()

    def prerun(task: Any = None, **_: Any) -> None:
        if getattr(task, "name", "") == tasks.SCAN:
            started.append(time.monotonic())

    def postrun(task: Any = None, retval: Any = None, **_: Any) -> None:
        if getattr(task, "name", "") == tasks.SCAN:
            with done:
                reports.append(retval)
                done.notify_all()

    signals.task_prerun.connect(prerun, weak=False)
    signals.task_postrun.connect(postrun, weak=False)
    try:
        remote = _git_remote().Remote(root)
        remote.add_post("first", "First")
        settings = Settings(_env_file=None, site_git_url=remote.url,  # type: ignore[call-arg]
                            data_dir=root / "var", webhook_listen="127.0.0.1:0",
                            webhook_secret=SECRET, watch=False, log_level="WARNING")
        tasks.configure(settings, redis_url=server.url)
        hooks: Any = _start_webhooks(settings, server.url)
        host, port = hooks.address
        body = json.dumps({"ref": "refs/heads/main",
                           "repository": {"default_branch": "main"}}).encode()
        headers = {"X-GitHub-Event": "push", "Content-Type": "application/json",
                   "X-Hub-Signature-256": github_signature(SECRET, body)}

        def push() -> float:
            request = urllib.request.Request(f"http://{host}:{port}/hooks/github", data=body,
                                             method="POST", headers=headers)
            sent = time.monotonic()
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.status == 202
            return sent

        def wait(count: int) -> None:
            with done:
                if not done.wait_for(lambda: len(reports) >= count, 60):
                    raise SystemExit("a scan never finished")

        to_start: list[float] = []
        to_end: list[float] = []
        with start_worker(tasks.app, pool="solo", perform_ping_check=False,
                          shutdown_timeout=30):
            push()  # the first scan clones and records the baseline
            wait(1)
            for i in range(pushes):
                remote.add_post(f"news-{i}", f"News {i}")
                sent = push()
                wait(2 + i)
                to_start.append(started[-1] - sent)
                to_end.append(time.monotonic() - sent)
                if reports[-1].get("new") != 1:
                    raise SystemExit(f"push {i}: the scan did not find the pushed post: "
                                     f"{reports[-1]}")
        hooks.stop()
        ms = 1000.0
        print(f"{pushes} pushes, each: commit + git push to a bare remote, signed GitHub push "
              "event")
        print(f"webhook -> scan start: p50 {quantile(to_start, .5) * ms:.1f} ms, "
              f"p95 {quantile(to_start, .95) * ms:.1f} ms, max {max(to_start) * ms:.1f} ms "
              "(target p95 < 1000 ms)")
        print(f"webhook -> scan done (pulled, post found): p50 {quantile(to_end, .5) * ms:.1f}"
              f" ms, p95 {quantile(to_end, .95) * ms:.1f} ms, "
              f"mean {statistics.mean(to_end) * ms:.1f} ms")
    finally:
        signals.task_prerun.disconnect(prerun)
        signals.task_postrun.disconnect(postrun)
        server.stop()  # type: ignore[attr-defined]
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
