"""Running the real ``newsbot`` commands for the hostile-corpus suite, and what each one cost.

Every command is a child process in its own session, its stdout and stderr kept in files (the
secrets search reads them all), killed with its group when it outlives its timeout.  Its peak
resident memory is the kernel's own figure (``ru_maxrss`` from ``wait4``), taken by a small
launcher (``LAUNCH``, a bare interpreter) that forks the command: a child's ``ru_maxrss``
starts from its parent's RSS at the fork, so forked from this suite's process (fakes, servers,
journals) every figure would carry that too; from the launcher it carries a few MB at most.  A
command *crashed* when it timed out, ended by a signal, exited with a status it does not
document, or printed a Python traceback: newsbot turns every expected problem into one line.
"""

from __future__ import annotations

import contextlib
import json
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
#: argv: the file for the figures, then the command.  Exits as the command did (same status,
#: or the same signal); a SIGTERM to the group is for the command: the launcher waits it out.
LAUNCH = """
import json, os, signal, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    try:
        _, status, usage = os.wait4(pid, 0)
        break
    except InterruptedError:
        continue
with open(sys.argv[1], "w") as fh:
    json.dump({"maxrss_kb": usage.ru_maxrss}, fh)
code = os.waitstatus_to_exitcode(status)
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
sys.exit(code)
"""


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


def _reap(popen: subprocess.Popen[bytes], figures: Path) -> tuple[int | None, int]:
    """(exit code, peak RSS in KiB) of a finished command: the launcher's figure for it, or,
    when the launcher was killed too, its own (an upper bound)."""
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
    try:
        return code, int(json.loads(figures.read_text(encoding="utf-8"))["maxrss_kb"])
    except (OSError, ValueError, KeyError):
        return code, int(usage.ru_maxrss)


@dataclass
class Started:
    """A long-running command (``newsbot run``)."""

    name: str
    popen: subprocess.Popen[bytes]
    out: Path
    err: Path
    figures: Path
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
            rc, rss = _reap(self.popen, self.figures)
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
        self.started: list[Started] = []
        self._count = 0
        self._lock = threading.Lock()
        logs.mkdir(parents=True, exist_ok=True)

    def _files(self, name: str) -> tuple[Path, Path, Path]:
        with self._lock:
            self._count += 1
            stem = f"{self._count:04d}-{name}"
        return (self.logs / f"{stem}.out", self.logs / f"{stem}.err",
                self.logs / f"{stem}.rss.json")

    def _popen(self, argv: list[str], out: Path, err: Path, figures: Path,
               env: dict[str, str] | None) -> subprocess.Popen[bytes]:
        launch = [sys.executable, "-I", "-S", "-c", LAUNCH, str(figures), *argv]
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            return subprocess.Popen(launch, stdin=subprocess.DEVNULL, stdout=stdout,
                                    stderr=stderr, env={**self.env, **(env or {})},
                                    start_new_session=True, cwd=self.logs)

    def run(self, name: str, argv: list[str], *, timeout: float,
            allowed: tuple[int, ...] = (0,), env: dict[str, str] | None = None) -> Ran:
        out, err, figures = self._files(name)
        started = time.monotonic()
        popen = self._popen(argv, out, err, figures, env)
        fired = threading.Event()

        def kill() -> None:
            fired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            rc, rss = _reap(popen, figures)
        finally:
            timer.cancel()
        ran = Ran(name, rc, time.monotonic() - started, rss, out, err, timed_out=fired.is_set(),
                  allowed=allowed)
        with self._lock:
            self.ran.append(ran)
        return ran

    def start(self, name: str, argv: list[str], *, allowed: tuple[int, ...] = (0,),
              env: dict[str, str] | None = None) -> Started:
        out, err, figures = self._files(name)
        started = Started(name, self._popen(argv, out, err, figures, env), out, err, figures,
                          time.monotonic(), allowed=allowed)
        with self._lock:
            self.started.append(started)
        return started

    def record(self, ran: Ran) -> Ran:
        with self._lock:
            self.ran.append(ran)
        return ran
