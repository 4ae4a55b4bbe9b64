"""End-to-end fixtures: real `newsbot` processes (Celery worker, beat, watcher) on a real Redis,
the fake Telegram and X servers in this test process, a temporary site and data folder.

Each test gets its own Redis database (the broker queue and the state both live there), so
processes of one test never see another test's messages.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "delivery"))

from delivery_helpers import make_site, wait_for

from bot.redis_embedded import _stop_orphan
from bot.state import State

NEWSBOT = str(Path(sys.executable).parent / "newsbot")
_dbs = itertools.count()


@dataclass
class Proc:
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            return self.popen.wait(5)


@dataclass
class E2E:
    tmp: Path
    site: Path
    data: Path
    url: str
    env: dict[str, str]
    state: State
    procs: list[Proc] = field(default_factory=list)

    def start(self, *args: str, extra_env: dict[str, str] | None = None,
              ready: str = " ready.") -> Proc:
        log = self.tmp / f"proc{len(self.procs)}-{args[0]}.log"
        env = {**self.env, **(extra_env or {})}
        handle = open(log, "wb")  # noqa: SIM115 (owned by the child)
        popen = subprocess.Popen([NEWSBOT, *args], cwd=self.tmp, env=env, stdout=handle,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        proc = Proc(popen, log)
        self.procs.append(proc)
        wait_for(lambda: ready in proc.text() or popen.poll() is not None, 60,
                 f"{args[0]} to start")
        if popen.poll() is not None:
            raise AssertionError(f"{args[0]} exited early:\n{proc.text()[-3000:]}")
        return proc

    def records(self, state: str | None = None) -> list[Any]:
        return self.state.records(state=state)

    def baseline_done(self) -> bool:
        """The first run's baseline is recorded: a post written now is new, not baseline.

        Any site's baseline key: a test may give the site another URL (SITE_URL), and the site
        key is derived from it."""
        pattern = self.state.keys.site_baseline("*")
        return any(True for _ in self.state.client.scan_iter(match=pattern, count=100))


def _db_url(base: str, db: int) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@pytest.fixture
def e2e(tmp_path: Path, redis_url: str) -> Iterator[E2E]:
    url = _db_url(redis_url, 1 + next(_dbs) % 13)
    client = redis.Redis.from_url(url, decode_responses=True)
    client.flushdb()
    site = make_site(tmp_path / "site")
    data = tmp_path / "var"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONUNBUFFERED": "1",
        "SITE_DIR": str(site),
        "DATA_DIR": str(data),
        "REDIS_URL": url,
        "LOG_LEVEL": "INFO",
        "SCAN_SECONDS": "3600",
        "WAIT_FOR_LIVE": "false",  # the test site's URL is not served (test_live_e2e.py)
    }
    env_obj = E2E(tmp_path, site, data, url, env, State(client))
    try:
        yield env_obj
    finally:
        for proc in env_obj.procs:
            proc.stop(signal.SIGKILL, timeout=10)
        # A `newsbot run` killed with SIGKILL leaves its embedded server running (it has a
        # session of its own); stop it the way the next `newsbot run` would.
        _stop_orphan(data / "redis" / "embedded.pid", (data / "redis").resolve())
        client.flushdb()
        client.close()


def gone(pid: int) -> bool:
    """The process has ended (a zombie waiting to be reaped counts: it runs no more)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"
