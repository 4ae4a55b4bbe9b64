"""An X send that may be out, settled by reading the account's own recent posts.

Where a doubt comes from: a lost answer (a timeout or a dropped connection after the request
left: ``sender._on_error`` retries it, ``maybe_sent`` set) or a worker gone past the fence (the
lease reaper's ``settle_lost`` queues a retry at the fence deadline, ``maybe_sent`` set). Before
this, the retry simply posted again and X's duplicate-content refusal said "it was out" (with no
post id), which fails when the content changed in between (then the record went to the editors).

Now the retry first reads the account's posts created since the record exists (GET
/2/users/:id/tweets, an owned read at $0.001, platform-contracts B5) and looks for the post's
link or its text (``bot.platforms.x_lookup``):

- found: the record is ``sent`` with that post's id as its receipt; nothing is posted;
- absent: the retry runs only once the earlier attempt can no longer land (the lease and its
  fence deadline have passed; ACQUIRE waits for that), so it posts. X's timelines lag a
  little: a post created seconds ago may not show yet, and then the duplicate-content refusal
  still catches an identical repeat, as before. When the post changed since the earlier
  attempt and carries no link X recognises (``X_LINK_MODE=none``, a URL without a known
  top-level domain), "absent" only means "not with today's text": that goes to the editors,
  as before;
- X cannot be read (an error other than a rate limit): the record goes to ``in_doubt`` and the
  editors decide with [Send again] [It went out], as for Telegram. A rate-limited read waits for
  its reset and is tried again. After an editor's [Send again] the account is still read (a
  post found is recorded, not posted twice), but an unreadable account no longer sends the
  record back to the editors: they decided, it is sent. And once the account can be read
  again, a record still waiting for the editors is handed back to delivery by itself
  (``DoubtRechecker``, in the process that runs the schedule).

A publisher takes part by having ``find_sent(post, item, since=...)`` (``XPublisher``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.logs import redact
from bot.platforms.base import DeliveryError, Publisher, Receipt
from bot.platforms.outgoing import PlatformTeaser
from bot.platforms.x_lookup import carries_link
from bot.posts import Post
from bot.state import Record, State

if TYPE_CHECKING:
    from bot.delivery.services import Services

__all__ = ["LOOKBACK_MARGIN", "MAX_LOOKBACK", "RECHECKER", "UNREADABLE_MARK", "DoubtRechecker",
           "Settled", "check_before_resend", "editor_resent"]

log = logging.getLogger(__name__)

#: Read from a little before the record was created: the server clocks of Redis and X differ.
LOOKBACK_MARGIN = 300.0
#: A record without a creation time reads this far back.
MAX_LOOKBACK = 7 * 86400.0
#: In the reason of a record the editors got because the account could not be read.
UNREADABLE_MARK = "could not be read to check"
#: Who hands such a record back once the account can be read again (history ``by``).
RECHECKER = "newsbot:read-check"
#: How often a record in doubt for an unreadable account is tried again: from a minute, one
#: quarter of its time in doubt, up to an hour (each try is one owned read, $0.001).
RECHECK_MIN, RECHECK_MAX = 60.0, 3600.0
#: How often the reaper thread looks at the in-doubt records at all.
RECHECK_EVERY = 10.0


@dataclass(frozen=True, slots=True)
class Settled:
    outcome: Literal["not_needed", "found", "absent", "unreadable"]
    receipt: Receipt | None = None
    error: DeliveryError | None = None
    by_link: bool = False
    """For ``absent``: the post would have been found by its link, so "absent" holds even if
    its text changed since the earlier attempt (a text-only search cannot know old text)."""


def editor_resent(state: State, rec: Record) -> bool:
    """Whether this attempt follows an editor's [Send again] of an in-doubt record: then the
    editors have decided, and an account that still cannot be read must not send the record
    back to them (it is sent, as they asked)."""
    try:
        entries = state.history(*rec.ref)
    except Exception:
        return False
    for entry in reversed(entries):
        if entry.get("to") == "sending":
            continue
        return (entry.get("from") == "in_doubt" and entry.get("to") == "queued"
                and entry.get("by") != RECHECKER)
    return False


def check_before_resend(publisher: Publisher, rec: Record, post: Post, item: PlatformTeaser,
                        now: float) -> Settled:
    """Whether an earlier attempt of ``rec`` is already on the platform (see the module)."""
    finder = getattr(publisher, "find_sent", None)
    if finder is None or not rec.maybe_sent:
        return Settled("not_needed")
    since = (rec.created_at if rec.created_at is not None else now - MAX_LOOKBACK)
    try:
        receipt = finder(post, item, since=since - LOOKBACK_MARGIN)
    except DeliveryError as err:
        log.warning("%s %s: cannot read the account to settle an uncertain send: %s",
                    rec.platform, rec.post, redact(err.reason))
        return Settled("unreadable", error=err)
    except Exception as exc:  # a bug in reading must not post again blindly
        reason = redact(f"unexpected {type(exc).__name__}: {exc}")[:500]
        log.warning("%s %s: reading the account failed: %s", rec.platform, rec.post, reason)
        return Settled("unreadable", error=DeliveryError("transient", reason))
    if receipt is None:
        log.info("%s %s: the earlier attempt is not on the account: sending", rec.platform,
                 rec.post)
        return Settled("absent", by_link=carries_link(item.teaser.text, post.url))
    return Settled("found", receipt=receipt)


class DoubtRechecker:
    """Hands a record back to delivery once the account that could not be read can be again.

    Runs in the one process that runs the schedule (``tasks.LeaseReaper``), so its memory of
    when each record was last tried is the only one. A record qualifies when it is
    ``in_doubt`` because reading failed (``UNREADABLE_MARK``), may be out (``maybe_sent``) and
    its publisher can read (``find_sent``). The read here only proves the account readable and
    answers found/absent; the record is then queued as an editor's resend would (by
    ``RECHECKER``), and the sender reads again under its lease before deciding (found: sent
    with the id; absent: posted). The editors' buttons on the earlier notice then answer
    "changed meanwhile".
    """

    def __init__(self) -> None:
        self._tried: dict[str, float] = {}
        self._looked_at = float("-inf")

    def run(self, svc: Services, now: float | None = None) -> list[Record]:
        """The records handed back (queued) in this round; never raises for one record."""
        state = svc.state
        current = state.now() if now is None else now
        if current - self._looked_at < RECHECK_EVERY:
            return []
        self._looked_at = current
        handed: list[Record] = []
        doubted = [r for r in state.records(state="in_doubt")
                   if r.maybe_sent and UNREADABLE_MARK in r.reason]
        keys = {r.key for r in doubted}
        self._tried = {k: t for k, t in self._tried.items() if k in keys}
        for rec in doubted:
            since_doubt = current - (rec.updated_at or current)
            wait = min(RECHECK_MAX, max(RECHECK_MIN, since_doubt / 4))
            if current - self._tried.get(rec.key, float("-inf")) < wait:
                continue
            self._tried[rec.key] = current
            try:
                moved = self._recheck(svc, rec, current)
            except Exception as exc:  # one record must not stop the others (or the reaper)
                log.warning("re-checking %s on %s failed: %s", rec.post, rec.platform,
                            type(exc).__name__)
                continue
            if moved is not None:
                handed.append(moved)
        return handed

    def _recheck(self, svc: Services, rec: Record, now: float) -> Record | None:
        publisher = svc.publisher_for(rec.platform, rec.destination)
        if publisher is None or getattr(publisher, "find_sent", None) is None:
            return None
        post = svc.find_post_by_url(rec.post)
        if post is None:
            return None
        # The text alone (no image decision, which may fetch): enough to recognise the post.
        teaser = svc.tools.renderer.x(post) if rec.platform == "x" else None
        if teaser is None:
            return None
        item = PlatformTeaser(platform=rec.platform, teaser=teaser, image=None)
        settled = check_before_resend(publisher, rec, post, item, now)
        if settled.outcome not in ("found", "absent"):
            return None
        how = ("found on the account" if settled.outcome == "found"
               else "not on the account")
        try:
            return svc.state.editor_resolve(
                *rec.ref, "resend", RECHECKER,
                reason=f"the account can be read again ({how}): settled by delivery")
        except Exception:  # an editor decided meanwhile
            return None
