"""Runs a proof suite's short version as documented (``python -m proofs SUITE --short``) in a
child process: the table it prints and its exit status are the test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TABLE_END = "-- end of table --"


def _run(suite: str, *extra: str, timeout: float = 600.0) -> str:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    done = subprocess.run([sys.executable, "-m", "proofs", suite, "--short", *extra], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)
    out = done.stdout + done.stderr
    assert TABLE_END in done.stdout, out[-6000:]
    assert done.returncode == 0, out[-6000:]
    assert "[BROKEN]" not in done.stdout, out[-6000:]
    return done.stdout


@pytest.fixture
def run_proof() -> Callable[..., str]:
    return _run
