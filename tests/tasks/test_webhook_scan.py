"""A push webhook, end to end: a signed GitHub push to `newsbot run`'s endpoint starts a scan on
a real Celery worker within a second; the scan pulls the real Git remote and finds the post."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import signals
from celery.contrib.testing.worker import start_worker
from git_remote import Remote  # loaded by tests/conftest.py

import tasks
from bot.config import Settings
from bot.runner import _start_webhooks
from bot.state.deploy_signal import DeploySignals
from bot.webhook import github_signature

SECRET = "whsec-TEST-fake-secret-not-real-e2e-0123456789"


class ScanWatch:
    def __init__(self) -> None:
        self.started: list[float] = []
        self.reports: list[dict[str, Any]] = []
        self.done = threading.Condition()

    def prerun(self, task: Any = None, **_: Any) -> None:
        if getattr(task, "name", "") == tasks.SCAN:
            self.started.append(time.monotonic())

    def postrun(self, task: Any = None, retval: Any = None, **_: Any) -> None:
        if getattr(task, "name", "") == tasks.SCAN:
            with self.done:
                self.reports.append(retval)
                self.done.notify_all()

    def wait(self, count: int, timeout: float = 30) -> None:
        with self.done:
            assert self.done.wait_for(lambda: len(self.reports) >= count, timeout)


@pytest.fixture
def running(tmp_path: Path, redis_url: str, redis_client: Any) -> Iterator[tuple[Any, ...]]:
    remote = Remote(tmp_path)
    remote.add_post("first", "First")
    settings = Settings(_env_file=None, site_git_url=remote.url,  # type: ignore[call-arg]
                        data_dir=tmp_path / "var", webhook_listen="127.0.0.1:0",
                        webhook_secret=SECRET, watch=False)
    assert settings.site_dir == tmp_path / "var" / "site-git"
    tasks.configure(settings, redis_url=redis_url)
    watch = ScanWatch()
    signals.task_prerun.connect(watch.prerun, weak=False)
    signals.task_postrun.connect(watch.postrun, weak=False)
    hooks = _start_webhooks(settings, redis_url)
    try:
        with start_worker(tasks.app, pool="solo", perform_ping_check=False,
                          shutdown_timeout=30):
            yield remote, hooks, watch
    finally:
        hooks.stop()  # type: ignore[union-attr]
        signals.task_prerun.disconnect(watch.prerun)
        signals.task_postrun.disconnect(watch.postrun)
        tasks._close_services()


def _push(hooks: Any) -> float:
    body = json.dumps({"ref": "refs/heads/main",
                       "repository": {"default_branch": "main"}}).encode()
    host, port = hooks.address
    request = urllib.request.Request(
        f"http://{host}:{port}/hooks/github", data=body, method="POST",
        headers={"X-GitHub-Event": "push", "Content-Type": "application/json",
                 "X-Hub-Signature-256": github_signature(SECRET, body)})
    sent = time.monotonic()
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
    return sent


def test_a_pushed_post_is_scanned_within_a_second_of_the_webhook(running: tuple[Any, ...],
                                                                 redis_client: Any) -> None:
    remote, hooks, watch = running
    _push(hooks)  # first scan: clones, records the existing post as the baseline
    watch.wait(1)
    assert watch.reports[0]["baseline"] is True
    latencies = []
    for i in range(3):
        remote.add_post(f"news-{i}", f"News {i}")
        sent = _push(hooks)
        watch.wait(2 + i)
        latencies.append(watch.started[-1] - sent)
        report = watch.reports[-1]
        assert report["new"] == 1, report  # the scan pulled first: it saw the pushed post
    assert max(latencies) < 1.0, latencies
    # a pull that brought something is a deploy signal too: the live checks look at once
    latest = DeploySignals(redis_client, "newsbot").latest()
    assert latest is not None and latest.source == "push" and latest.seq == 3
