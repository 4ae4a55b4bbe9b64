"""How loud a one-shot command's log is: its report is the answer, log lines are noise.

`newsbot push` printing `INFO bot.delivery.planner: event=state_change ...` above its own report
makes the answer hard to find, so commands log at WARNING (problems still show) unless the
operator asks with `-v`/`--verbose`.  The services (`run`, `worker`, `beat`, `bot`) keep the
configured LOG_LEVEL: their log is their output.
"""

from __future__ import annotations

import logging

__all__ = ["command_log_level", "quiet_command_logs", "set_verbose"]

_verbose = False


def set_verbose(on: bool) -> None:
    """The global `-v` flag, read by every command that sets up logging afterwards."""
    global _verbose
    _verbose = bool(on)


def command_log_level(configured: str) -> str:
    """WARNING or quieter by default; with `-v` INFO, or DEBUG when LOG_LEVEL asks for it."""
    level = logging.getLevelName(configured.upper())
    if not isinstance(level, int):
        level = logging.INFO
    chosen = min(level, logging.INFO) if _verbose else max(level, logging.WARNING)
    return logging.getLevelName(chosen)


def quiet_command_logs(configured: str) -> None:
    """Apply ``command_log_level`` to logging already set up for a service."""
    logging.getLogger().setLevel(command_log_level(configured))
