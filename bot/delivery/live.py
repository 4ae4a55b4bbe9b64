"""Deploy-aware publishing: a due post goes out only once its page is live.

Why: a static site deploys minutes after a post's file lands, and Telegram caches a failed
link-preview fetch for days, so a teaser sent the moment the file appears points at a 404 (or
at a CDN's stale copy) long after the page is up.  With WAIT_FOR_LIVE:

* the sender asks ``hold_if_not_live`` after the content checks: one bounded look at the page
  (``bot.images.livecheck.LiveProbe``: the image fetcher's guard, deadline and size cap); not
  live, the record waits as ``waiting`` with the reason ``not live: <what was seen>`` (shown as
  ``waiting (not live)``), with no due time;
* ``LiveChecks`` (driven by ``tasks.live_checks.LiveChecker``, a thread of the process that
  runs the schedule) looks at every such post about every LIVE_POLL_SECONDS, and at once when
  a deploy signal arrives (``bot.state.deploy_signal``); the moment a page is live its records
  go back to the queue and are handed to a worker;
* a post not live after LIVE_TIMEOUT_MINUTES is reported to the editors once, with the last
  status seen, and keeps waiting (checked once a minute from then on, and at each deploy):
  a teaser never goes out to a 404 unless an editor pushes it (``/push``, ``newsbot push``:
  a pushed record carries ``manual`` and skips the check).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.delivery.notify import Notice
from bot.delivery.services import Services
from bot.images.livecheck import LiveProbe, LiveResult, Validators
from bot.images.netguard import HostPolicy
from bot.logs import log_event, redact
from bot.posts import Post
from bot.state import Record
from bot.state.live import LiveBook, LiveEntry

__all__ = ["EARLY_SECONDS", "NOT_LIVE_PREFIX", "LiveChecks", "LiveOutcome", "enabled",
           "hold_if_not_live", "live_book", "probe_for"]

log = logging.getLogger(__name__)

#: The reason of a record waiting for its page (``waiting (not live)``).
NOT_LIVE_PREFIX = "not live: "
FREE = ("queued", "retry_wait")
#: After the timeout a post is still looked at, this often (and at each deploy signal).
LATE_POLL_SECONDS = 60.0
#: How much earlier than LIVE_POLL_SECONDS a round may look again (the checker's round period).
EARLY_SECONDS = 0.2


def enabled(svc: Services) -> bool:
    """WAIT_FOR_LIVE, or by default: an http(s) site URL and a platform with credentials
    (a dry run writes an outbox no link preview reads, and the bundled demo has no network)."""
    setting = getattr(svc.settings, "wait_for_live", None)
    if setting is not None:
        return bool(setting)
    scheme = urlsplit(svc.site.url or "").scheme.lower()
    return scheme in ("http", "https") and not svc.dry_run


def live_book(svc: Services) -> LiveBook:
    return LiveBook(svc.state.client, namespace=svc.state.namespace)


_probe_lock = threading.Lock()


def probe_for(svc: Services) -> LiveProbe:
    """One probe (one HTTP connection pool) per Services."""
    with _probe_lock:
        probe = svc.__dict__.get("_live_probe")
        if probe is None:
            policy = HostPolicy(allow_private=svc.settings.image_allow_private_hosts)
            probe = LiveProbe(site_url=svc.site.url or "", policy=policy)
            svc.__dict__["_live_probe"] = probe
        return probe  # type: ignore[no-any-return]


def _title_ok(entry: LiveEntry, post: Post) -> bool:
    return entry.live and entry.title == post.title


def look(svc: Services, identity: str, post: Post, now: float | None = None) -> LiveResult:
    """One check of ``post``'s page, its verdict recorded under the post's identity."""
    book = live_book(svc)
    entry = book.get(identity)
    validators = None
    if entry.title == post.title and (entry.etag or entry.last_modified):
        validators = Validators(entry.etag, entry.last_modified, entry.had_title)
    result = probe_for(svc).check(post.url, post.title, post.image, validators)
    status = redact(result.status)
    v = result.validators
    book.record(identity, title=post.title, live=result.live, status=status,
                now=svc.state.now() if now is None else now,
                etag=v.etag if v else None, last_modified=v.last_modified if v else None,
                had_title=v.had_title if v else None)
    return LiveResult(result.live, status, v)


# ------------------------------------------------------------------ the sender's side
def hold_if_not_live(svc: Services, rec: Record, post: Post, now: float) -> str | None:
    """``not_live`` when the post's page is not live yet: the record now waits (no attempt)."""
    if not enabled(svc):
        return None
    book = live_book(svc)
    if _title_ok(book.get(rec.post), post):
        return None
    result = look(svc, rec.post, post, now)
    if result.live:
        return None
    text = NOT_LIVE_PREFIX + result.status
    book.held(rec.post, now)
    book.index_held(rec.key)  # before the move: a member whose move failed is dropped later
    moved = svc.state.transition(*rec.ref, FREE, "waiting", reason=text, by="worker", now=now)
    if moved is None:
        return "busy"
    # again after the move: a checker round between the two may have dropped the member (the
    # record was not waiting yet), and a record waiting outside the index would wait forever
    book.index_held(rec.key)
    log_event(log, "state_change", post=rec.post, platform=rec.platform,
              destination=rec.destination, old=rec.state, new="waiting",
              attempt=rec.attempts, reason=text, receipt=None)
    return "not_live"


# ------------------------------------------------------------------ the checker's side
@dataclass(frozen=True, slots=True)
class LiveOutcome:
    post: str
    live: bool
    status: str
    released: int
    reported: bool


class LiveChecks:
    """Rounds over the posts waiting for their pages; each post's check runs in a small pool
    so one slow site page never delays the others' checks, and never twice at once."""

    def __init__(self, svc: Services, enqueue: Callable[[str], None], *,
                 workers: int = 8) -> None:
        self.svc = svc
        self.enqueue = enqueue
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="live-check")
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self.outcomes: list[LiveOutcome] = []  # the latest ones, for tests (bounded)

    def waiting(self) -> dict[str, list[Record]]:
        """Records waiting for their page, by post identity.

        Read through the ``live:held`` index, not every waiting record: a round runs five
        times a second, and a paced backlog or a budget hold can keep thousands waiting."""
        book = live_book(self.svc)
        out: dict[str, list[Record]] = {}
        gone: list[str] = []
        for rid in book.held_rids():
            rec = self.svc.state.get_by_key(rid)
            if rec is None or rec.state != "waiting" or not rec.reason.startswith(
                    NOT_LIVE_PREFIX):
                gone.append(rid)
                continue
            out.setdefault(rec.post, []).append(rec)
        book.unindex(gone)
        return out

    def round(self, *, force: bool = False, wait: bool = False) -> int:
        """Start a check of every waiting post that is due (all with ``force``: a deploy
        signal); returns how many were started.  ``wait`` waits for them (tests)."""
        svc = self.svc
        if not enabled(svc):
            self._release_all()
            return 0
        now = svc.state.now()
        poll = float(svc.settings.live_poll_seconds)
        timeout = float(svc.settings.live_timeout_minutes) * 60.0
        book = live_book(svc)
        futures = []
        for identity, recs in self.waiting().items():
            entry = book.get(identity)
            every = poll
            if entry.since is not None and now - entry.since >= timeout:
                every = max(poll, LATE_POLL_SECONDS)
            # a round may come up to EARLY_SECONDS early: checks land 0.8-1.0 s apart at the
            # default, never a whole round late
            due = (force or entry.checked_at is None
                   or now - entry.checked_at >= every - EARLY_SECONDS)
            if not due and not entry.live:
                continue
            with self._lock:
                if identity in self._busy:
                    continue
                self._busy.add(identity)
            futures.append(self._pool.submit(self._check, identity, recs))
        if wait:
            for future in futures:
                future.result()
        return len(futures)

    def _check(self, identity: str, recs: list[Record]) -> None:
        try:
            outcome = self.check(identity, recs)
            if outcome is not None:
                self.outcomes.append(outcome)
                del self.outcomes[:-1000]
        except Exception as exc:  # Redis restarting, a bug: the next round tries again
            log.warning("live check of %s failed: %s", identity, type(exc).__name__)
        finally:
            with self._lock:
                self._busy.discard(identity)

    def check(self, identity: str, recs: list[Record]) -> LiveOutcome | None:
        svc = self.svc
        book = live_book(svc)
        post = svc.find_post_by_url(identity)
        if post is None:  # file gone: the sender fails it when it runs
            released = self._release(recs, "post file changed or removed; checked at send")
            return LiveOutcome(identity, False, "post file removed", released, False)
        entry = book.get(identity)
        started = time.monotonic()
        result = LiveResult(True, "live") if _title_ok(entry, post) else look(svc, identity, post)
        if result.live:
            released = self._release(recs, "page is live")
            log_event(log, "page_live", post=identity, released=released,
                      check_ms=int((time.monotonic() - started) * 1000))
            return LiveOutcome(identity, True, "live", released, False)
        now = svc.state.now()
        text = NOT_LIVE_PREFIX + result.status
        for rec in recs:
            if rec.reason != text:
                svc.state.transition(*rec.ref, ("waiting",), "waiting", reason=text,
                                     by="live-check", now=now)
        since = book.held(identity, now)
        reported = False
        timeout = float(svc.settings.live_timeout_minutes) * 60.0
        if now - since >= timeout and book.claim_report(identity):
            reported = True
            minutes = float(svc.settings.live_timeout_minutes)
            svc.notify(Notice(
                kind="not_live", post_url=identity, title=post.title, reason=result.status,
                text=(f"Not live after {minutes:g} min: {identity}\nLast status seen: "
                      f"{result.status}.\nThe teaser waits (a link preview of a missing page "
                      "is cached for days); it goes out by itself once the page is live, or "
                      "now with /push."),
                dedupe=f"not_live|{identity}|{since:.6f}"))
        return LiveOutcome(identity, False, result.status, 0, reported)

    def _release(self, recs: list[Record], why: str) -> int:
        count = 0
        for rec in sorted(recs, key=lambda r: (r.created_at or 0.0, r.key)):
            moved = self.svc.state.transition(*rec.ref, ("waiting",), "queued", reason=why,
                                              by="live-check")
            if moved is not None and moved.state == "queued":
                self.enqueue(rec.key)
                count += 1
        return count

    def _release_all(self) -> None:
        """WAIT_FOR_LIVE turned off: what an earlier configuration held goes out."""
        for recs in self.waiting().values():
            self._release(recs, "WAIT_FOR_LIVE is off")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
