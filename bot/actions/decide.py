"""An editor's decisions on a post's delivery records: retry, resolve (resend or mark sent), skip.

A record that changed meanwhile (a worker moved it, so the state machine refuses the move) is
reported as ``refused`` with its new state, never forced: the editor decided on what they saw.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.actions.audit import audit_outcomes
from bot.actions.lookup import find_target
from bot.actions.reports import DeliveryReport, Outcome, describe, failed, outcome
from bot.actions.services import DeliveryServices, Enqueue, check_who
from bot.state import Record, TransitionRefusedError

__all__ = ["RESOLVE_ACTIONS", "resolve", "retry", "skip"]

RESOLVE_ACTIONS = ("resend", "mark_sent")


def _send(enqueue: Enqueue, record: Record, done: str, message: str) -> Outcome:
    """Hand a queued record to the workers; a broker failure is reported, the record stays."""
    try:
        enqueue(record.key)
    except Exception as exc:  # the broker is an outside system: report, never crash the command
        return outcome(record, done, f"{message}; could not reach the queue ({exc}), "
                                     "the workers' periodic requeue hands it over")
    return outcome(record, done, message)


def _records_of(svc: DeliveryServices, action: str, ref: str, who: str
                ) -> tuple[DeliveryReport | None, str, str | None, list[Record]]:
    post, url, error = find_target(svc, ref, records_may_do=True)
    if url is None:  # a refused request is audited too (who asked for what, and why not)
        report = failed(action, ref, error or "no such post")
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
    check_who(who)
    failure, url, title, records = _records_of(svc, "retry", ref, who)
    if failure is not None:
        return failure
    every = bool(records)
    records = _select(records, record_key, platforms)
    if every and not records:
        return failed("retry", ref, "no such delivery of this post", post=url, title=title)
    if not records:
        return failed("retry", ref, "nothing recorded for this post yet: use push", post=url,
                      title=title)
    paused = svc.state.is_paused()
    outcomes: list[Outcome] = []
    for rec in records:
        if rec.state not in ("failed", "retry_wait"):
            outcomes.append(describe(rec))
            continue
        try:
            moved = svc.state.editor_resolve(*rec.ref, "retry", who)
        except TransitionRefusedError as exc:
            outcomes.append(outcome(exc.record, "refused",
                                    f"changed meanwhile: now {exc.record.state}"))
            continue
        note = "queued again" + ("; goes out when publishing resumes" if paused else "")
        outcomes.append(_send(enqueue, moved, "queued", note))
    audit_outcomes(svc, who, "retry", url, outcomes)
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
    check_who(who)
    name = f"resolve-{action}"
    if action not in RESOLVE_ACTIONS:
        return failed(name, ref, f"unknown resolution {action!r}; choose resend or mark_sent")
    failure, url, title, records = _records_of(svc, name, ref, who)
    if failure is not None:
        return failure
    every = bool(records)
    records = _select(records, record_key, platforms)
    if every and not records:
        report = failed(name, ref, "no such delivery of this post", post=url, title=title)
        audit_outcomes(svc, who, name, url, (), {"error": report.error})
        return report
    paused = svc.state.is_paused()
    outcomes: list[Outcome] = []
    for rec in records:
        if rec.state != "in_doubt":
            out = describe(rec)
            outcomes.append(out if out.result != "in_doubt" else outcome(
                rec, "nothing_to_do", "not in doubt"))
            continue
        try:
            moved = svc.state.editor_resolve(*rec.ref, action, who)
        except TransitionRefusedError as exc:
            outcomes.append(outcome(exc.record, "refused",
                                    f"changed meanwhile: now {exc.record.state}"))
            continue
        if action == "resend":
            outcomes.append(_send(enqueue, moved, "queued", "sending again"))
        else:
            outcomes.append(outcome(moved, "marked_sent", "marked as sent; never re-sent"))
    if not any(o.result in ("queued", "marked_sent", "refused") for o in outcomes):
        error = ("no in-doubt delivery for this post" if records
                 else "nothing recorded for this post")
        report = failed(name, ref, error, post=url, title=title, paused=paused,
                        outcomes=tuple(outcomes))
    else:
        report = DeliveryReport(action=name, ref=ref, ok=True, post=url, title=title,
                                paused=paused, outcomes=tuple(outcomes))
    audit_outcomes(svc, who, name, url, outcomes, {"error": report.error} if report.error else None)
    return report


def skip(svc: DeliveryServices, ref: str, *, who: str) -> DeliveryReport:
    """Never publish this post automatically, on every configured destination.

    Destinations the watcher has not reached yet (a future-dated post) get a ``skipped`` record
    now, which the watcher then finds and leaves alone.  ``push`` still works afterwards.
    """
    check_who(who)
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
                outcomes.append(outcome(rec, "skipped", "will not be published"))
                continue
        if rec.state == "skipped":
            outcomes.append(outcome(rec, "skipped", "already skipped"))
            continue
        if rec.state in ("sent", "sending"):
            outcomes.append(describe(rec))
            continue
        try:
            moved = svc.state.editor_resolve(*rec.ref, "skip", who, reason=text)
        except TransitionRefusedError as exc:
            outcomes.append(outcome(exc.record, "refused",
                                    f"changed meanwhile: now {exc.record.state}"))
            continue
        outcomes.append(outcome(moved, "skipped", "will not be published"))
    audit_outcomes(svc, who, "skip", url, outcomes)
    return DeliveryReport(action="skip", ref=ref, ok=True, post=url, title=title,
                          paused=svc.state.is_paused(), outcomes=tuple(outcomes))
