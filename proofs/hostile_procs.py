"""Running the real ``newsbot`` commands for the hostile-corpus suite, and what each one cost.

Every command is a child process in its own session, its stdout and stderr kept in files (the
secrets search reads them all), reaped with ``wait4`` so its peak resident memory is the
kernel's own figure (``ru_maxrss``), killed with its group when it outlives its timeout.  A
command *crashed* when it timed out, ended by a signal, exited with a status it does not
document, or printed a Python traceback: newsbot turns every expected problem into one line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NEWSBOT", "Ran", "Runner", "Started"]

NEWSBOT = str(Path(sys.executable).parent / "newsbot")
TRACEBACK = "Traceback (most recent call last)"


@dataclass
class Ran:
    name: str
    rc: int | None
    seconds: float
    rss_kb: int
    out: Path
    err: Path
    timed_out: bool = False
    allowed: tuple[int, ...] = (0,)

    def stdout(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")

    @property
    def crashed(self) -> str | None:
        """Why this run counts as a crash, or None."""
        if self.timed_out:
            return f"timed out after {self.seconds:.0f} s"
        if self.rc is None or self.rc < 0:
            return f"killed by signal {-(self.rc or 0)}"
        if TRACEBACK in self.stderr() or TRACEBACK in self.stdout():
            return "printed a traceback"
        if self.rc not in self.allowed:
            return f"exit status {self.rc}"
        return None


def _reap(popen: subprocess.Popen[bytes]) -> tuple[int | None, int]:
    """(exit code, peak RSS in KiB) of a finished child, through wait4."""
    while True:
        try:
            _pid, status, usage = os.wait4(popen.pid, 0)
            break
        except ChildProcessError:  # already reaped elsewhere: no figures
            return popen.returncode, 0
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(status)
    popen.returncode = code
    return code, int(usage.ru_maxrss)


@dataclass
class Started:
    """A long-running command (``newsbot run``)."""

    name: str
    popen: subprocess.Popen[bytes]
    out: Path
    err: Path
    started: float
    allowed: tuple[int, ...] = (0,)

    def text(self) -> str:
        return (self.out.read_text(encoding="utf-8", errors="replace")
                + self.err.read_text(encoding="utf-8", errors="replace"))

    def alive(self) -> bool:
        """Still running (asked without reaping it: ``stop`` reaps it for its figures)."""
        try:
            return os.waitid(os.P_PID, self.popen.pid,
                             os.WEXITED | os.WNOHANG | os.WNOWAIT) is None
        except ChildProcessError:
            return False

    def stop(self, timeout: float = 60.0) -> Ran:
        """SIGTERM (newsbot's warm shutdown), SIGKILL to the group when it hangs."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        fired = threading.Event()

        def kill() -> None:
            fired.set()
            self._kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            rc, rss = _reap(self.popen)
        finally:
            timer.cancel()
        return Ran(self.name, rc, time.monotonic() - self.started, rss, self.out, self.err,
                   timed_out=fired.is_set(), allowed=self.allowed)

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)


class Runner:
    """Starts commands with one environment; numbers their output files in ``logs``."""

    def __init__(self, logs: Path, env: dict[str, str]) -> None:
        self.logs = logs
        self.env = env
        self.ran: list[Ran] = []
        self._count = 0
        self._lock = threading.Lock()
        logs.mkdir(parents=True, exist_ok=True)

    def _files(self, name: str) -> tuple[Path, Path]:
        with self._lock:
            self._count += 1
            stem = f"{self._count:04d}-{name}"
        return self.logs / f"{stem}.out", self.logs / f"{stem}.err"

    def _popen(self, argv: list[str], out: Path, err: Path,
               env: dict[str, str] | None) -> subprocess.Popen[bytes]:
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                    env={**self.env, **(env or {})}, start_new_session=True,
                                    cwd=self.logs)

    def run(self, name: str, argv: list[str], *, timeout: float,
            allowed: tuple[int, ...] = (0,), env: dict[str, str] | None = None) -> Ran:
        out, err = self._files(name)
        started = time.monotonic()
        popen = self._popen(argv, out, err, env)
        fired = threading.Event()

        def kill() -> None:
            fired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            rc, rss = _reap(popen)
        finally:
            timer.cancel()
        ran = Ran(name, rc, time.monotonic() - started, rss, out, err, timed_out=fired.is_set(),
                  allowed=allowed)
        with self._lock:
            self.ran.append(ran)
        return ran

    def start(self, name: str, argv: list[str], *, allowed: tuple[int, ...] = (0,),
              env: dict[str, str] | None = None) -> Started:
        out, err = self._files(name)
        return Started(name, self._popen(argv, out, err, env), out, err, time.monotonic(),
                       allowed=allowed)

    def record(self, ran: Ran) -> Ran:
        with self._lock:
            self.ran.append(ran)
        return ran
