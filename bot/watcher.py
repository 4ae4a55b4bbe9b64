"""File events under the site's `_posts/` folders, batched, handed to a callback (a scan task).

Why debounce: an editor's save is several events (create, modify, modify, or a temp file moved
into place); waiting ~0.2 s after the last one turns them into one scan of the final file, and
still reports a new post well within a second.  The periodic rescan stays the safety net for
anything file events miss (network file systems, events lost under load).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

__all__ = ["PostWatcher"]

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.2
MAX_DELAY_SECONDS = 1.0
HAND_OVER_RETRY_DELAY = 0.5
HAND_OVER_RETRY_SECONDS = 120.0


def _is_post_path(path: str) -> bool:
    """A cheap first sieve only: the scan the batch goes to decides with the reader's one rule
    (`post_path_problem`: inside the site after resolving symlinks, a folder Jekyll reads)."""
    parts = Path(path).parts
    return "_posts" in parts[:-1] and not Path(path).name.startswith((".", "#", "_"))


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: PostWatcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in ("created", "modified", "moved",
                                                          "closed"):
            return
        target = getattr(event, "dest_path", "") if event.event_type == "moved" else ""
        path = target or event.src_path
        if isinstance(path, bytes):
            path = path.decode("utf-8", "surrogateescape")
        if path and _is_post_path(path):
            self._watcher.add(path)


class PostWatcher:
    """``start()`` / ``stop()``; calls ``on_paths(sorted paths)`` from its own thread."""

    def __init__(
        self,
        site_dir: Path,
        on_paths: Callable[[list[str]], None],
        *,
        debounce: float = DEBOUNCE_SECONDS,
        max_delay: float = MAX_DELAY_SECONDS,
    ) -> None:
        self.site_dir = Path(site_dir).resolve()
        self._on_paths = on_paths
        self._debounce = debounce
        self._max_delay = max_delay
        self._pending: set[str] = set()
        self._cond = threading.Condition()
        self._last_event = 0.0
        self._first_event = 0.0
        self._stopping = False
        self._observer: Observer | None = None  # type: ignore[valid-type]
        self._thread: threading.Thread | None = None
        self._failing_since: float | None = None

    def add(self, path: str) -> None:
        with self._cond:
            now = time.monotonic()
            if not self._pending:
                self._first_event = now
            self._pending.add(path)
            self._last_event = now
            self._cond.notify()

    def start(self) -> PostWatcher:
        observer = Observer()
        observer.schedule(_Handler(self), str(self.site_dir), recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self._thread = threading.Thread(target=self._flush_loop, name="post-watcher",
                                        daemon=True)
        self._thread.start()
        log.info("watching %s for new and changed posts", self.site_dir)
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _flush_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                now = time.monotonic()
                due = min(self._last_event + self._debounce, self._first_event + self._max_delay)
                if now < due:
                    self._cond.wait(due - now)
                    continue
                batch = sorted(self._pending)
                self._pending.clear()
            try:
                self._on_paths(batch)
            except Exception as exc:
                self._hand_back(batch, exc)
            else:
                self._failing_since = None

    def _hand_back(self, batch: list[str], exc: Exception) -> None:
        """A batch the scan could not take (Redis restarting: the broker refuses the task) is
        kept and offered again after a short wait, so a post saved during an outage still goes
        out within seconds of the server's return, not at the next periodic rescan.  After
        ``HAND_OVER_RETRY_SECONDS`` of failures the batch is left to that rescan."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        if now - self._failing_since >= HAND_OVER_RETRY_SECONDS:
            log.error("could not hand %d changed post file(s) to a scan for %.0f s (%s: %s); "
                      "the periodic rescan will pick them up", len(batch),
                      now - self._failing_since, type(exc).__name__, exc)
            self._failing_since = None
            return
        log.warning("could not hand %d changed post file(s) to a scan (%s: %s); trying again "
                    "in %.1f s", len(batch), type(exc).__name__, exc, HAND_OVER_RETRY_DELAY)
        with self._cond:
            self._pending.update(batch)
            now = time.monotonic()
            # due again (see _flush_loop) in HAND_OVER_RETRY_DELAY, or sooner with new events
            self._first_event = self._last_event = now + HAND_OVER_RETRY_DELAY - self._debounce
