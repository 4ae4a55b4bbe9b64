"""The load suite's status prober: ``python -m proofs.load_probe OUT STOP`` (a child process).

Why a child: the suite's own process runs the fake platforms, whose threads would share the GIL
with anything timed there.  Until the file ``STOP`` exists it repeats, one after the other:

* the status query itself, ``bot.actions.status.status`` (what ``newsbot status`` and the editors'
  ``/status`` both call), against the Redis of ``REDIS_URL``, with imports and the connection
  already made (``query``);
* every third round, the whole command as an operator types it, ``newsbot status --json``, a
  fresh process (``cli``), and the bare interpreter start ``python -c pass`` next to it
  (``floor``): the share of the command no code of ours can remove.

Then it writes ``{"query": [s, ...], "cli": [...], "floor": [...], "errors": [...]}`` to OUT.
The environment is the suite's (``stack.env()``), so settings come from it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bot.actions.status import status
from bot.config import Settings
from bot.delivery.services import Services

NEWSBOT = str(Path(sys.executable).parent / "newsbot")


def _timed(argv: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False)
    return time.perf_counter() - start, done.returncode


def main(argv: list[str]) -> int:
    out, stop = Path(argv[0]), Path(argv[1])
    settings = Settings()  # type: ignore[call-arg]
    svc = Services.from_settings(settings, redis_url=str(settings.redis_url))
    figures: dict[str, list] = {"query": [], "cli": [], "floor": [], "errors": []}
    rounds = 0
    try:
        status(svc)  # warm: the first query loads the scripts and the connection
        while not stop.exists():
            start = time.perf_counter()
            try:
                status(svc)
                figures["query"].append(time.perf_counter() - start)
            except Exception as exc:  # a failed query is a figure too, not a crash
                figures["errors"].append(f"query: {type(exc).__name__}: {exc}"[:200])
            if rounds % 3 == 0:
                seconds, code = _timed([NEWSBOT, "status", "--json"])
                if code == 0:
                    figures["cli"].append(seconds)
                else:
                    figures["errors"].append(f"newsbot status exited {code}")
                figures["floor"].append(_timed([sys.executable, "-c", "pass"])[0])
            rounds += 1
            time.sleep(0.05)
    finally:
        svc.close()
        out.write_text(json.dumps(figures), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
