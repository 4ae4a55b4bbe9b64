"""Is a process still the one we think it is?  Shared by the lease reaper and the embedded Redis.

A pid alone is not an identity: pids are recycled.  On Linux the start time in
``/proc/<pid>/stat`` (clock ticks since boot) tells a recycled pid apart.
"""

from __future__ import annotations

import os

__all__ = ["pid_alive", "start_time"]


def pid_alive(pid: int) -> bool:
    """True while a process with this pid exists (another user's included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_time(pid: int) -> str | None:
    """The process start time in clock ticks since boot (Linux), or None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = raw[raw.rfind(b")") + 2:].split()
    return fields[19].decode() if len(fields) > 19 else None
