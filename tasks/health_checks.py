"""``HealthChecker``: connection health checks of every destination, at start and every
HEALTH_SECONDS, in a thread of the process that runs the schedule (``newsbot beat``, and
``newsbot run``'s own), as the lease reaper is.

Why a thread and not a beat task: a check must not wait behind a backlog of publish tasks in
the queue (a demoted bot would meet every one of them first), and exactly one process runs it
(the one that runs beat), so two checkers never race to tell the editors.  The work itself is
``bot.delivery.connection_health.check_destinations``.
"""

from __future__ import annotations

import logging
import threading

import tasks
from bot.delivery.connection_health import check_destinations

__all__ = ["HealthChecker"]

log = logging.getLogger("newsbot.tasks")


class HealthChecker:
    def __init__(self, every: float) -> None:
        self.every = every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> HealthChecker | None:
        """Starts the loop (first round at once); None when HEALTH_SECONDS is 0 (one round
        then only hands back what an earlier configuration held)."""
        if self.every <= 0:
            self.run_once()
            return None
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="health-checks", daemon=True)
            self._thread.start()
        return self

    def run_once(self) -> None:
        try:
            check_destinations(tasks.get_services(), tasks.enqueue_publish)
        except Exception as exc:  # Redis restarting: the next round tries again
            if not self._stop.is_set():  # (stopping: the services closed under the check)
                log.warning("health check round failed: %s", type(exc).__name__)

    def _run(self) -> None:
        self.run_once()
        while not self._stop.wait(self.every):
            self.run_once()

    def stop(self, timeout: float = 1.0) -> None:
        """A check in flight may wait on a slow platform: the daemon thread is not waited for
        longer than ``timeout`` (stopping must stay quick)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
