"""The load proof's short version (``python -m proofs load --short``): a 60-post burst against
fakes enforcing Telegram's limits, and a 1,000-post first-run baseline."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from proofs.load import pct, tg_least_time


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


@pytest.mark.timeout(400)
def test_short_load_proof(run_proof: Callable[..., str]) -> None:
    out = run_proof("load")
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
    assert figure(out, "baseline: records skipped as baseline / bad files reported") == "2000 / 3"
