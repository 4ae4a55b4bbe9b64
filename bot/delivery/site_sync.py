"""Pull the site from Git before a full scan, and tell the editors about what went wrong once.

Why before each full scan (the periodic rescan, a push webhook's scan, ``newsbot scan``,
the scan at start): whoever scans reads the checkout it just brought up to date, so a pushed
post is seen by the scan that the push triggered, and no second schedule is needed.  A pull
never stops the scan: on a problem the last good checkout is scanned.

What the editors hear, once each: a force-push (the checkout was reset to the rewritten
remote; posts keep their identities, the planner recognises them by their files and URLs), a
pull that fails (network, authentication, a missing branch) and a conflict (the fast-forward
could not be applied).  A problem that persists is one notice (``bot.state.site_git``), and
the next good pull forgets it, so the same problem coming back is news again.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import redis

from bot.logs import log_event, redact
from bot.sources.git_site import GitCheckout, SyncResult
from bot.state import State
from bot.state.site_git import SiteGitProblem

from .notify import Notice, Notifier

__all__ = ["SiteSync"]

log = logging.getLogger(__name__)

_TEXT = {
    "force_push": "The site's Git branch {branch} was force-pushed: the checkout was reset from "
                  "{old} to {new}.",
    "fetch_failed": "Could not pull the site's Git branch {branch}; still using {old}. {detail}",
    "conflict": "Could not update the site's checkout to {branch} at {remote}; still using "
                "{old}. {detail}",
}


class SiteSync:
    """``sync()`` pulls, logs and reports; safe from any thread (the checkout is locked)."""

    def __init__(self, checkout: GitCheckout, client: redis.Redis, *,
                 namespace: str = "newsbot", notifier: Notifier | None = None) -> None:
        self.checkout = checkout
        self.notifier = notifier
        self.problems = SiteGitProblem(client, namespace)

    @classmethod
    def from_settings(cls, settings: Any, client: redis.Redis, *,
                      namespace: str = "newsbot") -> SiteSync | None:
        checkout = GitCheckout.from_settings(settings)
        if checkout is None:
            return None
        state = State(client, namespace=namespace)
        return cls(checkout, client, namespace=namespace,
                   notifier=Notifier.from_settings(settings, state))

    def sync(self) -> SyncResult:
        result = self.checkout.sync()
        log_event(log, "site_pull", outcome=result.outcome, branch=result.branch,
                  commit=result.new[:12], seconds=round(result.seconds, 3))
        try:
            self._report(result)
        except Exception as exc:  # Redis away: the scan goes on, the next pull reports
            log.warning("site pull: problem not recorded (%s)", type(exc).__name__)
        return result

    def _report(self, result: SyncResult) -> None:
        if result.problem:
            # one identity per distinct problem: its kind, the commits involved and git's words
            identity = "|".join((result.outcome, result.branch, result.old, result.remote,
                                 _gist(result.detail)))
            if not self.problems.claim(identity):
                return
            log.warning("site pull: %s on %s: %s", result.outcome, result.branch,
                        result.detail)
            # the claim is the once-only guard; the dedupe makes this episode's notice its own
            self._notify(result, dedupe=f"site_git|{identity}|{time.time_ns()}")
            return
        self.problems.clear()
        if result.outcome == "force_push":
            log.warning("site pull: %s was force-pushed; reset %s -> %s", result.branch,
                        result.old[:12], result.new[:12])
            self._notify(result, dedupe=f"site_git|force_push|{result.old}|{result.new}")

    def _notify(self, result: SyncResult, *, dedupe: str) -> None:
        if self.notifier is None:
            return
        text = _TEXT[result.outcome].format(
            branch=result.branch or "(default)", old=result.old[:12] or "nothing yet",
            new=result.new[:12], remote=result.remote[:12], detail=result.detail)
        self.notifier.notify(Notice(kind="generic", text=redact(text).strip(), dedupe=dedupe))


def _gist(detail: str) -> str:
    """What makes a problem the same problem: git's ``fatal:``/``error:`` line (else its last
    line), numbers folded, so a message that differs only in a count or a port between two
    rescans is not news."""
    lines = [line.strip() for line in detail.splitlines() if line.strip()]
    main = next((line for line in lines if line.startswith(("fatal:", "error:"))),
                lines[-1] if lines else "")
    return re.sub(r"\d+", "#", main)[:300]
