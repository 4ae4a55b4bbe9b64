"""The Redis-restart proof, short version: `newsbot run` on its embedded server killed twice
with SIGKILL, and beat + 2 workers + the editors' bot on an external Valkey stopped (SIGTERM,
then SIGKILL) and restarted twice, posts written all along.  About 40 s on an idle machine,
90 s on a loaded one."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest


def _figure(out: str, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}\s+(\S+)$", out, re.MULTILINE)
    assert match, f"no figure {name!r} in:\n{out}"
    return match.group(1)


@pytest.mark.timeout(420)
def test_redis_restart_short(run_proof: Callable[..., str]) -> None:
    out = run_proof("redis_restart")
    for scenario in ("embedded", "external"):
        assert int(_figure(out, f"{scenario}: Redis restarts")) == 2
        assert int(_figure(out, f"{scenario}: posts written")) >= 8
        assert _figure(out, f"{scenario}: lost (not on both platforms)") == "0"
        assert _figure(out, f"{scenario}: duplicates") == "0"
        assert _figure(out, f"{scenario}: Python tracebacks printed") == "0"
        assert _figure(out, f"{scenario}: secrets in logs") == "0"
    assert float(_figure(out, "embedded: run: restart announced, s (max)")) <= 10
    assert _figure(out, "embedded: status OK") == "2/2"
    for part in ("worker 1", "worker 2", "beat", "bot"):
        assert float(_figure(out, f"external: {part}: reconnected (server up ->), s (max)")) <= 30
