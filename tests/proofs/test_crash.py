"""The crash proof, short version: workers and ``newsbot run`` killed -9 mid-send, restarted."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest


def _figure(out: str, name: str) -> str:
    found = re.search(rf"^{re.escape(name)}\s+(.+)$", out, re.MULTILINE)
    assert found, f"figure {name!r} missing:\n{out[-4000:]}"
    return found.group(1).strip()


@pytest.mark.timeout(400)
def test_short_crash_proof(run_proof: Callable[..., str]) -> None:
    out = run_proof("crash", timeout=380)
    assert _figure(out, "duplicates (any platform)") == "0"
    assert _figure(out, "lost (not sent nor in doubt, or sent but not on the platform)") == "0"
    workers, runs = (int(n) for n in _figure(out, "kills -9 (workers / newsbot run)").split(" / "))
    assert workers >= 8 and runs >= 1
    assert _figure(out, "X records in_doubt") == "0"
    worst = float(_figure(out, "editors' notice after the kill, s: max, p95 (n)").split(",")[0])
    assert worst <= 10.0
