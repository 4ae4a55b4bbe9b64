"""Scaled time in a benchmark: allowed only here and in tests, and always said out loud.

`RATE_TIME_SCALE` shrinks newsbot's rate-limit windows so that a backlog against a time-scaled
fake drains in seconds instead of hours. The settings refuse it unless `NEWSBOT_TESTING=1`, and a
figure measured in scaled time must never be read as a real one: every benchmark calls
`announce` before its first figure, which prints the factor whenever time is scaled.
"""

from __future__ import annotations

import os

TESTING_SWITCH = "NEWSBOT_TESTING"  # bot.config.TESTING_SWITCH (kept importable without bot/)


def announce(scale: float | None = None) -> dict[str, str]:
    """Print the time-scale line, allow the scale in this process and return the environment a
    `newsbot` subprocess needs. `scale=None`: this benchmark scales nothing itself, but a
    RATE_TIME_SCALE inherited from the shell would still reach its settings, so say that too."""
    if scale is None:
        raw = os.environ.get("RATE_TIME_SCALE", "").strip()
        try:
            inherited = float(raw) if raw else 1.0
        except ValueError:
            inherited = 1.0  # the settings will refuse it with their own one-line error
        if inherited == 1.0:
            return {}
        print(f"time scaled: rate windows x{inherited:g} (RATE_TIME_SCALE from the environment)")
        return {}
    print(f"time scaled: rate windows x{scale:g} (RATE_TIME_SCALE={scale:g}; the real windows are "
          f"{1 / scale:g}x longer)")
    os.environ[TESTING_SWITCH] = "1"
    return {TESTING_SWITCH: "1", "RATE_TIME_SCALE": f"{scale:g}"}
