"""The pull problem of a site that lives in Git that the editors were last told about.

Why in Redis and not in the process: every process that pulls (``newsbot run``, each worker,
``newsbot scan``) must agree that a problem was reported, so a remote that stays unreachable
for a day is one notice, not one per rescan; a good pull forgets it, so the same problem
coming back later is news again.
"""

from __future__ import annotations

import redis

from .keys import Keys

__all__ = ["SiteGitProblem"]


class SiteGitProblem:
    def __init__(self, client: redis.Redis, namespace: str = "newsbot") -> None:
        self.client = client
        self.key = Keys(namespace).site_git_problem

    def claim(self, identity: str) -> bool:
        """True when ``identity`` differs from the problem last reported (it is now the one
        reported): atomic, so one of many concurrent pullers reports it."""
        previous = self.client.set(self.key, identity[:500], get=True)
        return previous != identity[:500]

    def clear(self) -> None:
        self.client.delete(self.key)

    def current(self) -> str | None:
        value = self.client.get(self.key)
        return None if value is None else str(value)
