"""Every Redis key newsbot owns: delivery records, schedule, scan index, pause flag, audit stream,
heartbeats (``State``) and the shared send-rate limits (``RateLimiter``).

Key shapes are documented in ``bot/state/keys.py``; nothing outside this package builds a key name.
"""

from .keys import Keys, record_id
from .ratelimit import DAY, RateLimiter, Rule
from .records import (
    EDITOR_ACTIONS,
    FINAL_STATES,
    STATES,
    Record,
    RecordNotFoundError,
    TransitionRefusedError,
)
from .store import State, server_time

__all__ = [
    "DAY",
    "EDITOR_ACTIONS",
    "FINAL_STATES",
    "STATES",
    "Keys",
    "RateLimiter",
    "Record",
    "RecordNotFoundError",
    "Rule",
    "State",
    "TransitionRefusedError",
    "record_id",
    "server_time",
]
