"""From the files in the site to delivery records: what is new, what waits, what is skipped.

Why signatures: a rescan runs every SCAN_SECONDS on sites of tens of thousands of posts, so it
only stats files and parses those whose "mtime_ns:size" changed since the last scan.  Identity is
the post URL: a changed file of a known post only re-evaluates records that have not gone out
(``new``/``waiting``), so editing a published post never publishes it again.  Its sent records
are handed to ``corrections.request_edits``: with EDIT_PUBLISHED the Telegram message is edited
in place, and a retracted post asks the editors whether to delete what went out.

With APPROVAL_REQUIRED a post that would be queued waits instead ("awaiting approval", no
schedule) and the editors get its preview with [Publish now] [Skip]; a future-dated post keeps its
schedule and is previewed as soon as it is planned.  The preview is deduped on its fingerprint, so
an edit of a post still waiting for approval is previewed again and an unchanged rescan is not.
Bad files go to the editors too, once per file version (the notice carries the signature).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.delivery.notify import Notice
from bot.delivery.quiet import BREAKING_FIELD, is_breaking, mark_breaking
from bot.delivery.services import (
    APPROVED_FP,
    AWAITING_APPROVAL,
    MANUAL,
    NO_AGE_LIMIT,
    PUSH_ANYWAY,
    Services,
)
from bot.logs import log_event
from bot.posts import BadFile, Post
from bot.sources.jekyll import (
    iter_post_files,
    post_path_problem,
    same_url_reason,
    text_path,
)
from bot.sources.parallel import read_in_order
from bot.state import Record, TransitionRefusedError

__all__ = ["Enqueue", "ScanReport", "decide", "plan_manual", "scan"]

log = logging.getLogger(__name__)

Enqueue = Callable[[str], None]
REEVALUATE = ("new", "waiting")
REPLANNABLE = ("new", "waiting", "queued", "retry_wait")
MANUAL_FIELD = MANUAL
#: Posts planned per round of pipelined Redis requests (see ``_plan_batch``).
BATCH = 500


@dataclass
class ScanReport:
    full: bool = True
    files: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    bad: list[BadFile] = field(default_factory=list)
    queued: int = 0
    waiting: int = 0
    skipped: int = 0
    backfilled: int = 0
    baseline: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "full": self.full, "files": self.files, "new": self.new, "changed": self.changed,
            "unchanged": self.unchanged, "removed": self.removed,
            "bad": [{"file": b.rel_path, "line": b.line, "reason": b.reason} for b in self.bad],
            "queued": self.queued, "waiting": self.waiting, "skipped": self.skipped,
            "backfilled": self.backfilled, "baseline": self.baseline,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    state: str
    reason: str = ""
    scheduled_at: float | None = None


def decide(post: Post, now: float, *, max_age_hours: float, baseline: bool) -> Decision:
    """What a post's record should be when the post is first seen.

    A post not on the site yet (future date, ``published: false``) waits, even in the first
    run's baseline and whatever its age: it is judged when it comes due or gets published (the
    sender skips it then if it is older than MAX_AGE_HOURS by that time).
    """
    content = content_decision(post, now)
    if content.state == "waiting":
        return content
    if baseline:
        return Decision("skipped", "baseline")
    published_at = post.date.timestamp()
    age_hours = (now - published_at) / 3600.0
    if age_hours > max_age_hours:
        return Decision("skipped", f"stale (first seen {age_hours:.0f} h after its date)")
    return content


def content_decision(post: Post, now: float) -> Decision:
    """The part of the decision that changes when the file changes (front matter, date)."""
    if post.retracted:
        return Decision("waiting", "retracted: true")
    if not post.published:
        return Decision("waiting", "published: false")
    if not post.social:
        return Decision("waiting", "social: false")
    published_at = post.date.timestamp()
    if published_at > now:
        return Decision("waiting", f"scheduled for {post.date.isoformat()}", published_at)
    return Decision("queued")


def gated(svc: Services, decision: Decision) -> Decision:
    """Under APPROVAL_REQUIRED, what would be queued waits for an editor instead."""
    if svc.settings.approval_required and decision.state == "queued":
        return Decision("waiting", AWAITING_APPROVAL)
    return decision


def _wants_approval(rec: Record) -> bool:
    """A record an editor must approve before it can go out (and was not pushed already)."""
    if rec.state != "waiting" or rec.extra.get("manual"):
        return False
    return rec.reason == AWAITING_APPROVAL or rec.reason.startswith("scheduled for ")


def _signature(path: Path) -> str | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return f"{info.st_mtime_ns}:{info.st_size}"


def _rel(root: Path, path: Path) -> str | None:
    base, whole = str(root), str(path)
    if whole.startswith(base + os.sep):  # a walk's path: on strings, 20,000 times a first run
        return text_path(whole[len(base) + 1:].replace(os.sep, "/"))
    try:
        return text_path(path.relative_to(root).as_posix())
    except ValueError:
        pass
    try:  # only a path named from elsewhere (a file event) is resolved: a walk's never is
        return text_path(path.resolve().relative_to(root).as_posix())
    except (ValueError, OSError):
        return None


def _log_change(rec: Record, old: str, by: str = "scan") -> None:
    # A first run records every post of the site as baseline: 40,000 lines for a 20,000-post
    # site would bury the log (and cost the scan seconds).  They are DEBUG; the scan's own
    # line counts them, and each record's history keeps its entry.
    level = logging.DEBUG if rec.reason == "baseline" else logging.INFO
    log_event(log, "state_change", level=level, post=rec.post, platform=rec.platform,
              destination=rec.destination, old=old, new=rec.state, attempt=rec.attempts,
              reason=rec.reason, receipt=rec.receipt, by=by)


def _safe_enqueue(enqueue: Enqueue, key: str) -> None:
    """A broker hiccup must not lose the post: the record stays queued and the periodic safety
    net (``newsbot.requeue``) hands it to the queue again."""
    try:
        enqueue(key)
    except Exception as exc:
        log.warning("enqueue of %s failed (%s); the safety net will retry", key, exc)


def _seen_payload(post: Post, now: float) -> dict[str, Any]:
    return {"rel_path": post.rel_path, "title": post.title, "date": post.date.isoformat(),
            "first_seen": now}


def scan(
    svc: Services,
    *,
    paths: list[Path] | None = None,
    backfill: int = 0,
    now: float | None = None,
    enqueue: Enqueue,
) -> ScanReport:
    """Scan the site (or just ``paths``, from file events) and plan deliveries.

    Before the site's first full scan every path scan becomes a full scan, so the baseline always
    covers the whole site.
    """
    current = time.time() if now is None else now
    state, site = svc.state, svc.site
    root = site.root
    baseline = not state.baseline_done(svc.site_key)
    full = paths is None or baseline
    report = ScanReport(full=full, baseline=baseline)
    known = state.file_signatures(svc.site_key)

    if full:
        files = list(iter_post_files(site))
    else:
        # The rule of the full walk, so an event cannot bring in what a full scan leaves out
        # (a file symlinked from outside the site, a file in `vendor/` or an excluded folder).
        files = []
        for raw in paths or []:
            path = Path(raw) if Path(raw).is_absolute() else root / raw
            if (post_path_problem(site, path) is None and os.path.lexists(path)
                    and not path.is_dir()):
                files.append(path)
    report.files = len(files)

    changed_sigs: dict[str, str] = {}
    to_parse: list[tuple[Path, str]] = []
    present: set[str] = set()
    for path in files:
        rel = _rel(root, path) or path.as_posix()
        present.add(rel)
        sig = _signature(path)
        if sig is None:
            continue
        if known.get(rel) == sig:
            report.unchanged += 1
            continue
        changed_sigs[rel] = sig
        to_parse.append((path, rel))
    removed = sorted(set(known) - present) if full else []
    report.removed = len(removed)

    batch: list[tuple[Post, str, str]] = []
    rels = dict(to_parse)
    for path, read in read_in_order(site, list(rels), processes=svc.settings.scan_processes):
        rel = rels[path]
        sig = changed_sigs[rel]
        if not isinstance(read, Post):
            bad = BadFile(path, rel, read.reason, read.line)
            _report_bad(svc, report, bad, sig)
            continue
        batch.append((read, rel, sig))
        if len(batch) >= BATCH:
            _plan_batch(svc, batch, current, report, enqueue, baseline=baseline)
            batch = []
    _plan_batch(svc, batch, current, report, enqueue, baseline=baseline)

    state.set_file_signatures(svc.site_key, changed_sigs, removed)
    if baseline and full:
        state.set_baseline_done(svc.site_key)
    if backfill > 0:
        report.backfilled = _backfill(svc, backfill, current, enqueue, report)
    if report.new or report.changed or report.removed or report.bad or report.backfilled:
        # A rescan that found nothing is routine: logged only at DEBUG to keep the log readable.
        log_event(log, "scan", full=report.full, baseline=report.baseline,
                  files=report.files, new=report.new,
                  changed=report.changed, unchanged=report.unchanged, bad=len(report.bad),
                  queued=report.queued, waiting=report.waiting, skipped=report.skipped,
                  backfilled=report.backfilled)
    else:
        log.debug("scan: %d files, nothing new or changed", report.files)
    return report


def _plan_batch(svc: Services, batch: list[tuple[Post, str, str]], now: float,
                report: ScanReport, enqueue: Enqueue, *, baseline: bool) -> None:
    """Plan ``batch`` (post, rel path, signature) as ``_plan_post`` one after the other would,
    with a few pipelined requests for the common case instead of eight round trips per post.

    Why: a first run records tens of thousands of posts, and each write waits for the server's
    fsync.  A post is *plainly new* when its file has no identity yet, no post known by its title
    or excerpt is one whose file is gone (a rename), and its URL was never seen (``mark_seen``
    says so, in order, so a URL given twice is new only once): its seen entry, file identity,
    names and records are written in pipelines.  Every other post (a known file, a possible
    rename, a URL already seen) takes ``_plan_post`` in its place in the order, after what came
    before it was written, so the writes land in file order as one post after the other leaves
    them (a title shared by two posts ends up naming the later one).
    """
    if not batch:
        return
    state = svc.state
    names = [_names(post) for post, _rel, _sig in batch]
    known = state.file_identities(svc.site_key, [rel for _post, rel, _sig in batch])
    by_name = state.identities_by_names(svc.site_key, names)
    others = list(dict.fromkeys(c for i, (post, _rel, _sig) in enumerate(batch)
                                for c in by_name[i] if c != post.url))
    where = dict(zip(others, state.seen_infos(svc.site_key, others), strict=True))
    root = svc.site.root

    def renamed_from(candidate: str, rel: str) -> bool:
        # ``_identity``'s test: a known post whose file is gone may be this one, renamed.
        old_rel = (where.get(candidate) or {}).get("rel_path")
        return isinstance(old_rel, str) and old_rel != rel and not (root / old_rel).is_file()

    plain = [known[i] is None and not any(renamed_from(c, rel) for c in by_name[i]
                                          if c != post.url)
             for i, (post, rel, _sig) in enumerate(batch)]
    run: list[int] = []
    for i, (post, rel, sig) in enumerate(batch):
        if plain[i]:
            run.append(i)
            continue
        _plan_plain(svc, batch, names, run, now, report, enqueue, baseline=baseline)
        run = []
        _plan_post(svc, post, rel, sig, now, report, enqueue, baseline=baseline)
    _plan_plain(svc, batch, names, run, now, report, enqueue, baseline=baseline)


def _plan_plain(svc: Services, batch: list[tuple[Post, str, str]], names: list[list[str]],
                run: list[int], now: float, report: ScanReport, enqueue: Enqueue, *,
                baseline: bool) -> None:
    """The posts ``run`` (indexes into ``batch``, in order) that looked plainly new: those whose
    URL is new indeed are written in pipelines; one whose URL was seen takes ``_plan_post`` in
    its place."""
    if not run:
        return
    first = svc.state.mark_seen_many(
        svc.site_key, [(batch[i][0].url, _seen_payload(batch[i][0], now)) for i in run])
    new: list[int] = []
    for i, is_new in zip(run, first, strict=True):
        if is_new:
            new.append(i)
            continue
        _write_new(svc, batch, names, new, now, report, enqueue, baseline=baseline)
        new = []
        post, rel, sig = batch[i]
        _plan_post(svc, post, rel, sig, now, report, enqueue, baseline=baseline)
    _write_new(svc, batch, names, new, now, report, enqueue, baseline=baseline)


def _write_new(svc: Services, batch: list[tuple[Post, str, str]], names: list[list[str]],
               new: list[int], now: float, report: ScanReport, enqueue: Enqueue, *,
               baseline: bool) -> None:
    """File identities, names and records of posts first seen just now, in two pipelines."""
    if not new:
        return
    state = svc.state
    state.remember_files(svc.site_key, [(batch[i][1], names[i], batch[i][0].url) for i in new])
    destinations = svc.destinations()
    specs: list[tuple[str, str, str, str, str, float | None]] = []
    decisions: list[Decision] = []
    for i in new:
        post = batch[i][0]
        decision = gated(svc, decide(post, now, max_age_hours=svc.settings.max_age_hours,
                                     baseline=baseline))
        decisions.append(decision)
        specs.extend((post.url, platform, destination, decision.state, decision.reason,
                      decision.scheduled_at) for platform, destination in destinations)
    records = iter(state.ensure_many(specs, by="scan"))
    for i, decision in zip(new, decisions, strict=True):
        report.new += 1
        breaking = is_breaking(batch[i][0], svc.settings)
        created = [_created(next(records), decision, report, enqueue,
                            mark=_marker(svc, breaking)) for _ in destinations]
        if svc.settings.approval_required and any(
                r is not None and _wants_approval(r) for r in created):
            svc.request_approval(batch[i][0])


def _report_bad(svc: Services, report: ScanReport, bad: BadFile, sig: str) -> None:
    """Logged and notified once per (file, signature): the signature is stored, so the unchanged
    bad file is not parsed again until it changes; the notice's dedupe key holds the signature
    too, so a second scanner racing this one (or a redelivered scan task) stays quiet."""
    report.bad.append(bad)
    log_event(log, "bad_file", file=bad.rel_path, line=bad.line, reason=bad.reason)
    where = f"line {bad.line}: " if bad.line else ""
    svc.notify(Notice(kind="bad_file", file=bad.rel_path, reason=where + bad.reason,
                      dedupe=f"{svc.site_key}|{bad.rel_path}|{sig}"))


def _names(post: Post) -> list[str]:
    """Keys a renamed file is recognised by: its title and its excerpt."""
    names = []
    for prefix, text in (("t:", post.title), ("e:", post.excerpt)):
        text = " ".join(text.split())
        if text:
            names.append(prefix + hashlib.blake2b(text.encode("utf-8", "surrogatepass"),
                                                  digest_size=10).hexdigest())
    return names


def _identity(svc: Services, post: Post, rel: str) -> str | None:
    """The identity URL this file's post already has, if any.

    A file keeps the identity it was first planned under, whatever its URL becomes.  A path
    never planned before may be a renamed file: a known post with the same title or excerpt
    whose file is gone is that post.  (A copy, with the old file still there, is a new post.)
    """
    state = svc.state
    known = state.file_identity(svc.site_key, rel)
    if known is not None:
        return known
    for candidate in state.identities_by_name(svc.site_key, _names(post)):
        if candidate == post.url:
            continue  # same URL: the seen index follows a plain rename by itself
        old_rel = (state.seen_info(svc.site_key, candidate) or {}).get("rel_path")
        if (isinstance(old_rel, str) and old_rel != rel
                and not (svc.site.root / old_rel).is_file()):
            return candidate
    return None


def _plan_post(svc: Services, post: Post, rel: str, sig: str, now: float, report: ScanReport,
               enqueue: Enqueue, *, baseline: bool) -> None:
    state = svc.state
    ident = _identity(svc, post, rel)
    if ident is not None and ident != post.url:
        _plan_moved(svc, post, ident, rel, sig, now, report, enqueue)
        return
    info = _seen_payload(post, now)
    if state.mark_seen(svc.site_key, post.url, info):
        report.new += 1
        _remember_file(svc, post, rel, post.url)
        decision = gated(svc, decide(post, now, max_age_hours=svc.settings.max_age_hours,
                                     baseline=baseline))
        created = [_create(svc, post, platform, destination, decision, report, enqueue)
                   for platform, destination in svc.destinations()]
        if svc.settings.approval_required and any(
                r is not None and _wants_approval(r) for r in created):
            svc.request_approval(post)
        return
    report.changed += 1
    seen = state.seen_info(svc.site_key, post.url) or {}
    old_rel = seen.get("rel_path")
    if old_rel != rel:
        if isinstance(old_rel, str) and (svc.site.root / old_rel).is_file():
            other = svc.find_post_by_url(post.url)
            if other is not None and other.rel_path != rel:
                _report_bad(svc, report, BadFile(post.path, rel,
                                                 same_url_reason(old_rel, post.url)), sig)
                return
        # The file was renamed (same URL): follow it so delivery re-reads the right file.
        _update_seen(svc, post, {**seen, "rel_path": rel})
    _remember_file(svc, post, rel, post.url)
    _replan(svc, post, post.url, now, report, enqueue)


def _plan_moved(svc: Services, post: Post, ident: str, rel: str, sig: str, now: float,
                report: ScanReport, enqueue: Enqueue) -> None:
    """A known post whose URL changed (slug, category, date, permalink, or a renamed file):
    it stays the same post, so what was published is never published again."""
    state = svc.state
    seen = state.seen_info(svc.site_key, post.url)
    if seen is not None and seen.get("rel_path") not in (None, rel) and (
            svc.site.root / str(seen["rel_path"])).is_file():
        _report_bad(svc, report, BadFile(post.path, rel,
                                         same_url_reason(str(seen["rel_path"]), post.url)), sig)
        return
    report.changed += 1
    info = state.seen_info(svc.site_key, ident) or {}
    before = info.get("url", ident)
    if before != post.url or info.get("rel_path") != rel:
        state.update_seen(svc.site_key, ident, {**info, "rel_path": rel, "url": post.url,
                                                "title": post.title})
        log_event(log, "post_moved", post=ident, url=post.url, was=before, file=rel)
    _remember_file(svc, post, rel, ident)
    _replan(svc, post, ident, now, report, enqueue)


def _remember_file(svc: Services, post: Post, rel: str, ident: str) -> None:
    svc.state.set_file_identity(svc.site_key, rel, ident)
    svc.state.set_identity_names(svc.site_key, _names(post), ident)


def _replan(svc: Services, post: Post, ident: str, now: float, report: ScanReport,
            enqueue: Enqueue) -> None:
    """A known post's file changed: re-evaluate the records that have not gone out."""
    state = svc.state
    existing = {(r.platform, r.destination): r for r in state.records(post_url=ident)}
    content = content_decision(post, now)
    planned: list[Record | None] = []
    for platform, destination in svc.destinations():
        rec = existing.get((platform, destination))
        if rec is None:  # a destination configured after the post was first seen
            decision = gated(svc, decide(post, now, max_age_hours=svc.settings.max_age_hours,
                                         baseline=False))
            planned.append(_create(svc, post, platform, destination, decision, report, enqueue,
                                   ident=ident))
        elif rec.state in REEVALUATE:
            # An editor's push stands: only records nobody pushed wait for approval.
            wanted = content if rec.extra.get("manual") else gated(svc, content)
            if is_breaking(post, svc.settings):
                rec = mark_breaking(state, rec)
            planned.append(_reevaluate(svc, rec, wanted, report, enqueue))
    if svc.settings.approval_required and any(
            r is not None and _wants_approval(r) for r in planned):
        svc.request_approval(post)  # a fresh preview when the edit changed the teasers
    if any(r.state == "sent" for r in existing.values()):
        # Imported here: the corrections pull in the teaser machinery a scan does not need.
        from bot.delivery.corrections import request_edits

        request_edits(svc, post, existing.values(), enqueue)


def _update_seen(svc: Services, post: Post, info: dict[str, Any]) -> None:
    svc.state.update_seen(svc.site_key, post.url, info)


def _count(report: ScanReport, state: str) -> None:
    if state == "queued":
        report.queued += 1
    elif state == "waiting":
        report.waiting += 1
    elif state == "skipped":
        report.skipped += 1


def _create(svc: Services, post: Post, platform: str, destination: str, decision: Decision,
            report: ScanReport, enqueue: Enqueue, *, ident: str | None = None) -> Record | None:
    """The new record, or None when someone else created it first (a concurrent scan or an
    editor push)."""
    rec = svc.state.ensure(ident or post.url, platform, destination, state=decision.state,
                           reason=decision.reason, scheduled_at=decision.scheduled_at, by="scan")
    return _created(rec, decision, report, enqueue,
                    mark=_marker(svc, is_breaking(post, svc.settings)))


def _marker(svc: Services, breaking: bool) -> Callable[[Record], Record] | None:
    """How a breaking post's new record gets ``breaking="1"`` (before it is enqueued)."""
    if not breaking:
        return None
    return lambda rec: mark_breaking(svc.state, rec)


def _created(rec: Record, decision: Decision, report: ScanReport,
             enqueue: Enqueue, *, mark: Callable[[Record], Record] | None = None
             ) -> Record | None:
    """Log, count and enqueue a record ``ensure`` returned; None when it is not the one the
    decision asked for (someone else created it first)."""
    if rec.state != decision.state or rec.reason != decision.reason:
        return None
    if mark is not None:
        rec = mark(rec)
    _log_change(rec, "none")
    _count(report, rec.state)
    if rec.state == "queued":
        _safe_enqueue(enqueue, rec.key)
    return rec


def _reevaluate(svc: Services, rec: Record, decision: Decision, report: ScanReport,
                enqueue: Enqueue) -> Record | None:
    """The record as the decision left it (unchanged when it already matched); None when it
    moved on meanwhile (a worker or an editor got there first)."""
    if (rec.state == decision.state and rec.reason == decision.reason
            and rec.scheduled_at == decision.scheduled_at):
        return rec
    moved = svc.state.transition(*rec.ref, REEVALUATE, decision.state, reason=decision.reason,
                                 scheduled_at=decision.scheduled_at, by="scan")
    if moved is None:
        return None
    _log_change(moved, rec.state)
    _count(report, moved.state)
    if moved.state == "queued":
        _safe_enqueue(enqueue, moved.key)
    return moved


def _backfill(svc: Services, count: int, now: float, enqueue: Enqueue,
              report: ScanReport) -> int:
    """Publish the ``count`` newest posts that never went out, whatever the baseline/age said.

    Parses every post (a manual, rare command); posts that opt out (`published: false`,
    `social: false`) or are dated in the future are left to their own rules.
    """
    posts: list[Post] = []
    files = list(iter_post_files(svc.site))
    for _path, post in read_in_order(svc.site, files, processes=svc.settings.scan_processes):
        if not isinstance(post, Post):
            continue  # bad files were reported by the scan; a backfill skips them
        if content_decision(post, now).state == "queued":
            posts.append(post)
    posts.sort(key=lambda p: p.date, reverse=True)
    done = 0
    for post in posts:
        if done >= count:
            break
        ident = svc.identity_of(post)
        records = svc.state.records(post_url=ident)
        if any(r.state in ("sent", "sending", "in_doubt") for r in records):
            continue
        if svc.state.mark_seen(svc.site_key, ident, _seen_payload(post, now)):
            _remember_file(svc, post, post.rel_path, ident)
        for platform, destination in svc.destinations():
            rec = svc.state.ensure(ident, platform, destination, state="new", by="backfill")
            old = rec.state
            if rec.state == "queued" or rec.state not in (*REPLANNABLE, "skipped"):
                continue  # already on its way, or sent, in flight, or for an editor to decide
            try:
                if rec.state == "skipped":
                    rec = svc.state.editor_resolve(*rec.ref, "force", "backfill",
                                                   reason="backfill")
                # old on purpose: the sender's age limit does not apply to a backfill
                rec = svc.state.transition(*rec.ref, REPLANNABLE, "queued", reason="backfill",
                                           by="backfill", **{NO_AGE_LIMIT: "1"}) or rec
            except TransitionRefusedError:
                continue
            if rec.state != "queued":
                continue
            _log_change(rec, old if old != rec.state else "none", by="backfill")
            report.queued += 1
            _safe_enqueue(enqueue, rec.key)
        done += 1
    return done


def approved_fingerprints(svc: Services, post: Post, platforms: Iterable[str]
                          ) -> dict[str, str]:
    """The fingerprint of each platform's teaser as it is now: what an editor's push approves.

    A teaser that cannot be built (a template error) approves nothing; the sender fails it.
    """
    # Imported here: the teaser tools (templates, twitter-text's patterns) cost a scan a second
    # or two to import, and only an approval needs them.
    from bot.delivery.content import fingerprint, prepare

    out: dict[str, str] = {}
    for platform in platforms:
        try:
            out[platform] = fingerprint([prepare(svc.tools, post, platform)])
        except Exception as exc:
            log.warning("cannot prepare the %s teaser of %s for approval (%s)", platform,
                        post.url, type(exc).__name__)
    return out


def plan_manual(
    svc: Services,
    post: Post,
    platforms: Iterable[str],
    *,
    force: bool,
    who: str,
    enqueue: Enqueue,
    ignore_pause: bool = False,
    approved: Mapping[str, str] | None = None,
) -> list[Record]:
    """An editor's push: queue the post for ``platforms`` whatever scanning decided.

    A sent record goes out again only with ``force``; a record being sent, or already queued, is
    left alone (returned as is).  Pushed records carry ``manual=<who>`` so the sender does not
    hold them back for `published: false` / `social: false` or age (the editor decided);
    ``ignore_pause`` (a push confirmed while paused) lets them out although publishing is
    paused.  Under APPROVAL_REQUIRED the push approves the teasers as they are now (or the
    ``approved`` fingerprints the editor was shown): different content at send time asks again.
    """
    wanted = set(platforms)
    state = svc.state
    now = time.time()
    fields: dict[str, str] = {MANUAL_FIELD: who}
    if ignore_pause:
        fields[PUSH_ANYWAY] = "1"
    if is_breaking(post, svc.settings):
        fields[BREAKING_FIELD] = "1"
    fingerprints: Mapping[str, str] = {}
    if svc.settings.approval_required:
        fingerprints = approved if approved is not None else approved_fingerprints(
            svc, post, [p for p, _ in svc.destinations() if p in wanted])
    ident = svc.identity_of(post)
    if state.mark_seen(svc.site_key, ident, _seen_payload(post, now)):
        _remember_file(svc, post, post.rel_path, ident)
    out: list[Record] = []
    for platform, destination in svc.destinations():
        if platform not in wanted:
            continue
        rec = state.ensure(ident, platform, destination, state="new", by=who)
        old = rec.state
        try:
            if rec.state in ("new", "waiting", "queued", "retry_wait"):
                moved = state.transition(*rec.ref, ("new", "waiting", "queued", "retry_wait"),
                                         "queued", reason=f"pushed by {who}", by=who,
                                         **fields, **_approval(fingerprints, platform))
                rec = moved or rec
            elif rec.state in ("sending", "in_doubt") or (rec.state == "sent" and not force):
                # in_doubt: only an editor's resolve decides it, never a push (not even forced)
                out.append(rec)
                continue
            else:
                action = "resend" if rec.state == "failed" and not force else "force"
                rec = state.editor_resolve(*rec.ref, action, who, reason=f"pushed by {who}")
                moved = state.transition(*rec.ref, "queued", "queued", reason=f"pushed by {who}",
                                         by=who, **fields, **_approval(fingerprints, platform))
                rec = moved or rec
        except TransitionRefusedError as exc:
            out.append(exc.record)
            continue
        if rec.state == "queued":
            _log_change(rec, old, by=who)
            _safe_enqueue(enqueue, rec.key)
        out.append(rec)
    return out


def _approval(fingerprints: Mapping[str, str], platform: str) -> dict[str, str]:
    fp = fingerprints.get(platform)
    return {APPROVED_FP: fp} if fp else {}
