"""What a connection health check of one destination found (``check_health`` of a publisher).

Why three outcomes and not a bool: only the platform's own answer ("the bot is not an
administrator", 401, 402) may hold a destination's queue at once.  No answer (a timeout, a
refused connection, a 5xx, a 429 on the check itself) says nothing about the bot's rights or
the account, so it is ``unreachable`` and counts only after several in a row
(``bot.delivery.connection_health``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ProbeOutcome", "ProbeResult"]

ProbeOutcome = Literal["ok", "unhealthy", "unreachable"]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    outcome: ProbeOutcome
    reason: str = ""
    """The platform's reason in one line, without secrets ('' when ok)."""
    account: str = ""
    """What the check learnt the destination is called ('@newsbot_test' on X)."""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"
