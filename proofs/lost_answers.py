"""Proof: lost answers.  ``python -m proofs lost_answers [--short|--long] [--keep]``.

The promise (README "Uncertain answers"): a connection dropped *after* the platform carried out
the request never makes a post go out twice.  Telegram has no idempotency, so a post whose send
lost its answer is recorded ``in_doubt`` (the editors decide); X refuses an identical repeat, so
there the send is retried and X's duplicate answer recorded as sent: the post is on X once.  A
lost answer to a call with no public effect (getMe, a media upload, its STATUS or alt text) is
safe to repeat: the post must still go out, once.

How: the real ``newsbot worker`` and ``newsbot beat`` (threads pool, ``LOG_LEVEL=DEBUG``) against
the fakes and an embedded Redis.  In phases, fresh posts are written and the fakes drop the
connection after carrying out the next K calls of one method per platform (``drop_next(...,
after_processing=True)``); every send method the publishers call gets its row:

=========  ===========================================  ====================================
phase      Telegram (bot/platforms/telegram.py)         X (bot/platforms/x_api.py)
=========  ===========================================  ====================================
first      getMe (``Bot.initialize`` before a send)     GET /2/media/upload?command=STATUS
photo      sendPhoto, the prepared image uploaded       POST /2/media/upload (one-shot)
text       sendMessage, a post without image            POST /2/tweets
fallback   sendMessage after Telegram refused the       POST /2/media/metadata (alt text)
           photo (400 PHOTO_INVALID_DIMENSIONS)
=========  ===========================================  ====================================

sendPhoto by URL and X's chunked upload (initialize/append/finalize) are not rows: the
publishers never call them (the prepared variant is always uploaded; images go one-shot).

Judged by what the fakes received (``Stack.ledger``: channel messages and X posts per post URL)
and by the records in Redis: every row's posts end as expected, no post reaches a platform twice,
nothing is left queued, sending or retrying, no secret is in any log.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.delivery.sender import DUPLICATE_NOTE
from bot.platforms.x import FOUND_NOTE
from bot.state import Record, State
from bot.state.notices import NoticeQueue

from .harness import Mode, Stack, Started, now_utc, wait_until, workdir
from .report import Result

__all__ = ["BUSY", "TERMINAL", "run"]

SUITE = "lost_answers"
#: Records in these states are settled: nothing will happen to them without an editor.
TERMINAL = ("sent", "failed", "in_doubt")
BUSY = ("new", "queued", "sending", "retry_wait", "waiting")
PHOTO_REFUSED = "Bad Request: PHOTO_INVALID_DIMENSIONS"


@dataclass
class Row:
    """One send method of one platform: what was dropped and how its posts ended."""

    platform: str
    method: str
    expect: str  # "in_doubt" or "sent"
    drops: int = 0
    from_duplicate: int = 0  # X: recorded sent from X's duplicate answer to the retry
    from_read: int = 0  # X: found on the account's own recent posts before the retry
    states: Counter[str] = field(default_factory=Counter)
    copies: Counter[int] = field(default_factory=Counter)  # times on the platform -> posts

    @property
    def duplicates(self) -> int:
        return sum(n for times, n in self.copies.items() if times > 1)

    def outcome(self) -> str:
        states = ", ".join(f"{n} {s}" for s, n in sorted(self.states.items()))
        out = ", ".join(f"{n} posts {t}x" for t, n in sorted(self.copies.items()))
        how = [f"{n} {what}" for n, what in ((self.from_read, "found on the account"),
                                            (self.from_duplicate, "by X's duplicate answer"))
               if n]
        dup = f" ({', '.join(how)})" if how else ""
        return (f"{self.drops} drops; {states}{dup}; on {self.platform}: {out}; "
                f"duplicates {self.duplicates}")

    def kept(self, posts: int) -> bool:
        if self.drops < 1 or self.duplicates or sum(self.states.values()) != posts:
            return False
        if self.expect == "sent":
            return self.states["sent"] == posts and self.copies[1] == posts
        # in doubt, and out once: the drop came after Telegram posted it
        return self.states["in_doubt"] == posts and self.copies[1] == posts


@dataclass
class Phase:
    name: str
    image: bool
    rows: list[Row]
    inject: Callable[[Stack, int], None]
    slugs: list[str] = field(default_factory=list)


def write_text_post(stack: Stack, slug: str) -> Path:
    """A post without a feature image (``Stack.write_post`` always gives one)."""
    when = now_utc() - timedelta(minutes=1)
    path = stack.site / "_posts" / f"{when:%Y-%m-%d}-{slug}.md"
    text = (f"---\ntitle: Story {slug}\ndate: {when:%Y-%m-%d %H:%M:%S} +0000\ntags: [news]\n"
            f"excerpt: A short excerpt about {slug}.\n---\n\nBody text.\n")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.rename(path)
    return path


def start_processes(stack: Stack, result: Result, timeout: float = 90.0) -> list[Started]:
    """Baseline scan of the empty site, then ``newsbot worker`` and ``newsbot beat``."""
    stack.run("scan-baseline", "scan", timeout=timeout)
    worker = stack.start("worker", "worker")
    beat = stack.start("beat", "beat")
    ready = wait_until(lambda: (" ready." in worker.text() and "watching" in beat.text())
                       or not (worker.alive() and beat.alive()), timeout)
    if not ready or not (worker.alive() and beat.alive()):
        result.promise("newsbot worker and beat started", False,
                       f"worker alive {worker.alive()}, beat alive {beat.alive()}")
        raise RuntimeError("newsbot worker/beat did not start")
    return [worker, beat]


def records_of(state: State, slugs: Iterable[str]) -> dict[tuple[str, str], Record]:
    """(slug, platform) -> the delivery record of each of these posts.

    ``state``: one ``Stack.state()`` for the whole run (each call of it opens a client).
    """
    wanted = set(slugs)
    return {(_slug(rec.post), rec.platform): rec for rec in state.records()
            if _slug(rec.post) in wanted}


def doubt_notices(state: State) -> set[tuple[str, str]]:
    """(post URL, platform) of every ``in_doubt`` notice queued for the editors."""
    queue = NoticeQueue(state.client)
    notices = [e.data.get("notice") or {} for e in queue.due(window=100_000)]
    return {(n.get("post_url", ""), n.get("platform", "")) for n in notices
            if n.get("kind") == "in_doubt"}


def _slug(url: str) -> str:
    last = url.rstrip("/").rsplit("/", 1)[-1]
    return last.removesuffix(".html")


def settle(state: State, slugs: list[str], timeout: float,
           platforms: tuple[str, ...] = ("telegram", "x")) -> bool:
    """Wait until every post has a settled record per platform; False when time ran out."""
    def done() -> bool:
        recs = records_of(state, slugs)
        return len(recs) == len(slugs) * len(platforms) and all(
            rec.state in TERMINAL for rec in recs.values())
    return bool(wait_until(done, timeout, every=0.5))


def _phases(k: int) -> list[Phase]:
    def first(stack: Stack, k: int) -> None:
        # two: beat's connection health check calls getMe at start too, and may take the first
        stack.tg.drop_next("getMe", count=2, after_processing=True)
        stack.x.set_media_processing(1)
        stack.x.drop_next("/2/media/upload", count=k, after_processing=True, method="GET")

    def photo(stack: Stack, k: int) -> None:
        stack.x.set_media_processing(0)
        stack.tg.drop_next("sendPhoto", count=k, after_processing=True)
        stack.x.drop_next("/2/media/upload", count=k, after_processing=True, method="POST")

    def text(stack: Stack, k: int) -> None:
        stack.tg.drop_next("sendMessage", count=k, after_processing=True)
        stack.x.drop_next("/2/tweets", count=k, after_processing=True)

    def fallback(stack: Stack, k: int) -> None:
        stack.tg.fail_next("sendPhoto", status=400, description=PHOTO_REFUSED, count=k)
        stack.tg.drop_next("sendMessage", count=k, after_processing=True)
        stack.x.drop_next("/2/media/metadata", count=k, after_processing=True)

    return [
        Phase("first", True, [Row("telegram", "getMe (before the first send)", "sent"),
                              Row("x", "GET /2/media/upload STATUS", "sent")], first),
        Phase("photo", True, [Row("telegram", "sendPhoto (photo uploaded)", "in_doubt"),
                              Row("x", "POST /2/media/upload", "sent")], photo),
        Phase("text", False, [Row("telegram", "sendMessage (post without image)", "in_doubt"),
                              Row("x", "POST /2/tweets", "sent")], text),
        Phase("fallback", True, [Row("telegram", "sendMessage (text after photo refused)",
                                     "in_doubt"),
                                 Row("x", "POST /2/media/metadata (alt text)", "sent")],
              fallback),
    ]


def _dropped(stack: Stack, platform: str, method: str, since: float) -> int:
    """Calls of ``method`` answered by a dropped connection since ``since`` (the journals)."""
    if platform == "telegram":
        name = method.split(" ", 1)[0]
        return sum(1 for c in stack.tg.calls(name) if c.status == 0 and c.time >= since)
    verb, path = method.split(" ")[:2]
    return sum(1 for e in stack.x.calls(path) if e.path == path and e.method == verb
               and e.status is None and e.at >= since)


def run(mode: Mode) -> Result:
    result = Result(SUITE, mode.name)
    k = 10 if mode.long else 3
    result.note(f"{k} posts per phase; the fakes drop the connection after carrying out the "
                f"next {k} calls of one method per platform (getMe: the first 2 calls, "
                "the health check's and a worker's)")
    result.note("real `newsbot worker` + `newsbot beat`, embedded Redis; rate windows x0.01 "
                "(RATE_TIME_SCALE; backoff and client timeouts are real seconds)")
    started = time.monotonic()
    with workdir(SUITE, mode.keep) as work, Stack(work) as stack:
        procs: list[Started] = []
        state = stack.state()
        phases = _phases(k)
        all_slugs: list[str] = []
        settled_all = True
        for phase in phases:
            since = time.time()
            phase.inject(stack, k)
            if not procs:  # getMe is called once per worker process: drop it before the start
                procs = start_processes(stack, result)
            for i in range(k):
                slug = f"{phase.name}-{i:02d}"
                phase.slugs.append(slug)
                if phase.image:
                    stack.write_post(slug)
                else:
                    write_text_post(stack, slug)
            all_slugs += phase.slugs
            settled = settle(state, phase.slugs, 240 if mode.long else 60)
            settled_all &= settled
            recs = records_of(state, phase.slugs)
            ledger = stack.ledger()
            for row in phase.rows:
                row.drops = _dropped(stack, row.platform, row.method, since)
                for slug in phase.slugs:
                    rec = recs.get((slug, row.platform))
                    row.states[rec.state if rec else "missing"] += 1
                    url = rec.post if rec else ""
                    row.copies[ledger.get(url, Counter())[row.platform]] += 1
                    row.from_duplicate += bool(rec and DUPLICATE_NOTE in rec.notes)
                    row.from_read += bool(rec and FOUND_NOTE in rec.notes)
        for phase in phases:
            for row in phase.rows:
                result.figure(f"{row.platform} {row.method}", row.outcome())
        for phase in phases:
            for row in phase.rows:
                word = ("in_doubt, out once" if row.expect == "in_doubt"
                        else "retried safely: sent once")
                result.promise(f"{row.platform} {row.method}: lost answer -> {word}",
                               row.kept(k), row.outcome())
        recs = records_of(state, all_slugs)
        reasons_missing = [f"{s}/{p}" for (s, p), rec in recs.items()
                           if rec.state in ("failed", "in_doubt") and not rec.reason.strip()]
        doubted = {(rec.post, rec.platform) for rec in recs.values() if rec.state == "in_doubt"}
        unasked = doubted - doubt_notices(state)
        dups = stack.duplicates()
        result.figure("posts / records", f"{len(all_slugs)} / {len(recs)}")
        states = Counter(rec.state for rec in recs.values())
        result.figure("records by state", ", ".join(f"{n} {s}" for s, n in sorted(
            states.items())))
        result.figure("in_doubt records with the editors' notice queued",
                      f"{len(doubted) - len(unasked)} of {len(doubted)}")
        result.figure("duplicates (posts on a platform more than once)", len(dups))
        result.promise("0 duplicates on either platform", not dups, str(dups))
        result.promise("every record settled (nothing queued, sending or retrying)",
                       settled_all and all(s in TERMINAL for s in states), str(states))
        result.promise("editors asked about every in_doubt record", not unasked,
                       str(sorted(unasked)))
        result.promise("every failed or in_doubt record has its reason", not reasons_missing,
                       ", ".join(reasons_missing))
        for proc in procs:
            proc.stop()
        leaks = stack.leaks()
        result.figure("secrets in logs", sum(leaks.values()))
        result.promise("no secret in any log", not leaks, str(leaks))
    result.figure("run time, s", round(time.monotonic() - started, 1))
    return result


if __name__ == "__main__":
    from .__main__ import main

    sys.exit(main([SUITE, *sys.argv[1:]]))
