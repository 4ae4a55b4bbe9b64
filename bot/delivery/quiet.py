"""Quiet hours and the breaking-news lane: when a post may notify, and which posts skip the line.

Why a module of its own: the sender asks two questions at each attempt (is this a breaking
post? is it quiet now, and until when?), the planner asks the first when it creates records, and
the window arithmetic (midnight crossing, daylight-saving gaps and repeats) is easy to get wrong,
so it lives in one place with its own property tests.

* QUIET_HOURS (``23:00-07:00``) is read in the site's timezone (``_config.yml`` ``timezone``,
  TIMEZONE overrides, else UTC): inside it Telegram posts go out on time but silently
  (``disable_notification``), X posts wait for the window's end (QUIET_X=hold) or go (send).
* A breaking post (front matter ``breaking: true``, or a category in BREAKING_CATEGORIES)
  ignores quiet hours; its records carry ``breaking="1"`` so every stage can let it through first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from bot.config import Settings, parse_quiet_hours
from bot.posts import Post
from bot.state import Record, State

__all__ = ["BREAKING_FIELD", "QUIET_REASON", "QuietPlan", "QuietWindow", "is_breaking",
           "mark_breaking", "quiet_plan", "record_is_breaking", "window_for"]

#: The record extra field that marks a breaking post's delivery records (shared with pacing).
BREAKING_FIELD = "breaking"
QUIET_REASON = "quiet hours"
DAY = 24 * 3600


@dataclass(frozen=True, slots=True)
class QuietWindow:
    """A daily window of local wall-clock minutes [start, end); crosses midnight when
    end < start."""

    start: int
    end: int
    tz: tzinfo

    def _minute(self, epoch: float) -> float:
        local = datetime.fromtimestamp(epoch, self.tz)
        return local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60

    def contains(self, epoch: float) -> bool:
        """Whether the site's wall clock at ``epoch`` reads a time inside the window."""
        m = self._minute(epoch)
        if self.start < self.end:
            return self.start <= m < self.end
        return m >= self.start or m < self.end

    def end_after(self, epoch: float) -> float:
        """The first instant after ``epoch`` at which the wall clock has left the window.

        For an ``epoch`` outside the window this is ``epoch`` itself.  Daylight saving: an end
        time the clock skips (02:30 on a spring-forward night) ends the window when the clock
        jumps past it; an end time the clock reads twice ends it at the first reading.
        """
        if not self.contains(epoch):
            return epoch
        local = datetime.fromtimestamp(epoch, self.tz)
        day = local.date()
        if self.start > self.end and self._minute(epoch) >= self.start:
            day = day + timedelta(days=1)
        candidate = self._first_outside(day, epoch)
        # The wall clock reads the end time once a day; a candidate at or before ``epoch`` (a
        # repeated hour) or still inside (a skipped one) is resolved by the day after.
        if candidate is None:
            candidate = self._first_outside(day + timedelta(days=1), epoch)
        if candidate is None:  # pragma: no cover - no zone skips a whole day twice
            return epoch + DAY
        return self._tighten(epoch, candidate)

    def _first_outside(self, day: date, after: float) -> float | None:
        hour, minute = divmod(self.end, 60)
        naive = datetime(day.year, day.month, day.day, hour, minute)
        found = []
        for fold in (0, 1):
            at = naive.replace(tzinfo=self.tz, fold=fold).timestamp()
            if at > after and not self.contains(at):
                found.append(at)
        return min(found) if found else None

    def _tighten(self, inside: float, outside: float) -> float:
        """The first outside instant (to a millisecond) between an inside and an outside one:
        ``outside`` itself unless the clock jumped over the end time (a DST gap), where the
        bisection finds the jump."""
        if self.contains(outside - 0.001):
            return outside
        lo, hi = inside, outside
        while hi - lo > 0.001:
            mid = (lo + hi) / 2
            if self.contains(mid):
                lo = mid
            else:
                hi = mid
        return hi


def window_for(settings: Settings, tz: tzinfo) -> QuietWindow | None:
    """The configured quiet window in ``tz`` (the site's zone), or None when off."""
    if not settings.quiet_hours:
        return None
    start, end = parse_quiet_hours(settings.quiet_hours)
    return QuietWindow(start, end, tz)


def breaking_categories(settings: Settings) -> frozenset[str]:
    return frozenset(c for c in settings.breaking_categories.split(",") if c)


def is_breaking(post: Post, settings: Settings) -> bool:
    """``breaking: true`` in the front matter, or a category listed in BREAKING_CATEGORIES."""
    if post.breaking:
        return True
    wanted = breaking_categories(settings)
    return bool(wanted) and any(c.strip().lower() in wanted for c in post.categories)


def record_is_breaking(rec: Record) -> bool:
    return rec.extra.get(BREAKING_FIELD) == "1"


def mark_breaking(state: State, rec: Record) -> Record:
    """The record with ``breaking="1"`` stored (a same-state transition, so the state machine
    stays the one writer); unchanged when already marked or no longer free to be moved."""
    if record_is_breaking(rec) or rec.state not in MARKABLE:
        return rec
    moved = state.transition(*rec.ref, rec.state, rec.state, reason=rec.reason,
                             scheduled_at=rec.scheduled_at, by="scan", **{BREAKING_FIELD: "1"})
    return moved or rec


MARKABLE = ("new", "waiting", "queued", "retry_wait")


@dataclass(frozen=True, slots=True)
class QuietPlan:
    """What quiet hours mean for one attempt: wait until ``hold_until`` (X under QUIET_X=hold),
    or go, ``silent`` or not."""

    breaking: bool
    silent: bool = False
    hold_until: float | None = None


def quiet_plan(settings: Settings, tz: tzinfo, rec: Record, post: Post, now: float, *,
               manual: bool = False) -> QuietPlan:
    """Why ``manual`` goes now: an editor's push is a decision about this moment (a Telegram
    post still goes out silently inside the window, as any other)."""
    breaking = record_is_breaking(rec) or is_breaking(post, settings)
    window = window_for(settings, tz)
    if breaking or window is None or not window.contains(now):
        return QuietPlan(breaking)
    if rec.platform == "x":
        if settings.quiet_x == "hold" and not manual:
            return QuietPlan(breaking, hold_until=window.end_after(now))
        return QuietPlan(breaking)
    return QuietPlan(breaking, silent=True)
