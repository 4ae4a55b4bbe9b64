"""The file watcher: real inotify events, debounced into one batch of post paths."""

from __future__ import annotations

import threading
import time
from pathlib import Path

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
