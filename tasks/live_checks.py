"""``LiveChecker``: the loop that looks at every post waiting for its page (WAIT_FOR_LIVE), about
every LIVE_POLL_SECONDS and at once on a deploy signal, in a thread of the process that runs
the schedule (``newsbot beat``, and ``newsbot run``'s own), as the health checker is.

Why a thread and not a beat task: a check every second must not queue behind a backlog of
publish tasks, and exactly one process runs it, so the editors are told once.  It sleeps on the
deploy signals' pub/sub channel (``bot.state.deploy_signal.DeploySignals.listen``): a signal
wakes it at once; it also compares the latest signal's ``seq`` with the last one it acted on,
so a message lost while Redis restarted costs at most one poll.  The work itself is
``bot.delivery.live.LiveChecks``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import tasks
from bot.delivery.live import EARLY_SECONDS, LiveChecks, enabled
from bot.state.deploy_signal import DeploySignals

__all__ = ["LiveChecker"]

log = logging.getLogger("newsbot.tasks")

#: Rounds start this often; each post is looked at only when its LIVE_POLL_SECONDS are up
#: (less ``EARLY_SECONDS``, the same period).
ROUND_SECONDS = EARLY_SECONDS


class LiveChecker:
    def __init__(self, services: Any = None,
                 enqueue: Callable[[str], None] | None = None) -> None:
        self._services = services
        self._enqueue = enqueue
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checks: LiveChecks | None = None
        self._seen_seq = 0
        self.signals_acted = 0

    def _svc(self) -> Any:
        return self._services if self._services is not None else tasks.get_services()

    def start(self) -> LiveChecker | None:
        """Starts the loop; None when WAIT_FOR_LIVE is off (one round then hands back what an
        earlier configuration held).  Never raises: with Redis not up yet the thread starts
        and sets itself up on its first good round."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            try:
                if not self._setup():
                    return None
            except Exception as exc:  # Redis restarting: the thread sets up later
                log.warning("live checks: setting up later (%s)", type(exc).__name__)
            self._thread = threading.Thread(target=self._run, name="live-checks", daemon=True)
            self._thread.start()
        return self

    def _setup(self) -> bool:
        """The checks and the last signal seen; False (after one release round) when
        WAIT_FOR_LIVE is off."""
        if self._checks is not None:
            return True
        svc = self._svc()
        checks = LiveChecks(svc, self._enqueue or tasks.enqueue_publish)
        if not enabled(svc):
            try:
                checks.round()  # hands back what an earlier configuration held
            finally:
                checks.close()
            return False
        latest = self._signals(svc).latest()
        self._seen_seq = latest.seq if latest is not None else 0
        self._checks = checks
        return True

    @staticmethod
    def _signals(svc: Any) -> DeploySignals:
        return DeploySignals(svc.state.client, svc.state.namespace)

    def _run(self) -> None:
        pubsub = None
        while not self._stop.is_set():
            try:
                if not self._setup():
                    break
                svc = self._svc()
                if pubsub is None:
                    pubsub = self._signals(svc).listen()
                message = pubsub.get_message(timeout=ROUND_SECONDS)
                latest = self._signals(svc).latest()
                force = message is not None or (latest is not None
                                                and latest.seq > self._seen_seq)
                if latest is not None:
                    self._seen_seq = max(self._seen_seq, latest.seq)
                if force:
                    self.signals_acted += 1
                assert self._checks is not None
                self._checks.round(force=force)
            except Exception as exc:  # Redis restarting: listen again, the next round tries
                if self._stop.is_set():
                    break
                log.warning("live check round failed: %s", type(exc).__name__)
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        pubsub.close()
                    pubsub = None
                self._stop.wait(1.0)
        if pubsub is not None:
            with contextlib.suppress(Exception):
                pubsub.close()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        if self._checks is not None:
            self._checks.close()
            self._checks = None
