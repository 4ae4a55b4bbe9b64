"""A bad QUIET_HOURS stops any command at start: one `error:` line naming it, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "site"


@pytest.mark.parametrize(("name", "value"), [("QUIET_HOURS", "25:00-07:00"),
                                             ("QUIET_HOURS", "night"),
                                             ("QUIET_X", "later")])
def test_a_bad_quiet_setting_is_one_error_line_and_exit_2(name: str, value: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SITE_", "TIMEZONE"))}
    env[name] = value
    run = subprocess.run([sys.executable, "-m", "bot", "check", "--site", str(DEMO)],
                         capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert run.returncode == 2
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error:") and name in lines[0]
