"""Proof: crashes.  ``python -m proofs crash [--short|--long] [--seed N] [--keep]`` (or
``python -m proofs.crash ...``).

The promise (README, "How delivery works": Once, Leases and the fence, A holder that is gone):
``kill -9`` of any newsbot process at any moment, restarted, gives no duplicate and loses no
post; a send that may be out is never repeated on Telegram but handed to the editors (``in_doubt``)
within seconds, and on X (which refuses an identical repeat) it is simply retried.

What it does, with real ``newsbot`` processes against the fakes and a real Redis:

split deployment
  the suite's Redis, ``newsbot beat``, ``newsbot bot`` (the editors' notices) and three
  ``newsbot worker``; the fakes answer every channel ``sendPhoto`` after 0.5-1.5 s and every
  ``POST /2/tweets`` after 0.8 s, so a kill lands inside requests.  Posts are written to the
  site (in waves in the long version); every 1-2 s the process group of a random worker that
  is up gets SIGKILL (one with a request out is preferred, for up to 2 s) and a replacement
  is started at once.
``newsbot run``
  ``REDIS_URL`` unset: ``run`` brings its own embedded Redis under DATA_DIR.  Its whole process
  group gets SIGKILL mid-backlog and it is restarted (on the same data), several times.

The judge reads what the fakes received (the ledger) and the delivery records:

* duplicates: any post on any platform more than once;
* lost: a post not ``sent`` on both platforms (Telegram may be ``in_doubt``), a ``sent`` record
  the platform never got, or a record still busy after the settle time;
* every ``in_doubt`` must be traced to a kill: its lease holder (the pid in the lease owner) was
  killed after the record entered ``sending`` and before it went ``in_doubt``, and, when the
  channel did get the post, its request reached the fake before that kill (in flight, or
  answered but not yet recorded);
* no X record in doubt for a kill (X's duplicate refusal makes the retry safe);
* the editors' notice: from the kill (a worker: the beat settles its lease, nothing needs a
  restart) or from the restart (``newsbot run``: nothing of it runs in between) to the
  ``Outcome unknown`` message reaching the fake editors' chat: at most 10 s.
"""

from __future__ import annotations

import contextlib
import functools
import random
import re
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.redis_embedded import attach_embedded
from bot.state import Record, State
from bot.state.notices import NoticeQueue

from .harness import (
    CHANNEL,
    CHANNEL_ID,
    EDITOR_CHAT,
    SITE_URL,
    Mode,
    Stack,
    Started,
    now_utc,
    wait_until,
    workdir,
)
from .report import Result

__all__ = ["run"]

SUITE = "crash"
SCALE = 0.01
NOTICE_BOUND_S = 10.0
#: Production tick period; the suite's is scaled with the rate windows (``tasks.configure``).
TICK_S = 1.0
BUSY = ("new", "queued", "sending", "retry_wait", "waiting")
TG_DELAY = (0.5, 1.5)
X_DELAY = 0.8
DOUBT_TEXT = "Outcome unknown"
_OWNER_PID = re.compile(r"owner [^\s:]+:(\d+):")
_POST_URL = re.compile(r"https://news\.example/[^\s\"'<>]+")


@dataclass
class Kill:
    """One SIGKILL: when, which newsbot pid, and when its replacement was started."""

    at: float
    pid: int | None
    name: str
    kind: str  # "worker" | "run"
    restarted_at: float | None = None
    state_at: float | None = None  # a restarted run: its state reachable (its first line)


@dataclass
class Plan:
    posts: int
    waves: int
    kills: int
    run_posts: int
    run_kills: int
    settle_s: float


@dataclass
class Phase:
    """What one scenario left behind for the judge."""

    name: str
    urls: list[str]
    kills: list[Kill]
    records: list[Record]
    histories: dict[str, list[dict[str, Any]]]
    ledger: dict[str, Counter[str]]
    tg_requests: dict[str, list[float]]  # post URL -> arrival times of channel sends
    notices: dict[str, float]  # post URL -> first "Outcome unknown" notice at the fake
    settled: bool
    leaks: dict[str, int]
    crashed: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    written_at: dict[str, float] = field(default_factory=dict)


def _newsbot_pid(proc: Started) -> int | None:
    """The newsbot process under the harness's launcher (the pid a lease owner names)."""
    path = Path(f"/proc/{proc.popen.pid}/task/{proc.popen.pid}/children")
    try:
        kids = path.read_text(encoding="ascii").split()
    except OSError:
        return None
    return int(kids[0]) if kids else None


def _announced(proc: Started) -> bool:
    """``newsbot run`` said where its state is: its embedded Redis is up (the first thing it
    does after loading its code)."""
    return "; state in " in proc.text()


def _import_cost() -> tuple[float, float]:
    """(wall, CPU) seconds of a bare interpreter importing what ``newsbot run`` loads before its
    state is up: how loaded this machine is now (on an idle one wall ~= CPU)."""
    code = ("import bot.cli, bot.runner, tasks, celery.beat, bot.platforms.registry, "
            "bot.platforms.telegram, bot.platforms.x, bot.editor.app, bot.delivery.services")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, timeout=300,
                   cwd=Path(__file__).resolve().parents[1])
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return time.monotonic() - started, cpu


def _ready(proc: Started) -> bool:
    """Celery's "<name>@<host> ready." line (or the process is gone)."""
    return " ready." in proc.text() or not proc.alive()


class _Scenario:
    def __init__(self, stack: Stack, rng: random.Random, plan: Plan) -> None:
        self.stack, self.rng, self.plan = stack, rng, plan
        self.kills: list[Kill] = []
        self.urls: list[str] = []
        self.written_at: dict[str, float] = {}
        self.crashed: list[str] = []
        self.written = 0
        self.when = now_utc() - timedelta(minutes=2)
        self.phases: dict[str, float] = {}
        self.t0 = time.monotonic()

    def mark(self, what: str) -> None:
        self.phases[what] = time.monotonic() - self.t0

    # ------------------------------------------------------------------ set-up
    def slow_sends(self, posts: int) -> None:
        """Every channel photo and every X post answered late: kills land inside requests.
        The editors' notices (sendMessage to their group) are not slowed."""
        count = posts * 4
        for _ in range(count):
            self.stack.tg.delay_next("sendPhoto", self.rng.uniform(*TG_DELAY))
        self.stack.x.delay_next("/2/tweets", X_DELAY, count=count)

    def write(self, count: int, tag: str) -> None:
        for _ in range(count):
            self.written += 1
            slug = f"{tag}-{self.written:03d}"
            self.stack.write_post(slug, self.when, title=f"Crash story {tag} {self.written:03d}")
            self.urls.append(self.url(slug))
            self.written_at[self.url(slug)] = time.time()

    def baseline(self) -> None:
        ran = self.stack.run("scan-baseline", "scan", timeout=180)
        if ran.crashed:
            self.crashed.append(f"scan-baseline: {ran.crashed}")

    def url(self, slug: str) -> str:
        """The post's URL as Jekyll makes it (``permalink: date``, UTC): the judge's list of
        posts is the site's, not the product's account of it."""
        return f"{SITE_URL}/{self.when:%Y/%m/%d}/{slug}.html"

    def kill(self, proc: Started, kind: str) -> Kill:
        pid = _newsbot_pid(proc)
        kill = Kill(time.time(), pid, proc.name, kind)
        self.stack.kill(proc, signal.SIGKILL)
        proc.popen.wait()
        self.kills.append(kill)
        return kill


def _busy(records: list[Record]) -> int:
    return sum(1 for rec in records if rec.state in BUSY)


def _settle(state: State, expected: int, timeout: float) -> bool:
    """Every record final and the editors' notice queue empty for 2 s in a row."""
    notices = NoticeQueue(state.client)
    quiet: list[float] = []

    def done() -> bool:
        records = state.records()
        if len(records) < expected or _busy(records) or notices.pending():
            quiet.clear()
            return False
        quiet.append(time.monotonic())
        return quiet[-1] - quiet[0] >= 2.0

    return bool(wait_until(done, timeout, every=0.5))


def _collect(name: str, sc: _Scenario, state: State, settled: bool) -> Phase:
    stack = sc.stack
    records = state.records()
    histories = {rec.key: state.history(*rec.ref) for rec in records}
    tg_requests: dict[str, list[float]] = {}
    notices: dict[str, float] = {}
    for call in stack.tg.calls("sendPhoto") + stack.tg.calls("sendMessage"):
        chat = str(call.params.get("chat_id", ""))
        text = str(call.params.get("caption") or call.params.get("text") or "")
        if chat in (CHANNEL, str(CHANNEL_ID)):
            for url in set(_POST_URL.findall(text)):
                tg_requests.setdefault(url, []).append(call.time)
        elif chat == str(EDITOR_CHAT) and call.ok and DOUBT_TEXT in text:
            for url in set(_POST_URL.findall(text)):
                notices[url] = min(notices.get(url, call.time), call.time)
    return Phase(name, sc.urls, sc.kills, records, histories, stack.ledger(), tg_requests,
                 notices, settled, stack.leaks(), sc.crashed, sc.phases,
                 sc.written_at)


# ---------------------------------------------------------------------- split deployment
def _sending_pids(state: State) -> set[int]:
    """Pids of the processes holding a lease past its fence: a request of theirs is out."""
    pids: set[int] = set()
    for key, owner in state.held_leases():
        rec = state.get_by_key(key)
        pid = _owner_pid(f"owner {owner}")
        if rec is not None and rec.send_deadline is not None and pid is not None:
            pids.add(pid)
    return pids


def _in_send(state: State, pid: int | None) -> bool:
    return pid in _sending_pids(state)


def _victim(state: State, workers: list[Started], rng: random.Random) -> int:
    """Which worker to kill: a random one of those up, preferring (for up to 2 s) one with a
    request out, so that most kills land inside a send as the issue asks."""
    wait_until(lambda: any(_ready(p) for p in workers), 30)

    def in_send() -> list[int]:
        busy = _sending_pids(state)
        return [i for i, p in enumerate(workers) if _ready(p) and _newsbot_pid(p) in busy]

    chosen = wait_until(in_send, 2.0, every=0.05)
    if chosen:
        return rng.choice(chosen)
    up = [i for i, p in enumerate(workers) if _ready(p)] or list(range(len(workers)))
    return rng.choice(up)


def split_phase(work: Path, rng: random.Random, plan: Plan) -> Phase:
    with Stack(work, scale=SCALE, env={"SCAN_SECONDS": "60"}) as stack:
        sc = _Scenario(stack, rng, plan)
        sc.slow_sends(plan.posts)
        beat = stack.start("beat", "beat")
        editors = stack.start("bot", "bot")
        workers = [stack.start(f"worker-{i}", "worker") for i in range(3)]
        sc.baseline()  # the empty site's first scan, while they start
        wait_until(lambda: all(_ready(p) for p in workers), 120)
        sc.mark("processes up")
        state = stack.state()
        per_wave = -(-plan.posts // plan.waves)
        waves_at = [plan.kills * w // plan.waves for w in range(1, plan.waves)]
        sc.write(min(per_wave, plan.posts), "split")
        wait_until(lambda: len(state.records()) >= 2 * sc.written, 60)
        started = len(workers)
        deadline = time.monotonic() + 60 + plan.kills * 6
        while len(sc.kills) < plan.kills and time.monotonic() < deadline:
            time.sleep(rng.uniform(1.0, 2.0))
            if sc.written < plan.posts and (
                    (waves_at and len(sc.kills) >= waves_at[0]) or not _busy(state.records())):
                waves_at = waves_at[1:]
                sc.write(min(per_wave, plan.posts - sc.written), "split")
            i = _victim(state, workers, rng)
            kill = sc.kill(workers[i], "worker")
            started += 1
            workers[i] = stack.start(f"worker-{started}", "worker")
            kill.restarted_at = time.time()
        if sc.written < plan.posts:
            sc.write(plan.posts - sc.written, "split")
        sc.mark("kills done")
        settled = _settle(state, 2 * len(sc.urls), plan.settle_s)
        sc.mark("settled")
        for name, proc in (("beat", beat), ("bot", editors)):
            if not proc.alive():
                sc.crashed.append(f"{name} exited")
        return _collect("split", sc, state, settled)


# ---------------------------------------------------------------------- newsbot run
@contextlib.contextmanager
def _attached(stack: Stack) -> Iterator[State]:
    """The state of ``newsbot run``'s own embedded Redis, attached as a short command does."""
    att = attach_embedded(stack.data, timeout=60)
    try:
        yield State(stack.client(att.url))
    finally:
        att.stop()


def run_phase(work: Path, rng: random.Random, plan: Plan) -> Phase:
    with Stack(work, scale=SCALE, redis_url=None, env={"SCAN_SECONDS": "60"}) as stack:
        sc = _Scenario(stack, rng, plan)
        sc.slow_sends(plan.run_posts)
        sc.baseline()
        run = stack.start("run", "run")
        if not wait_until(lambda: _ready(run), 120) or not run.alive():
            sc.crashed.append("run did not start")
        sc.mark("run up")
        sc.write(plan.run_posts, "run")
        with _attached(stack) as state:
            wait_until(lambda: len(state.records()) >= 2 * sc.written, 60)
        for n in range(plan.run_kills):
            time.sleep(rng.uniform(1.0, 2.0))
            with _attached(stack) as live:  # kill it with a request out, if one comes
                wait_until(functools.partial(_in_send, live, _newsbot_pid(run)), 3.0, every=0.05)
            kill = sc.kill(run, "run")
            time.sleep(rng.uniform(0.2, 1.0))
            run = stack.start(f"run-{n + 2}", "run")
            kill.restarted_at = time.time()
            if wait_until(functools.partial(_announced, run), 120, every=0.05):
                kill.state_at = time.time()
            if not wait_until(functools.partial(_ready, run), 120) or not run.alive():
                sc.crashed.append(f"run did not restart after kill {n + 1}")
        sc.mark("kills done")
        with _attached(stack) as state:
            settled = _settle(state, 2 * len(sc.urls), plan.settle_s)
            sc.mark("settled")
            phase = _collect("run", sc, state, settled)
        if not run.alive():
            sc.crashed.append("run exited")
        return phase


# ---------------------------------------------------------------------- the judge
@dataclass
class Doubt:
    url: str
    posted: bool
    kill: Kill | None
    why: str  # "" when traced
    notice_s: float | None  # from the kill (a worker) or the restart (newsbot run)
    settled_s: float | None = None  # kill (or restart) -> in_doubt: the reaper's part
    from_state_s: float | None = None  # newsbot run: from its state being reachable


def _owner_pid(reason: str) -> int | None:
    found = _OWNER_PID.search(reason)
    return int(found.group(1)) if found else None


def _trace(phase: Phase, rec: Record) -> Doubt:
    """Which kill explains this in_doubt record, and how long the editors waited."""
    posted = phase.ledger.get(rec.post, Counter())["telegram"] > 0
    hist = phase.histories.get(rec.key, [])
    last = next((h for h in reversed(hist) if h["to"] == "in_doubt"), None)
    if last is None:
        return Doubt(rec.post, posted, None, "no in_doubt entry in its history", None)
    pid = _owner_pid(str(last["reason"]))
    sending = [h["at"] for h in hist if h["to"] == "sending" and h["at"] <= last["at"]]
    kill = next((k for k in phase.kills if k.pid is not None and k.pid == pid), None)
    why = ""
    if "mid-send" not in str(last["reason"]) or kill is None:
        why = f"not a killed holder: {str(last['reason'])[:160]}"
    elif not sending or not sending[-1] - 0.05 <= kill.at <= last["at"] + 0.05:
        why = f"kill at {kill.at:.2f} outside its send ({sending[-1:]} .. {last['at']:.2f})"
    elif posted and not any(t <= kill.at + 0.05
                            for t in phase.tg_requests.get(rec.post, [])):
        why = "posted, but its request reached the channel only after the kill"
    notice_at = phase.notices.get(rec.post)
    notice_s = settled_s = None
    if kill is not None:
        origin = kill.restarted_at if kill.kind == "run" and kill.restarted_at else kill.at
        settled_s = max(0.0, last["at"] - origin)
        if notice_at is not None:
            notice_s = max(0.0, notice_at - origin)
    from_state = None
    if kill is not None and kill.kind == "run" and notice_at is not None:
        from_state = max(0.0, notice_at - (kill.state_at or kill.restarted_at or kill.at))
    return Doubt(rec.post, posted, kill, why, notice_s, settled_s, from_state)


def _reaped_mid_send(phase: Phase) -> dict[int, int]:
    """Killed pid -> records its death caught past the fence (any platform)."""
    out: Counter[int] = Counter()
    for hist in phase.histories.values():
        for h in hist:
            if h.get("by") == "reaper" and "mid-send" in str(h.get("reason", "")):
                pid = _owner_pid(str(h["reason"]))
                if pid is not None:
                    out[pid] += 1
    return dict(out)


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def judge(phases: list[Phase], result: Result) -> None:
    r = result
    dups: dict[str, Counter[str]] = {}
    lost: list[str] = []
    stuck: list[str] = []
    doubts: list[Doubt] = []
    x_doubt: list[str] = []
    x_reaped = x_dup_sent = x_found = 0
    kills = [k for p in phases for k in p.kills]
    inside = 0
    crashed = [c for p in phases for c in p.crashed]
    leaks: dict[str, int] = {}
    for p in phases:
        leaks.update(p.leaks)
        dups.update({u: c for u, c in p.ledger.items() if max(c.values()) > 1})
        by_post: dict[str, dict[str, Record]] = {}
        for rec in p.records:
            by_post.setdefault(rec.post, {})[rec.platform] = rec
            if rec.state in BUSY:
                stuck.append(f"{p.name} {rec.platform} {rec.post}: {rec.state} {rec.reason[:80]}")
        for url in p.urls:
            recs = by_post.get(url, {})
            got = p.ledger.get(url, Counter())
            tg, x = recs.get("telegram"), recs.get("x")
            if tg is None or tg.state not in ("sent", "in_doubt") or (
                    tg.state == "sent" and got["telegram"] < 1):
                lost.append(f"{p.name} telegram {url}: {tg.state if tg else 'no record'}")
            if x is None or x.state != "sent" or got["x"] < 1:
                lost.append(f"{p.name} x {url}: {x.state if x else 'no record'}, "
                            f"{got['x']} on X")
        reaped = _reaped_mid_send(p)
        inside += sum(1 for k in p.kills if k.pid is not None and reaped.get(k.pid))
        for rec in p.records:
            if rec.platform == "telegram" and rec.state == "in_doubt":
                doubts.append(_trace(p, rec))
            if rec.platform == "x":
                if rec.state == "in_doubt":
                    x_doubt.append(f"{p.name} {rec.post}: {rec.reason[:100]}")
                hist = p.histories.get(rec.key, [])
                if any(h.get("by") == "reaper" and "mid-send" in str(h.get("reason", ""))
                       for h in hist):
                    x_reaped += 1
                    x_dup_sent += int(bool(rec.receipt_id and "duplicate" in rec.receipt_id))
                    x_found += int(any("found on the account" in n for n in rec.notes))

    posts = sum(len(p.urls) for p in phases)
    r.figure("posts (split / run)", " / ".join(str(len(p.urls)) for p in phases))
    r.figure("kills -9 (workers / newsbot run)",
             f"{sum(k.kind == 'worker' for k in kills)} / {sum(k.kind == 'run' for k in kills)}")
    r.figure("kills that caught a send past its fence", f"{inside} of {len(kills)}")
    r.figure("duplicates (any platform)", len(dups))
    r.figure("lost (not sent nor in doubt, or sent but not on the platform)", len(lost))
    r.figure("records still busy after the settle time", len(stuck))
    posted = sum(d.posted for d in doubts)
    r.figure("Telegram in_doubt (posted / not posted)",
             f"{len(doubts)} ({posted} / {len(doubts) - posted})")
    r.figure("X sends caught by a kill, retried (found on the account / settled by X's "
             "duplicate answer)", f"{x_reaped} ({x_found} / {x_dup_sent})")
    r.figure("X records in_doubt", len(x_doubt))
    for kind, origin in (("worker", "kill"), ("run", "restart of newsbot run")):
        times = [d.notice_s for d in doubts
                 if d.notice_s is not None and d.kill is not None and d.kill.kind == kind]
        settled = [d.settled_s for d in doubts if d.settled_s is not None
                   and d.kill is not None and d.kill.kind == kind]
        r.figure(f"in_doubt recorded after the {origin}, s: max",
                 f"{max(settled, default=0):.1f}")
        r.figure(f"editors' notice after the {origin}, s: max, p95 (n)",
                 f"{max(times, default=0):.1f}, {_p95(times):.1f} ({len(times)})")
    run_kills = [k for k in kills if k.kind == "run" and k.state_at and k.restarted_at]
    boot = [k.state_at - k.restarted_at for k in run_kills if k.state_at and k.restarted_at]
    r.figure("newsbot run restarted -> its state up (loading its code), s: max",
             f"{max(boot, default=0):.1f}")
    from_state = [d.from_state_s for d in doubts if d.from_state_s is not None]
    r.figure("editors' notice after newsbot run's state was up, s: max",
             f"{max(from_state, default=0):.1f}")
    for p in phases:
        done: dict[str, float] = {}
        for rec in p.records:
            if rec.updated_at is not None and rec.post in p.written_at:
                span = rec.updated_at - p.written_at[rec.post]
                done[rec.post] = max(done.get(rec.post, 0.0), span)
        spans = sorted(done.values())
        r.figure(f"{p.name}: post written -> final on both platforms, s: p50, max",
                 f"{spans[len(spans) // 2] if spans else 0:.1f}, {max(spans, default=0):.1f}")
        r.figure(f"{p.name}: timeline, s", ", ".join(f"{k} {v:.0f}" for k, v in p.timings.items()))
    for line in (lost[:4] + stuck[:4] + x_doubt[:3] + crashed[:4]):
        r.note(line)

    untraced = [f"{d.url}: {d.why}" for d in doubts if d.why]
    unnoticed = [d.url for d in doubts if d.notice_s is None]
    slow = [f"{d.url} {d.notice_s:.1f}s after the kill" for d in doubts
            if d.notice_s is not None and d.kill is not None and d.kill.kind == "worker"
            and d.notice_s > NOTICE_BOUND_S]
    slow += [f"{d.url} {d.from_state_s:.1f}s after run's state was up" for d in doubts
             if d.from_state_s is not None and d.from_state_s > NOTICE_BOUND_S]
    r.promise("the scenario ran (posts written, kills made, processes up)",
              posts > 0 and kills and not crashed, "; ".join(crashed[:3]) or "nothing ran")
    r.promise("every record settled (nothing queued, sending, retrying or waiting)",
              all(p.settled for p in phases) and not stuck, "; ".join(stuck[:3]))
    r.promise("0 duplicates", not dups, ", ".join(f"{u} {dict(c)}" for u, c in
                                                   list(dups.items())[:3]))
    r.promise("0 lost", not lost, "; ".join(lost[:3]))
    r.promise("every in_doubt traced to a kill inside its send", not untraced,
              "; ".join(untraced[:3]))
    r.promise("no X record in doubt for a kill (its retry is safe)", not x_doubt,
              "; ".join(x_doubt[:3]))
    r.promise("every in_doubt surfaced to the editors", not unnoticed, ", ".join(unnoticed[:3]))
    r.promise(f"each within {NOTICE_BOUND_S:g} s of the kill (a worker) or of the restarted "
              "newsbot run's state being up (its code loading is shown above)",
              not slow, ", ".join(slow[:3]))
    r.promise("no secret in any log", not leaks, str(leaks))


# ---------------------------------------------------------------------- entry points
def plan_for(long: bool) -> Plan:
    if long:
        return Plan(posts=200, waves=4, kills=22, run_posts=40, run_kills=3, settle_s=300)
    return Plan(posts=30, waves=1, kills=8, run_posts=6, run_kills=1, settle_s=90)


def run(mode: Mode) -> Result:
    """The suite, as ``python -m proofs crash`` calls it."""
    result = Result(SUITE, mode.name)
    seed = random.SystemRandom().randrange(10**6) if mode.seed is None else mode.seed
    plan = plan_for(mode.long)
    rng = random.Random(seed)
    result.note(f"seed {seed}; time scaled: rate windows x{SCALE} (NEWSBOT_TESTING=1), so the "
                f"tick runs every {max(0.05, TICK_S * SCALE):g} s instead of {TICK_S:g} s")
    result.note(f"fakes answer channel photos after {TG_DELAY[0]:g}-{TG_DELAY[1]:g} s and X "
                f"posts after {X_DELAY:g} s; split: beat, bot, 3 workers, a random worker "
                "killed every 1-2 s; then newsbot run (own embedded Redis) killed as a group")
    wall, cpu = _import_cost()
    result.figure("this machine now: loading newsbot's code, s wall / CPU",
                  f"{wall:.1f} / {cpu:.1f}")
    with workdir(SUITE, mode.keep) as work:
        phases = [split_phase(work / "split", rng, plan),
                  run_phase(work / "run", rng, plan)]
    judge(phases, result)
    return result


if __name__ == "__main__":
    from .__main__ import main

    sys.exit(main([SUITE, *sys.argv[1:]]))
