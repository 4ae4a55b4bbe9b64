"""Operator actions against a real Redis: every branch of every report."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.actions import delivery as act
from bot.actions.delivery import RecordingEnqueue
from bot.state import STATES

WHO = "cli:tester"
KOSPI = "https://newsdao.kr/%EA%B2%BD%EC%A0%9C/2024/10/02/kospi-rebound.html"
TG = (KOSPI, "telegram", "@newsdao")
X = (KOSPI, "x", "newsdao")


def _by_platform(report: act.DeliveryReport) -> dict[str, act.Outcome]:
    return {o.platform: o for o in report.outcomes}


def _audits(svc) -> list[dict]:
    return svc.state.audit_log(100)


# ------------------------------------------------------------------------------ push
def test_push_fresh_post_queues_every_destination_and_audits(svc, plan) -> None:
    sent = RecordingEnqueue()
    report = act.push(svc, "kospi-rebound", who=WHO, enqueue=sent, plan=plan)
    assert report.ok and report.post == KOSPI and not report.paused
    outs = _by_platform(report)
    assert {o.result for o in outs.values()} == {"queued"}
    assert sorted(sent.keys) == sorted(svc.state.key_for(*r) for r in (TG, X))
    assert svc.state.get(*TG).state == "queued" and svc.state.get(*X).state == "queued"
    entry = _audits(svc)[0]
    assert (entry["who"], entry["action"], entry["target"]) == (WHO, "push", KOSPI)
    assert json.loads(entry["result"]) == {"telegram:@newsdao": "queued", "x:newsdao": "queued"}


def test_push_one_platform_only(svc, plan) -> None:
    sent = RecordingEnqueue()
    report = act.push(svc, KOSPI, who=WHO, enqueue=sent, platforms=("x",), plan=plan)
    assert [o.platform for o in report.outcomes] == ["x"]
    assert sent.keys == [svc.state.key_for(*X)]
    assert svc.state.get(*TG) is None


def test_push_already_sent_reports_link_and_queues_nothing(drive, svc, plan) -> None:
    drive(svc.state, "sent", TG)
    sent = RecordingEnqueue()
    report = act.push(svc, "kospi-rebound", who=WHO, enqueue=sent, platforms=("telegram",),
                      plan=plan)
    out = report.outcomes[0]
    assert report.ok and out.result == "already_sent"
    assert out.receipt_url == "https://t.me/newsdao/42" and "https://t.me/newsdao/42" in out.message
    assert sent.keys == [] and svc.state.get(*TG).state == "sent"


def test_push_force_requeues_a_sent_post(drive, svc, plan) -> None:
    drive(svc.state, "sent", TG)
    sent = RecordingEnqueue()
    report = act.push(svc, "kospi-rebound", who=WHO, enqueue=sent, platforms=("telegram",),
                      force=True, plan=plan)
    assert report.outcomes[0].result == "queued"
    assert sent.keys == [svc.state.key_for(*TG)]
    assert svc.state.get(*TG).state == "queued"
    assert _audits(svc)[0]["action"] == "push-force"


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("paused", [False, True])
def test_push_never_requeues_an_in_doubt_record(drive, svc, plan, force, paused) -> None:
    """Only resolve (or the notice's buttons) decides an in-doubt send; push says how."""
    drive(svc.state, "in_doubt", TG)
    if paused:
        svc.state.pause(WHO)
    sent = RecordingEnqueue()
    report = act.push(svc, "kospi-rebound", who=WHO, enqueue=sent, plan=plan, force=force,
                      confirm_paused=True)
    outs = _by_platform(report)
    tg = outs["telegram"]
    assert report.ok and tg.result == "in_doubt" and tg.state == "in_doubt"
    assert f"newsbot resolve {KOSPI} --platform telegram --resend|--mark-sent" in tg.message
    assert "[It went out]" in tg.message
    assert svc.state.get(*TG).state == "in_doubt" and svc.state.key_for(*TG) not in sent.keys
    assert outs["x"].result == "queued" and sent.keys == [svc.state.key_for(*X)]
    entry = _audits(svc)[0]
    assert json.loads(entry["result"])["telegram:@newsdao"] == "in_doubt"


def test_push_while_paused_is_refused_until_confirmed(drive, svc, plan) -> None:
    svc.state.pause("tg:1", "maintenance")
    drive(svc.state, "sent", X)
    sent = RecordingEnqueue()
    refused = act.push(svc, "kospi-rebound", who=WHO, enqueue=sent, plan=plan)
    assert not refused.ok and refused.paused and refused.needs_confirmation
    outs = _by_platform(refused)
    assert outs["telegram"].result == "paused" and outs["x"].result == "already_sent"
    assert sent.keys == [] and svc.state.get(*TG) is None
    assert json.loads(_audits(svc)[0]["result"])["refused"] == "paused"

    confirmed = act.push(svc, "kospi-rebound", who=WHO, enqueue=sent, confirm_paused=True,
                         plan=plan)
    assert confirmed.ok and confirmed.paused
    assert _by_platform(confirmed)["telegram"].result == "queued"
    assert "goes out now" in _by_platform(confirmed)["telegram"].message
    pushed = svc.state.get(*TG)
    assert pushed.state == "queued" and svc.state.get(*X).state == "sent"
    # the confirmation is on the record: the sender lets it out although paused
    assert pushed.extra.get("push_anyway") == "1"


def test_push_unknown_post_and_platform_are_reports_not_exceptions(svc, plan) -> None:
    sent = RecordingEnqueue()
    missing = act.push(svc, "no-such-post", who=WHO, enqueue=sent, plan=plan)
    assert not missing.ok and "no post matches" in (missing.error or "")
    bad = act.push(svc, "kospi-rebound", who=WHO, enqueue=sent, platforms=("mastodon",),
                   plan=plan)
    assert not bad.ok and "mastodon" in (bad.error or "")
    assert sent.keys == []


def test_push_of_a_file_outside_the_site_is_refused(svc, plan, tmp_path) -> None:
    """What is pushed is what a scan would publish: a file of the site, and nothing else (the
    worker reads it again by the same rule, so an outside file could not be delivered anyway)."""
    outside = tmp_path / "2024-10-02-elsewhere.md"
    outside.write_text("---\ntitle: Elsewhere\ndate: 2024-10-02 09:00:00 +0900\n---\nBody\n",
                       encoding="utf-8")
    sent = RecordingEnqueue()
    refused = act.push(svc, str(outside), who=WHO, enqueue=sent, plan=plan)
    assert not refused.ok and "not a file of the site" in (refused.error or "")
    assert sent.keys == []


def test_push_of_unpublishable_post_warns(svc, plan) -> None:
    report = act.push(svc, "newsdao-notice", who=WHO, enqueue=RecordingEnqueue(), plan=plan)
    assert report.warning and "social: false" in report.warning


def test_push_without_destination_for_platform(svc, plan) -> None:
    svc.dests = [("telegram", "@newsdao")]
    report = act.push(svc, "kospi-rebound", who=WHO, enqueue=RecordingEnqueue(),
                      platforms=("x",), plan=plan)
    assert not report.ok and "no destination" in (report.error or "")


def test_who_is_required(svc) -> None:
    with pytest.raises(ValueError):
        act.retry(svc, "kospi-rebound", who=" ", enqueue=RecordingEnqueue())


# ------------------------------------------------------------------------------ retry
@pytest.mark.parametrize("start", ["failed", "retry_wait"])
def test_retry_requeues_failed_and_backing_off(drive, svc, start) -> None:
    drive(svc.state, start, TG)
    drive(svc.state, "sent", X)
    sent = RecordingEnqueue()
    report = act.retry(svc, "kospi-rebound", who=WHO, enqueue=sent)
    outs = _by_platform(report)
    assert report.ok and outs["telegram"].result == "queued"
    assert outs["x"].result == "already_sent"
    assert sent.keys == [svc.state.key_for(*TG)]
    assert svc.state.get(*TG).state == "queued"
    history = svc.state.history(*TG)
    assert history[-1]["by"] == WHO and history[-1]["to"] == "queued"
    assert _audits(svc)[0]["action"] == "retry"


def test_retry_never_touches_in_doubt(drive, svc) -> None:
    drive(svc.state, "in_doubt", TG)
    sent = RecordingEnqueue()
    report = act.retry(svc, KOSPI, who=WHO, enqueue=sent)
    out = report.outcomes[0]
    assert out.result == "in_doubt" and "resolve" in out.message
    assert sent.keys == [] and svc.state.get(*TG).state == "in_doubt"


def test_retry_with_nothing_recorded_says_push(svc) -> None:
    report = act.retry(svc, "kospi-rebound", who=WHO, enqueue=RecordingEnqueue())
    assert not report.ok and "push" in (report.error or "")


def test_retry_by_url_of_a_post_gone_from_the_site(drive, svc) -> None:
    gone = "https://newsdao.kr/2024/01/01/deleted.html"
    drive(svc.state, "failed", (gone, "telegram", "@newsdao"))
    sent = RecordingEnqueue()
    report = act.retry(svc, gone, who=WHO, enqueue=sent)
    assert report.ok and report.post == gone and len(sent.keys) == 1


def test_broker_failure_is_reported_and_record_stays_queued(drive, svc) -> None:
    drive(svc.state, "failed", TG)

    def broken(key: str) -> None:
        raise ConnectionError("broker down")

    report = act.retry(svc, KOSPI, who=WHO, enqueue=broken)
    assert report.outcomes[0].result == "queued" and "broker down" in report.outcomes[0].message
    assert svc.state.get(*TG).state == "queued"


# ------------------------------------------------------------------------------ resolve
def test_resolve_resend_requeues_in_doubt(drive, svc) -> None:
    drive(svc.state, "in_doubt", TG)
    drive(svc.state, "failed", X)
    sent = RecordingEnqueue()
    report = act.resolve(svc, "kospi-rebound", action="resend", who=WHO, enqueue=sent)
    outs = _by_platform(report)
    assert report.ok and outs["telegram"].result == "queued"
    assert outs["x"].result == "nothing_to_do"  # failed is retry's business, not resolve's
    assert sent.keys == [svc.state.key_for(*TG)] and svc.state.get(*X).state == "failed"
    assert _audits(svc)[0]["action"] == "resolve-resend"


def test_resolve_mark_sent(drive, svc) -> None:
    drive(svc.state, "in_doubt", TG)
    sent = RecordingEnqueue()
    report = act.resolve(svc, "kospi-rebound", action="mark_sent", who=WHO, enqueue=sent)
    assert report.ok and report.outcomes[0].result == "marked_sent"
    assert sent.keys == [] and svc.state.get(*TG).state == "sent"


def test_resolve_and_retry_act_only_on_the_record_or_platform_named(drive, svc) -> None:
    drive(svc.state, "in_doubt", TG)
    drive(svc.state, "in_doubt", X)
    sent = RecordingEnqueue()
    report = act.resolve(svc, KOSPI, action="mark_sent", who=WHO, enqueue=sent,
                         record_key=svc.state.key_for(*TG))
    assert report.ok and [o.platform for o in report.outcomes] == ["telegram"]
    assert svc.state.get(*TG).state == "sent" and svc.state.get(*X).state == "in_doubt"
    report = act.resolve(svc, KOSPI, action="resend", who=WHO, enqueue=sent, platforms=("x",))
    assert report.ok and sent.keys == [svc.state.key_for(*X)]
    assert svc.state.get(*TG).state == "sent"
    gone = act.resolve(svc, KOSPI, action="resend", who=WHO, enqueue=sent,
                       record_key="0" * 24)
    assert not gone.ok and gone.error == "no such delivery of this post"

    other = "https://newsdao.kr/2024/08/07/exaone-3-open-source.html"
    drive(svc.state, "failed", (other, "telegram", "@newsdao"))
    drive(svc.state, "failed", (other, "x", "newsdao"))
    retried = act.retry(svc, other, who=WHO, enqueue=sent,
                        record_key=svc.state.key_for(other, "x", "newsdao"))
    assert [o.platform for o in retried.outcomes] == ["x"]
    assert svc.state.get(other, "telegram", "@newsdao").state == "failed"


def test_resolve_without_doubt_or_with_bad_action(drive, svc) -> None:
    drive(svc.state, "sent", TG)
    none = act.resolve(svc, "kospi-rebound", action="resend", who=WHO, enqueue=RecordingEnqueue())
    assert not none.ok and "no in-doubt" in (none.error or "")
    assert svc.state.get(*TG).state == "sent"
    bad = act.resolve(svc, "kospi-rebound", action="force", who=WHO, enqueue=RecordingEnqueue())
    assert not bad.ok and "resend" in (bad.error or "")


# ------------------------------------------------------------------------------ skip
def test_skip_existing_and_not_yet_seen_destinations(drive, svc) -> None:
    drive(svc.state, "retry_wait", TG)
    report = act.skip(svc, "kospi-rebound", who=WHO)
    outs = _by_platform(report)
    assert report.ok and outs["telegram"].result == "skipped" and outs["x"].result == "skipped"
    assert svc.state.get(*TG).state == "skipped" and svc.state.get(*X).state == "skipped"
    assert svc.state.get(*X).reason == f"editor skip by {WHO}"
    assert svc.state.next_due() is None  # the retry_wait left the schedule
    again = act.skip(svc, "kospi-rebound", who=WHO)
    assert {o.message for o in again.outcomes} == {"already skipped"}


def test_skip_leaves_sent_and_sending_alone(drive, svc) -> None:
    drive(svc.state, "sent", TG)
    drive(svc.state, "sending", X)
    report = act.skip(svc, "kospi-rebound", who=WHO)
    outs = _by_platform(report)
    assert outs["telegram"].result == "already_sent" and outs["x"].result == "in_progress"
    assert svc.state.get(*TG).state == "sent" and svc.state.get(*X).state == "sending"


# ------------------------------------------------------------------------------ pause / resume
def test_pause_and_resume_requeue_queued_records(drive, svc) -> None:
    report = act.pause(svc, WHO, "elections")
    assert report.paused and report.changed
    assert svc.state.pause_info()["reason"] == "elections"
    assert not act.pause(svc, WHO).changed
    drive(svc.state, "queued", TG)
    drive(svc.state, "sent", X)
    sent = RecordingEnqueue()
    resumed = act.resume(svc, WHO, sent)
    assert resumed.changed and not resumed.paused and not svc.state.is_paused()
    assert list(resumed.requeued) == sent.keys == [svc.state.key_for(*TG)]
    actions = [e["action"] for e in _audits(svc)]
    assert actions[:3] == ["resume", "pause", "pause"]
    assert not act.resume(svc, WHO, sent).changed


# ------------------------------------------------------------------------------ status
def test_status_json_shape_and_counts_match_records(drive, svc) -> None:
    other = "https://newsdao.kr/economy/2024/09/10/bok-base-rate-en.html"
    plan_states = {
        TG: "sent", X: "failed",
        (other, "telegram", "@newsdao"): "retry_wait", (other, "x", "newsdao"): "in_doubt",
        ("https://newsdao.kr/a.html", "x", "newsdao"): "skipped",
    }
    for ref, target in plan_states.items():
        drive(svc.state, target, ref)
    waiting = ("https://newsdao.kr/a.html", "telegram", "@newsdao")
    svc.state.ensure(*waiting, state="waiting", scheduled_at=svc.state.now() + 3600)
    plan_states[waiting] = "waiting"
    svc.state.heartbeat("worker@host")
    svc.state.pause("tg:7", "check")
    data = json.loads(json.dumps(act.status(svc).to_json()))

    assert {"counts", "deliveries", "paused", "pending", "rate", "workers"} <= set(data)
    assert list(data["counts"]) == list(STATES)
    expected = {s: sum(1 for v in plan_states.values() if v == s) for s in STATES}
    assert data["counts"] == expected
    assert len(data["deliveries"]) == 6
    for d in data["deliveries"]:
        assert list(d) == ["post", "platform", "destination", "state", "attempts", "reason",
                           "receipt", "updated_at", "notes"]
        assert d["state"] == plan_states[(d["post"], d["platform"], d["destination"])]
    stamps = [d["updated_at"] for d in data["deliveries"]]
    assert stamps == sorted(stamps, reverse=True)
    sent_row = next(d for d in data["deliveries"] if d["state"] == "sent")
    assert sent_row["receipt"] == {"id": "42", "url": "https://t.me/newsdao/42"}
    assert next(d for d in data["deliveries"] if d["state"] == "failed")["receipt"] is None
    assert [p["state"] for p in data["pending"]] == ["retry_wait", "waiting"]
    assert all(p["eta"] and p["eta"].endswith("+00:00") for p in data["pending"])
    assert data["paused"] is True and data["pause"]["who"] == "tg:7"
    assert set(data["workers"]) == {"worker@host"} and data["workers"]["worker@host"] < 60
    assert data["mode"] == "dry-run"
    tg_rate = data["rate"]["telegram:@newsdao"]
    shown = [(r["limit"], r["window"]) for r in tg_rate["rules"]]
    from bot.delivery.schedule import rate_spec

    spec = rate_spec(svc.settings, "telegram", "@newsdao", dry_run=False)
    # status reports the platform's own figures (1/s, 20/min per channel) ...
    assert shown == [(1, 1.0), (20, 60.0)] == list(spec.stated)
    # ... while the sender enforces the same rules, never looser (the margin stays internal)
    assert [n for n, _ in spec.rules] == [1, 20]
    assert all(w >= s for (_, w), (_, s) in zip(spec.rules, spec.stated, strict=True))
    assert "daily" in data["rate"]["x:newsdao"]


def test_status_limit_and_all(drive, svc) -> None:
    for i in range(25):
        drive(svc.state, "queued", (f"https://newsdao.kr/{i}.html", "telegram", "@newsdao"))
    assert len(act.status(svc).deliveries) == 20
    everything = act.status(svc, limit=None)
    assert len(everything.deliveries) == 25 and everything.total == 25


def test_status_shows_the_soonest_pending_of_many_and_reads_only_those(svc) -> None:
    """A burst leaves a thousand records waiting for a rate-limit slot: the status lists the
    soonest (unscheduled ones last) with the total, and loads no record it does not show."""
    now = svc.state.now()
    due = {}
    for i in range(300):
        ref = (f"https://newsdao.kr/burst-{i}.html", "telegram", "@newsdao")
        at = None if i % 50 == 0 else now + 1000 - i  # later posts are due sooner
        svc.state.ensure(*ref, state="waiting", reason="rate limit", scheduled_at=at)
        due[ref[0]] = at
    retry = ("https://newsdao.kr/retry.html", "x", "newsdao")
    svc.state.ensure(*retry, state="waiting", scheduled_at=now + 5000)
    loaded: list[str] = []
    real_load = svc.state._load

    def counting(rids):  # type: ignore[no-untyped-def]
        rids = list(rids)
        loaded.extend(rids)
        return real_load(rids)

    svc.state._load = counting
    try:
        data = act.status(svc).to_json()
    finally:
        del svc.state._load
    assert data["pending_total"] == 301 and len(data["pending"]) == act.DEFAULT_STATUS_LIMIT
    scheduled = sorted((at, url) for url, at in due.items() if at is not None)
    assert [p["post"] for p in data["pending"]] == [url for _, url in scheduled[:20]]
    assert len(loaded) <= 2 * act.DEFAULT_STATUS_LIMIT  # the shown pending and the recent list
    everything = act.status(svc, limit=None).to_json()
    assert everything["pending_total"] == len(everything["pending"]) == 301
    tail = [p["post"] for p in everything["pending"][-7:]]
    assert tail[0] == retry[0] and all(due[u] is None for u in tail[1:])  # unscheduled last


def test_status_rate_budget_counts_reserved_slots(svc) -> None:
    svc.settings = svc.settings.model_copy(update={"x_daily_limit": 17})
    now = svc.state.now()
    assert svc.limiter.reserve("telegram:@newsdao", [(1, 1.0), (20, 60.0)], now=now) == 0.0
    assert svc.limiter.reserve("x:newsdao", [(17, 86_400.0)], now=now) == 0.0
    rate = act.status(svc).rate
    remaining = [r["remaining"] for r in rate["telegram:@newsdao"]["rules"]]
    assert remaining[1] == 19
    daily = rate["x:newsdao"]["daily"]
    assert (daily["limit"], daily["used"], daily["remaining"]) == (17, 1, 16)


# ------------------------------------------------------------------------------ any input
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ref=st.text(max_size=80))
def test_any_typed_reference_gives_a_report_and_changes_nothing(svc, plan, ref) -> None:
    """What an editor types in Telegram is data: never an exception, never a file outside."""
    sent = RecordingEnqueue()
    for report in (
        act.push(svc, ref, who=WHO, enqueue=sent, plan=plan),
        act.retry(svc, ref, who=WHO, enqueue=sent),
        act.resolve(svc, ref, action="resend", who=WHO, enqueue=sent),
    ):
        assert isinstance(report, act.DeliveryReport)
        json.dumps(report.to_json(), ensure_ascii=False)
        assert report.ok == (report.error is None) or report.paused
    assert sent.keys == [] or all(svc.state.get_by_key(k) for k in sent.keys)


def test_path_outside_the_site_is_refused(svc, plan) -> None:
    report = act.push(svc, "../../../../etc/hostname", who=WHO, enqueue=RecordingEnqueue(),
                      plan=plan)
    assert not report.ok and report.error


def test_retry_of_queued_or_waiting_records_does_nothing(drive, svc) -> None:
    drive(svc.state, "queued", TG)
    svc.state.ensure(*X, state="waiting", scheduled_at=svc.state.now() + 600)
    sent = RecordingEnqueue()
    report = act.retry(svc, KOSPI, who=WHO, enqueue=sent)
    outs = _by_platform(report)
    assert outs["telegram"].result == "nothing_to_do" and outs["x"].result == "waiting"
    assert outs["x"].eta is not None and sent.keys == []
