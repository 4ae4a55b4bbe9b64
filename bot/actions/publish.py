"""Publishing a post by hand (``push``), and the question the commands ask first.

``unpublished_reason`` lives next to ``push`` because it is the push's own precondition: both
find the post by the same rule, so the question and the push never disagree on which post.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from bot.actions.audit import audit_outcomes
from bot.actions.lookup import find_target
from bot.actions.reports import DeliveryReport, Outcome, describe, failed, outcome
from bot.actions.services import DeliveryServices, Enqueue, check_who
from bot.platforms import PLATFORMS
from bot.state import Record

__all__ = ["Planner", "push", "unpublished_reason"]

Planner = Callable[..., list[Record]]


def _in_doubt(record: Record) -> Outcome:
    """Push's answer for an in-doubt record: where it stands and how to decide it."""
    return outcome(
        record, "in_doubt",
        "in doubt: the last send may already be out; nothing queued. Check the "
        f"{record.platform} post, then decide: newsbot resolve {record.post} --platform "
        f"{record.platform} --resend|--mark-sent, or [Send again] / [It went out] on its notice")


def unpublished_reason(svc: DeliveryServices, ref: str,
                       now: datetime | None = None) -> str | None:
    """Why the post's link may not exist yet (``published: false``, a future date), else None.

    Jekyll builds neither, so a push now would announce a page readers cannot open: the
    commands ask before pushing such a post.  An unknown ``ref`` answers None (``push``
    reports it).
    """
    post, _url, _error = find_target(svc, ref, records_may_do=False)
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
    check_who(who)
    action = "push-force" if force else "push"
    wanted = tuple(dict.fromkeys(platforms))
    unknown = [p for p in wanted if p not in PLATFORMS]
    if unknown or not wanted:
        return failed(action, ref, f"unknown platform {', '.join(unknown) or '(none)'}; "
                                   f"choose from {', '.join(PLATFORMS)}")
    post, url, error = find_target(svc, ref, records_may_do=False)
    if post is None or url is None:
        report = failed(action, ref, error or "no such post")
        svc.state.audit(who, action, ref[:200], {"error": report.error})
        return report
    targets = [(p, d) for p, d in svc.destinations() if p in wanted]
    base = {"post": url, "title": post.title}
    warning = post.unpublishable_reason(datetime.now(UTC))
    if warning:
        warning = f"the site would not publish this post on its own ({warning})"
    if not targets:
        report = failed(action, ref, f"no destination configured for {', '.join(wanted)}", **base)
        svc.state.audit(who, action, url, {"error": report.error})
        return report

    paused = svc.state.is_paused()
    existing = {(r.platform, r.destination): r for r in svc.state.records(post_url=url)}
    outcomes: dict[tuple[str, str], Outcome] = {}
    for target in targets:
        rec = existing.get(target)
        if rec is not None and rec.state == "sent" and not force:
            outcomes[target] = describe(rec)
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
        audit_outcomes(svc, who, action, url, ordered, {"refused": "paused"} if needs else None)
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
            out = describe(rec, acted=True)
            if paused and out.result == "queued":
                out = outcome(rec, "queued", "queued; goes out now although publishing is "
                                             "paused")
            elif force and out.result == "queued" and rec.extra.get("prev_receipt_url"):
                out = outcome(rec, "queued", "queued again (forced re-post; was "
                                             f"{rec.extra['prev_receipt_url']})")
            outcomes[target] = out
    ordered = tuple(outcomes[t] for t in targets)
    audit_outcomes(svc, who, action, url, ordered)
    return DeliveryReport(action=action, ref=ref, ok=True, paused=paused, warning=warning,
                          outcomes=ordered, **base)
