"""The file watcher: real inotify events, debounced into one batch of post paths."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from delivery_helpers import wait_for

from bot.watcher import PostWatcher


def test_events_under_posts_are_batched_and_others_ignored(site: Path) -> None:
    batches: list[list[str]] = []
    lock = threading.Lock()

    def collect(paths: list[str]) -> None:
        with lock:
            batches.append(paths)

    watcher = PostWatcher(site, collect).start()
    try:
        time.sleep(0.2)
        started = time.monotonic()
        post = site / "_posts" / "2026-01-01-a.md"
        post.write_text("---\ntitle: a\n---\n")
        post.write_text("---\ntitle: a, edited\n---\n")
        (site / "about.md").write_text("not a post")
        tmp = site / "_posts" / ".2026-01-02-b.md.swp"
        tmp.write_text("---\ntitle: b\n---\n")
        tmp.rename(site / "_posts" / "2026-01-02-b.md")  # an editor's atomic save
        wait_for(lambda: batches, 3, "a batch")
        elapsed = time.monotonic() - started
        time.sleep(0.5)
    finally:
        watcher.stop()
    assert elapsed < 1.0
    seen = sorted({Path(p).name for batch in batches for p in batch})
    assert seen == ["2026-01-01-a.md", "2026-01-02-b.md"]
    assert len(batches) <= 2


def test_a_batch_the_broker_refused_is_offered_again(site: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    """Redis restarting: the scan task cannot be queued.  The post saved meanwhile must still
    reach a scan once the broker is back (it used to wait for the periodic rescan: an hour in
    the proof suite, a minute by default), and the outage costs one line, not a traceback."""
    import redis

    handed: list[list[str]] = []
    refusals = [redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379."),
                redis.ConnectionError("Connection closed by server.")]

    def hand_over(paths: list[str]) -> None:
        if refusals:
            raise refusals.pop(0)
        handed.append(paths)

    watcher = PostWatcher(site, hand_over).start()
    try:
        time.sleep(0.2)
        (site / "_posts" / "2026-01-01-a.md").write_text("---\ntitle: a\n---\n")
        wait_for(lambda: handed, 5, "the batch handed over after the refusals")
    finally:
        watcher.stop()
    assert [Path(p).name for p in handed[0]] == ["2026-01-01-a.md"]
    assert not refusals
    warnings = [r for r in caplog.records if "could not hand" in r.getMessage()]
    assert len(warnings) == 2 and all(r.exc_info is None for r in warnings)
