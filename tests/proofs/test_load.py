"""The load proof's short version (``python -m proofs load --short``, 1-2 minutes): a 60-post
burst against fakes enforcing Telegram's limits, and a 5,000-post first-run baseline."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # proofs/ runs from the checkout; it is not installed

from proofs.load import pct, tg_least_time  # noqa: E402

TABLE_END = "-- end of table --"


def figure(out: str, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}\s+(.+)$", out, re.MULTILINE)
    assert match, f"no figure {name!r} in:\n{out}"
    return match.group(1).strip()


def test_the_least_time_of_a_channel_drain() -> None:
    assert tg_least_time(1, 1.0) == 0.0
    assert tg_least_time(20, 1.0) == 19.0  # one window: a second apart
    assert tg_least_time(21, 1.0) == 60.0  # the 21st waits for the first one's minute
    assert tg_least_time(1000, 0.2) == pytest.approx((49 * 60 + 19) * 0.2)
    assert pct([3.0, 1.0, 2.0], 0.5) == 2.0 and pct([], 0.95) == 0.0
    assert pct([float(i) for i in range(1, 101)], 0.95) == 95.0


BASELINE_PROMISE = "first-run baseline of 5,000 posts within"


@pytest.fixture(scope="module")
def short_table() -> str:
    """``python -m proofs load --short``'s table (run once for the tests below)."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    done = subprocess.run([sys.executable, "-m", "proofs", "load", "--short"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=380)
    assert TABLE_END in done.stdout, (done.stdout + done.stderr)[-6000:]
    return done.stdout


@pytest.mark.timeout(400)
def test_short_load_proof_keeps_its_promises(short_table: str) -> None:
    out = short_table
    promises = [line for line in out.splitlines() if line.startswith("  [")]
    assert len(promises) == 9, out
    assert [line for line in promises if "[BROKEN]" in line] == [], out
    assert f"[kept  ] {BASELINE_PROMISE}" in out
    assert figure(out, "burst: 429s from telegram / x") == "0 / 0"
    assert figure(out, "burst: delivered telegram / x") == "60 / 60"
    ratio = float(figure(out, "burst: drain / least time"))
    assert 1.0 <= ratio <= 1.25
    for name in ("worker (all processes)", "redis"):
        growth = figure(out, f"burst: {name} RSS end vs 10%")
        assert float(growth.rstrip("%")) <= 25.0
    p50, p95 = (float(v) for v in figure(out, "status query p50 / p95, ms").split(" / "))
    assert p50 <= p95 < 200.0
    assert "/" in figure(out, "`newsbot status --json` wall p50 / p95, ms")
    assert figure(out, "baseline: records skipped as baseline / bad files reported") == "10000 / 3"
    wall, bound = (float(figure(out, f"baseline: {name}"))
                   for name in ("first scan wall, s", "bound, s"))
    assert wall <= bound
