"""The access proof's short version: strangers, forged, expired and replayed buttons, hostile
arguments and a flood against the real `newsbot run`; nothing acts, everything is audited."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest


@pytest.mark.timeout(400)
def test_access_short(run_proof: Callable[..., str]) -> None:
    out = run_proof("access")
    figures = dict(re.findall(r"^(\S.*?)\s{2,}(\S.*)$", out, flags=re.M))
    for klass in ("non-editor", "forged", "expired", "replayed", "argument", "flood"):
        attempts, refused, audited, acted = (
            int(n) for n in figures[f"{klass}: attempts / refused / audited / actions taken"]
            .split(" / "))
        assert attempts > 0 and refused == audited == attempts and acted == 0, klass
    assert figures["credentials found in logs and outputs"] == "0"
    assert figures["raw control characters / forged lines in logs"] == "0"
    assert figures["bot messages to strangers other than the refusal"] == "0"
    ok, _, total = figures["editor's own actions that worked"].partition(" of ")
    assert ok == total
