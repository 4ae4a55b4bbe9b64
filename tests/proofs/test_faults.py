"""The platform-faults proof, run as documented (``python -m proofs faults --short``): with 30 %
of the calls of both platforms answered by 429s, 5xx, resets, hangs and drops, every post goes
out once or is failed/in_doubt with its reason, never twice, and nothing is sent before a
retry-after or reset has passed.  About 70-90 s on two cores (a hang per platform costs the
publishers' 20 s client timeout)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest


def _figure(out: str, name: str) -> str:
    match = re.search(r"^" + re.escape(name) + r"\s{2,}(.+)$", out, re.M)
    assert match, name
    return match[1]


@pytest.mark.timeout(300)
def test_faults_short(run_proof: Callable[..., str]) -> None:
    out = run_proof("faults")
    for platform in ("telegram", "x"):
        calls, faulted = re.match(r"(\d+) / (\d+)",
                                  _figure(out, f"{platform}: calls / faulted (share)")).groups()
        assert int(faulted) >= 3 and int(calls) > int(faulted)
        outcome = _figure(out, f"{platform}: outcome of 12 posts")
        counts = [int(n) for n in re.findall(r"(\d+) ", outcome)]
        assert sum(counts) == 12, outcome
    assert _figure(out, "duplicates (posts on a platform more than once)") == "0"
    assert _figure(out, "early requests (before a retry-after / reset passed)").startswith("0 ")
    assert _figure(out, "secrets in logs") == "0"
    doubted = _figure(out, "in_doubt records with the editors' notice queued")
    asked, total = re.match(r"(\d+) of (\d+)", doubted).groups()
    assert asked == total
