"""Operator actions on the delivery records: push, retry, resolve, skip, pause, resume, status.

Why here and not in the commands: the CLI and the editors' Telegram bot both call these, so an
editor in Telegram and an operator in a terminal see the same facts and cause the same changes.
Each action returns a report dataclass (``to_json()`` for scripts and tests) and never prints;
problems an operator can expect (unknown post, paused, record in the wrong state) are in the
report, not raised.  Every action that changes something writes one audit entry.

``enqueue(record_key)`` is passed in (the Celery send in production, a list's ``append`` in
tests), so these functions never import the task layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.config import Settings
from bot.delivery.schedule import bucket_name, rate_spec
from bot.platforms import PLATFORMS
from bot.posts import Post
from bot.state import STATES, RateLimiter, Record, State, TransitionRefusedError
from bot.state.records import iso

if TYPE_CHECKING:  # only annotations: `newsbot status` must not import the teaser machinery
    from bot.delivery.content import ContentTools

__all__ = [
    "DeliveryReport",
    "Enqueue",
    "Outcome",
    "PauseReport",
    "StatusReport",
    "fresh_workers",
    "pause",
    "push",
    "rate_bucket",
    "resolve",
    "resume",
    "retry",
    "skip",
    "split_heartbeats",
    "status",
    "unpublished_reason",
]

Enqueue = Callable[[str], None]
Planner = Callable[..., list[Record]]

RESOLVE_ACTIONS = ("resend", "mark_sent")
DEFAULT_STATUS_LIMIT = 20
#: A heartbeat older than this (30 ticks) is no longer shown as a live worker ...
HEARTBEAT_FRESH_SECONDS = 30.0
#: ... and one older than this is not shown at all (a worker killed long ago).
HEARTBEAT_FORGET_SECONDS = 86_400.0


class DeliveryServices(Protocol):
    """What the actions need from ``bot.delivery.services.Services`` (structural, for tests)."""

    settings: Settings
    tools: ContentTools
    state: State
    limiter: RateLimiter
    @property
    def dry_run(self) -> bool: ...

    def destinations(self) -> list[tuple[str, str]]: ...

    def identity_of(self, post: Post) -> str: ...

    def find_post_by_url(self, url: str) -> Post | None: ...


def rate_bucket(platform: str, destination: str) -> str:
    """The rate-limit bucket of one destination (the sender reserves on the same name)."""
    return bucket_name(platform, destination)


# --------------------------------------------------------------------------------- reports
@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did (or why not) to one post x platform x destination.

    ``result`` is a short code a formatter can switch on: queued, already_sent, paused,
    in_progress, waiting, in_doubt, nothing_to_do, skipped, marked_sent, refused.
    """

    platform: str
    destination: str
    result: str
    state: str | None
    message: str
    receipt_url: str | None = None
    eta: str | None = None
    key: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "destination": self.destination,
            "result": self.result,
            "state": self.state,
            "message": self.message,
            "receipt_url": self.receipt_url,
            "eta": self.eta,
            "key": self.key,
        }


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """The answer of push / retry / resolve / skip.

    ``ok`` is False only when the action could not start (unknown post, bad argument) or was
    refused as a whole (paused without confirmation); per-record refusals are in ``outcomes``.
    """

    action: str
    ref: str
    ok: bool
    post: str | None = None
    title: str | None = None
    error: str | None = None
    paused: bool = False
    needs_confirmation: bool = False
    warning: str | None = None
    outcomes: tuple[Outcome, ...] = ()

    @property
    def queued(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == "queued"]

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "ref": self.ref,
            "ok": self.ok,
            "post": self.post,
            "title": self.title,
            "error": self.error,
            "paused": self.paused,
            "needs_confirmation": self.needs_confirmation,
            "warning": self.warning,
            "outcomes": [o.to_json() for o in self.outcomes],
        }


@dataclass(frozen=True, slots=True)
class PauseReport:
    action: str  # "pause" | "resume"
    paused: bool  # the flag after the action
    changed: bool  # False: it already was in that position
    who: str
    reason: str = ""
    requeued: tuple[str, ...] = ()  # record keys handed to the queue again on resume

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "paused": self.paused, "changed": self.changed,
                "who": self.who, "reason": self.reason, "requeued": list(self.requeued)}


@dataclass(frozen=True, slots=True)
class StatusReport:
    counts: dict[str, int]
    deliveries: list[dict[str, Any]]
    paused: bool
    pause: dict[str, Any] | None
    pending: list[dict[str, Any]]
    """The soonest due of ``pending_total`` waiting and retry_wait records (at most the limit)."""
    pending_total: int
    rate: dict[str, Any]
    workers: dict[str, float]  # name -> seconds since its heartbeat, fresh ones only
    mode: str  # "dry-run" | "live"
    total: int  # records in all (deliveries may be the last N of them)
    generated_at: str
    workers_stale: dict[str, float] = field(default_factory=dict)  # silent, maybe gone
    destination_names: dict[str, str] = field(default_factory=dict)  # "x:x" -> "@handle"

    def to_json(self) -> dict[str, Any]:
        """The stable `newsbot status --json` shape."""
        return {
            "counts": dict(self.counts),
            "deliveries": list(self.deliveries),
            "paused": self.paused,
            "pause": self.pause,
            "pending": list(self.pending),
            "pending_total": self.pending_total,
            "rate": dict(self.rate),
            "workers": dict(self.workers),
            "workers_stale": dict(self.workers_stale),
            "destination_names": dict(self.destination_names),
            "mode": self.mode,
            "total": self.total,
            "generated_at": self.generated_at,
        }


# --------------------------------------------------------------------------------- helpers
def _check_who(who: str) -> None:
    if not who or not who.strip():
        raise ValueError("who must name the operator (e.g. 'cli:alice' or 'tg:12345')")


def _find(
    svc: DeliveryServices, ref: str, *, records_may_do: bool
) -> tuple[Post | None, str | None, str | None]:
    """(post, post URL, error).

    For actions on existing records a URL that no longer matches a site file still works when
    records carry it (a post deleted or renamed after it was published).
    """
    from bot.actions.lookup import PostLookupError, find_post

    try:
        post = find_post(svc.tools.site, ref)
    except PostLookupError as exc:
        url = ref.strip()
        if url.startswith(("http://", "https://")) and svc.state.records(post_url=url):
            # a post known by its first URL, whose URL changed since: same records
            moved = svc.find_post_by_url(url)
            if moved is not None:
                return moved, url, None
            if records_may_do:
                return None, url, None
        return None, None, str(exc)
    # A post whose URL changed (new slug, category, date, permalink) keeps its records.
    return post, svc.identity_of(post), None


def _eta(record: Record) -> str | None:
    return iso(record.scheduled_at) if record.state in ("waiting", "retry_wait") else None


def _outcome(record: Record, result: str, message: str) -> Outcome:
    return Outcome(
        platform=record.platform, destination=record.destination, result=result,
        state=record.state, message=message, receipt_url=record.receipt_url,
        eta=_eta(record), key=record.key,
    )


def _describe(record: Record, *, acted: bool = False) -> Outcome:
    """An outcome that reports where a record stands (``acted``: this action queued it)."""
    if record.state == "queued":
        if acted:
            return _outcome(record, "queued", "queued for sending")
        return _outcome(record, "nothing_to_do", "already queued")
    if record.state == "sent":
        link = record.receipt_url or record.receipt_id or "no receipt link"
        return _outcome(record, "already_sent", f"already sent: {link}")
    if record.state == "sending":
        return _outcome(record, "in_progress", "being sent right now")
    if record.state in ("waiting", "retry_wait"):
        when = _eta(record) or "when due"
        return _outcome(record, "waiting", f"{record.state} until {when}")
    if record.state == "in_doubt":
        return _outcome(record, "in_doubt",
                        "in doubt: the send may have gone out; check, then resolve")
    return _outcome(record, "nothing_to_do", f"{record.state}: {record.reason}".rstrip(": "))


def _in_doubt(record: Record) -> Outcome:
    """Push's answer for an in-doubt record: where it stands and how to decide it."""
    return _outcome(
        record, "in_doubt",
        "in doubt: the last send may already be out; nothing queued. Check the "
        f"{record.platform} post, then decide: newsbot resolve {record.post} --platform "
        f"{record.platform} --resend|--mark-sent, or [Send again] / [It went out] on its notice")


def _send(enqueue: Enqueue, record: Record, done: str, message: str) -> Outcome:
    """Hand a queued record to the workers; a broker failure is reported, the record stays."""
    try:
        enqueue(record.key)
    except Exception as exc:  # the broker is an outside system: report, never crash the command
        return _outcome(record, done, f"{message}; could not reach the queue ({exc}), "
                                      "the workers' periodic requeue hands it over")
    return _outcome(record, done, message)


def _audit(svc: DeliveryServices, who: str, action: str, target: str, outcomes: Iterable[Outcome],
           extra: dict[str, Any] | None = None) -> None:
    result: dict[str, Any] = {f"{o.platform}:{o.destination}": o.result for o in outcomes}
    if extra:
        result.update(extra)
    svc.state.audit(who, action, target, result)


def _fail(action: str, ref: str, error: str, **kw: Any) -> DeliveryReport:
    return DeliveryReport(action=action, ref=ref, ok=False, error=error, **kw)


# --------------------------------------------------------------------------------- push
def unpublished_reason(svc: DeliveryServices, ref: str,
                       now: datetime | None = None) -> str | None:
    """Why the post's link may not exist yet (``published: false``, a future date), else None.

    Jekyll builds neither, so a push now would announce a page readers cannot open: the
    commands ask before pushing such a post.  An unknown ``ref`` answers None (``push``
    reports it).
    """
    post, _url, _error = _find(svc, ref, records_may_do=False)
    if post is None:
        return None
    if not post.published:
        return "published: false"
    when = now or datetime.now(UTC)
    if post.date > when:
        return f"dated {post.date.isoformat()}, in the future"
    return None


def push(
    svc: DeliveryServices,
    ref: str,
    *,
    who: str,
    enqueue: Enqueue,
    platforms: Sequence[str] = PLATFORMS,
    force: bool = False,
    confirm_paused: bool = False,
    plan: Planner | None = None,
    approved: Mapping[str, str] | None = None,
) -> DeliveryReport:
    """Publish a post by hand (a stale, baseline or skipped post, or a re-post with ``force``).

    A destination where the post is already ``sent`` is reported with its link and left alone
    unless ``force``.  An ``in_doubt`` destination is never queued, ``force`` or not: the answer
    says how to decide it (``resolve``).  While paused nothing is queued unless
    ``confirm_paused``: the pause stops automatic publishing, and a push the editor confirmed
    while paused goes out now.  ``approved``: the teaser fingerprints per platform an editor
    approved (a [Publish now]); by default the push approves the teasers as they are now.
    ``plan`` defaults to ``bot.delivery.planner.plan_manual``.
    """
    _check_who(who)
    action = "push-force" if force else "push"
    wanted = tuple(dict.fromkeys(platforms))
    unknown = [p for p in wanted if p not in PLATFORMS]
    if unknown or not wanted:
        return _fail(action, ref, f"unknown platform {', '.join(unknown) or '(none)'}; "
                                  f"choose from {', '.join(PLATFORMS)}")
    post, url, error = _find(svc, ref, records_may_do=False)
    if post is None or url is None:
        report = _fail(action, ref, error or "no such post")
        svc.state.audit(who, action, ref[:200], {"error": report.error})
        return report
    targets = [(p, d) for p, d in svc.destinations() if p in wanted]
    base = {"post": url, "title": post.title}
    warning = post.unpublishable_reason(datetime.now(UTC))
    if warning:
        warning = f"the site would not publish this post on its own ({warning})"
    if not targets:
        report = _fail(action, ref, f"no destination configured for {', '.join(wanted)}", **base)
        svc.state.audit(who, action, url, {"error": report.error})
        return report

    paused = svc.state.is_paused()
    existing = {(r.platform, r.destination): r for r in svc.state.records(post_url=url)}
    outcomes: dict[tuple[str, str], Outcome] = {}
    for target in targets:
        rec = existing.get(target)
        if rec is not None and rec.state == "sent" and not force:
            outcomes[target] = _describe(rec)
        elif rec is not None and rec.state == "in_doubt":
            # Even with force: the last send may be on the platform already, and only someone
            # who looked may say whether it is (resolve); a push must not decide it blindly.
            outcomes[target] = _in_doubt(rec)

    if paused and not confirm_paused:
        for p, d in targets:
            if (p, d) not in outcomes:
                outcomes[(p, d)] = Outcome(p, d, "paused", existing[(p, d)].state
                                           if (p, d) in existing else None,
                                           "publishing is paused: nothing queued")
        ordered = tuple(outcomes[t] for t in targets)
        needs = any(o.result == "paused" for o in ordered)
        _audit(svc, who, action, url, ordered, {"refused": "paused"} if needs else None)
        return DeliveryReport(action=action, ref=ref, ok=not needs, paused=True,
                              needs_confirmation=needs, warning=warning, outcomes=ordered,
                              **base)

    to_plan = [p for p in wanted if any(t[0] == p and t not in outcomes for t in targets)]
    if to_plan:
        if plan is None:
            from bot.delivery.planner import plan_manual as plan
        planned = plan(svc, post, to_plan, force=force, who=who, enqueue=enqueue,
                       ignore_pause=paused, approved=approved)
        by_target = {(r.platform, r.destination): r for r in planned}
        for target in targets:
            if target in outcomes:
                continue
            rec = by_target.get(target) or svc.state.get(url, *target)
            if rec is None:
                outcomes[target] = Outcome(*target, "nothing_to_do", None, "not planned")
                continue
            out = _describe(rec, acted=True)
            if paused and out.result == "queued":
                out = _outcome(rec, "queued", "queued; goes out now although publishing is "
                                              "paused")
            elif force and out.result == "queued" and rec.extra.get("prev_receipt_url"):
                out = _outcome(rec, "queued", "queued again (forced re-post; was "
                                              f"{rec.extra['prev_receipt_url']})")
            outcomes[target] = out
    ordered = tuple(outcomes[t] for t in targets)
    _audit(svc, who, action, url, ordered)
    return DeliveryReport(action=action, ref=ref, ok=True, paused=paused, warning=warning,
                          outcomes=ordered, **base)


# --------------------------------------------------------------------------------- retry & co
def _records_of(svc: DeliveryServices, action: str, ref: str, who: str
                ) -> tuple[DeliveryReport | None, str, str | None, list[Record]]:
    post, url, error = _find(svc, ref, records_may_do=True)
    if url is None:  # a refused request is audited too (who asked for what, and why not)
        report = _fail(action, ref, error or "no such post")
        svc.state.audit(who, action, ref[:200], {"error": report.error})
        return report, "", None, []
    title = post.title if post is not None else None
    records = svc.state.records(post_url=url)
    records.sort(key=lambda r: (r.platform, r.destination))
    return None, url, title, records


def _select(records: list[Record], record_key: str | None,
            platforms: Sequence[str] | None) -> list[Record]:
    """The records an action may touch: one record (a notice's button), or some platforms."""
    if record_key:
        return [r for r in records if r.key == record_key]
    if platforms is not None:
        return [r for r in records if r.platform in platforms]
    return records


def retry(
    svc: DeliveryServices, ref: str, *, who: str, enqueue: Enqueue,
    record_key: str | None = None, platforms: Sequence[str] | None = None,
) -> DeliveryReport:
    """Queue again the failed and backing-off records of a post.

    In-doubt records are not touched: the post may already be out, and only someone who looked
    at the channel may say so (``resolve``).  ``record_key`` (a notice's [Retry]) or
    ``platforms`` narrow the action to those records.
    """
    _check_who(who)
    failure, url, title, records = _records_of(svc, "retry", ref, who)
    if failure is not None:
        return failure
    every = bool(records)
    records = _select(records, record_key, platforms)
    if every and not records:
        return _fail("retry", ref, "no such delivery of this post", post=url, title=title)
    if not records:
        return _fail("retry", ref, "nothing recorded for this post yet: use push", post=url,
                     title=title)
    paused = svc.state.is_paused()
    outcomes: list[Outcome] = []
    for rec in records:
        if rec.state not in ("failed", "retry_wait"):
            outcomes.append(_describe(rec))
            continue
        try:
            moved = svc.state.editor_resolve(*rec.ref, "retry", who)
        except TransitionRefusedError as exc:
            outcomes.append(_outcome(exc.record, "refused",
                                     f"changed meanwhile: now {exc.record.state}"))
            continue
        note = "queued again" + ("; goes out when publishing resumes" if paused else "")
        outcomes.append(_send(enqueue, moved, "queued", note))
    _audit(svc, who, "retry", url, outcomes)
    return DeliveryReport(action="retry", ref=ref, ok=True, post=url, title=title,
                          paused=paused, outcomes=tuple(outcomes))


def resolve(
    svc: DeliveryServices, ref: str, *, action: str, who: str, enqueue: Enqueue,
    record_key: str | None = None, platforms: Sequence[str] | None = None,
) -> DeliveryReport:
    """Settle in-doubt records: ``resend`` (it is not on the channel) or ``mark_sent`` (it is).

    ``record_key`` (the in-doubt notice's buttons) or ``platforms`` (``--platform``) narrow it
    to those records: what went out on one platform says nothing about another.
    """
    _check_who(who)
    name = f"resolve-{action}"
    if action not in RESOLVE_ACTIONS:
        return _fail(name, ref, f"unknown resolution {action!r}; choose resend or mark_sent")
    failure, url, title, records = _records_of(svc, name, ref, who)
    if failure is not None:
        return failure
    every = bool(records)
    records = _select(records, record_key, platforms)
    if every and not records:
        report = _fail(name, ref, "no such delivery of this post", post=url, title=title)
        _audit(svc, who, name, url, (), {"error": report.error})
        return report
    paused = svc.state.is_paused()
    outcomes: list[Outcome] = []
    for rec in records:
        if rec.state != "in_doubt":
            out = _describe(rec)
            outcomes.append(out if out.result != "in_doubt" else _outcome(
                rec, "nothing_to_do", "not in doubt"))
            continue
        try:
            moved = svc.state.editor_resolve(*rec.ref, action, who)
        except TransitionRefusedError as exc:
            outcomes.append(_outcome(exc.record, "refused",
                                     f"changed meanwhile: now {exc.record.state}"))
            continue
        if action == "resend":
            outcomes.append(_send(enqueue, moved, "queued", "sending again"))
        else:
            outcomes.append(_outcome(moved, "marked_sent", "marked as sent; never re-sent"))
    if not any(o.result in ("queued", "marked_sent", "refused") for o in outcomes):
        error = ("no in-doubt delivery for this post" if records
                 else "nothing recorded for this post")
        report = _fail(name, ref, error, post=url, title=title, paused=paused,
                       outcomes=tuple(outcomes))
    else:
        report = DeliveryReport(action=name, ref=ref, ok=True, post=url, title=title,
                                paused=paused, outcomes=tuple(outcomes))
    _audit(svc, who, name, url, outcomes, {"error": report.error} if report.error else None)
    return report


def skip(svc: DeliveryServices, ref: str, *, who: str) -> DeliveryReport:
    """Never publish this post automatically, on every configured destination.

    Destinations the watcher has not reached yet (a future-dated post) get a ``skipped`` record
    now, which the watcher then finds and leaves alone.  ``push`` still works afterwards.
    """
    _check_who(who)
    failure, url, title, records = _records_of(svc, "skip", ref, who)
    if failure is not None:
        return failure
    outcomes: list[Outcome] = []
    have = {(r.platform, r.destination): r for r in records}
    targets = list(dict.fromkeys([*svc.destinations(), *have]))
    text = f"editor skip by {who}"
    for target in targets:
        rec = have.get(target)
        if rec is None:
            rec = svc.state.ensure(url, *target, state="skipped", reason=text, by=who)
            if rec.state == "skipped":
                outcomes.append(_outcome(rec, "skipped", "will not be published"))
                continue
        if rec.state == "skipped":
            outcomes.append(_outcome(rec, "skipped", "already skipped"))
            continue
        if rec.state in ("sent", "sending"):
            outcomes.append(_describe(rec))
            continue
        try:
            moved = svc.state.editor_resolve(*rec.ref, "skip", who, reason=text)
        except TransitionRefusedError as exc:
            outcomes.append(_outcome(exc.record, "refused",
                                     f"changed meanwhile: now {exc.record.state}"))
            continue
        outcomes.append(_outcome(moved, "skipped", "will not be published"))
    _audit(svc, who, "skip", url, outcomes)
    return DeliveryReport(action="skip", ref=ref, ok=True, post=url, title=title,
                          paused=svc.state.is_paused(), outcomes=tuple(outcomes))


# --------------------------------------------------------------------------------- pause
def pause(svc: DeliveryServices, who: str, reason: str = "") -> PauseReport:
    """Stop every worker from starting a send (records wait in ``queued``).

    Pausing again with a reason replaces the reason (an editor explains the pause better);
    without one it keeps it.  The report's ``reason`` is the one now in force.
    """
    _check_who(who)
    was = not svc.state.pause(who, reason)
    svc.state.audit(who, "pause", "*", {"reason": reason, "was_paused": was})
    info = svc.state.pause_info() or {}
    return PauseReport(action="pause", paused=True, changed=not was, who=who,
                       reason=str(info.get("reason", reason)))


def resume(svc: DeliveryServices, who: str, enqueue: Enqueue) -> PauseReport:
    """Clear the pause and hand every queued record to the workers again.

    Why re-enqueue: a worker that met the pause left its record ``queued`` and its task done,
    so nothing else would pick those records up before the next rescan.  A record enqueued
    twice is harmless (the state machine sends it once).
    """
    _check_who(who)
    changed = svc.state.resume(who)
    keys: list[str] = []
    for rec in svc.state.records(state="queued"):
        try:
            enqueue(rec.key)
        except Exception as exc:  # broker trouble: say so, the pause is lifted regardless
            svc.state.audit(who, "resume", "*", {"error": f"enqueue failed: {exc}"})
            break
        keys.append(rec.key)
    svc.state.audit(who, "resume", "*", {"was_paused": changed, "requeued": len(keys)})
    return PauseReport(action="resume", paused=False, changed=changed, who=who,
                       requeued=tuple(keys))


# --------------------------------------------------------------------------------- status
DELIVERY_KEYS = ("post", "platform", "destination", "state", "attempts", "reason", "receipt",
                 "updated_at", "notes")


def _delivery(record: Record) -> dict[str, Any]:
    full = record.to_dict()
    return {k: full[k] for k in DELIVERY_KEYS}


def _rate(svc: DeliveryServices, now: float) -> dict[str, Any]:
    """Budget left per destination against the rules the sender applies when live.

    A dry run enforces no limit (``enforced`` False) but shows the live rules, so an operator
    sees what a switch to live would allow.
    """
    settings = svc.settings
    enforced = not svc.dry_run
    out: dict[str, Any] = {}
    for platform, destination in svc.destinations():
        spec = rate_spec(settings, platform, destination, dry_run=False)
        entry: dict[str, Any] = {"platform": platform, "destination": destination,
                                 "enforced": enforced}
        if spec.rules:
            budget = svc.limiter.budget(spec.bucket, spec.rules, spacing=spec.spacing, now=now)
            # The platform's own figures (1 per 1 s), not our margin (1 per 1.07 s): the
            # margin only absorbs timing jitter, it is no limit an operator could look up.
            entry["rules"] = [{**rule, "window": float(window)} for rule, (_n, window)
                              in zip(budget["rules"], spec.stated, strict=True)]
            entry["blocked_until"] = iso(budget["blocked_until"])
            entry["wait"] = round(float(budget["wait"]), 3)
        else:
            entry["rules"] = []
            entry["blocked_until"] = iso(svc.limiter.blocked_until(spec.bucket, now=now))
            entry["wait"] = 0.0
        windows = svc.limiter.platform_windows(spec.bucket, now=now)
        if windows:  # X's own figures, as its last answer stated them
            entry["platform_windows"] = {
                name: {"remaining": w["remaining"], "reset_at": iso(w["reset_at"])}
                for name, w in windows.items()}
        if platform == "x":
            limit = settings.x_daily_limit
            daily = svc.limiter.daily_counter(spec.bucket, limit or 1_000_000_000, now=now)
            entry["daily"] = {
                "limit": limit,
                "used": daily["used"],
                "remaining": daily["remaining"] if limit else daily["platform_remaining"],
                "platform_remaining": daily["platform_remaining"],
                "reset_at": iso(daily["reset_at"]),
            }
        out[spec.bucket] = entry
    return out


def split_heartbeats(ages: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
    """(fresh, stale) worker heartbeats, name -> seconds since the last one.

    A worker beats with every tick (each second, ``tasks.TICK_SECONDS``); a busy one may miss
    some, so only one silent for ``HEARTBEAT_FRESH_SECONDS`` is no longer shown as alive.  A
    worker killed without its shutdown (OOM, SIGKILL) never removes its entry: after
    ``HEARTBEAT_FORGET_SECONDS`` it is not shown at all.
    """
    fresh: dict[str, float] = {}
    stale: dict[str, float] = {}
    for name, age in sorted(ages.items()):
        if age <= HEARTBEAT_FRESH_SECONDS:
            fresh[name] = round(age, 3)
        elif age <= HEARTBEAT_FORGET_SECONDS:
            stale[name] = round(age, 3)
    return fresh, stale


def fresh_workers(svc: DeliveryServices) -> dict[str, float]:
    """Workers that reported lately (nothing queued goes out without one)."""
    return split_heartbeats(svc.state.heartbeats())[0]


def status(svc: DeliveryServices, *, limit: int | None = DEFAULT_STATUS_LIMIT) -> StatusReport:
    """Where every delivery stands: what an operator checks first (read-only, no audit)."""
    state = svc.state
    now = state.now()
    counts = state.counts()
    for name in STATES:
        counts.setdefault(name, 0)
    records = state.records() if limit is None else state.recent(limit)
    pending_records, pending_total = state.pending(limit)
    pending = [
        {"post": r.post, "platform": r.platform, "destination": r.destination, "state": r.state,
         "eta": iso(r.scheduled_at), "reason": r.reason, "attempts": r.attempts}
        for r in pending_records
    ]
    info = state.pause_info()
    pause_json = None if info is None else {
        "who": info["who"], "reason": info["reason"], "at": iso(info["at"])}
    workers, stale = split_heartbeats(state.heartbeats(now=now))
    return StatusReport(
        counts={name: int(counts[name]) for name in STATES},
        deliveries=[_delivery(r) for r in records],
        paused=info is not None,
        pause=pause_json,
        pending=pending,
        pending_total=pending_total,
        rate=_rate(svc, now),
        workers=workers,
        workers_stale=stale,
        destination_names=state.destination_names(),
        mode="dry-run" if svc.dry_run else "live",
        total=sum(counts.values()),
        generated_at=iso(now) or "",
    )


@dataclass(slots=True)
class RecordingEnqueue:
    """An ``enqueue`` that only remembers keys (tests, and callers that batch sends)."""

    keys: list[str] = field(default_factory=list)

    def __call__(self, record_key: str) -> None:
        self.keys.append(record_key)
