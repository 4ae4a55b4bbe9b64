"""retry, resolve and skip against a real Redis: every branch of their reports."""

from __future__ import annotations

import pytest

from bot.actions import decide

from .conftest import KOSPI, TG, WHO, X
from .conftest import audits as _audits
from .conftest import by_platform as _by_platform


def test_who_is_required(svc, recorder) -> None:
    with pytest.raises(ValueError):
        decide.retry(svc, "kospi-rebound", who=" ", enqueue=recorder())


# ------------------------------------------------------------------------------ retry
@pytest.mark.parametrize("start", ["failed", "retry_wait"])
def test_retry_requeues_failed_and_backing_off(drive, svc, start, recorder) -> None:
    drive(svc.state, start, TG)
    drive(svc.state, "sent", X)
    sent = recorder()
    report = decide.retry(svc, "kospi-rebound", who=WHO, enqueue=sent)
    outs = _by_platform(report)
    assert report.ok and outs["telegram"].result == "queued"
    assert outs["x"].result == "already_sent"
    assert sent.keys == [svc.state.key_for(*TG)]
    assert svc.state.get(*TG).state == "queued"
    history = svc.state.history(*TG)
    assert history[-1]["by"] == WHO and history[-1]["to"] == "queued"
    assert _audits(svc)[0]["action"] == "retry"


def test_retry_never_touches_in_doubt(drive, svc, recorder) -> None:
    drive(svc.state, "in_doubt", TG)
    sent = recorder()
    report = decide.retry(svc, KOSPI, who=WHO, enqueue=sent)
    out = report.outcomes[0]
    assert out.result == "in_doubt" and "resolve" in out.message
    assert sent.keys == [] and svc.state.get(*TG).state == "in_doubt"


def test_retry_with_nothing_recorded_says_push(svc, recorder) -> None:
    report = decide.retry(svc, "kospi-rebound", who=WHO, enqueue=recorder())
    assert not report.ok and "push" in (report.error or "")


def test_retry_by_url_of_a_post_gone_from_the_site(drive, svc, recorder) -> None:
    gone = "https://newsdao.kr/2024/01/01/deleted.html"
    drive(svc.state, "failed", (gone, "telegram", "@newsdao"))
    sent = recorder()
    report = decide.retry(svc, gone, who=WHO, enqueue=sent)
    assert report.ok and report.post == gone and len(sent.keys) == 1


def test_broker_failure_is_reported_and_record_stays_queued(drive, svc) -> None:
    drive(svc.state, "failed", TG)

    def broken(key: str) -> None:
        raise ConnectionError("broker down")

    report = decide.retry(svc, KOSPI, who=WHO, enqueue=broken)
    assert report.outcomes[0].result == "queued" and "broker down" in report.outcomes[0].message
    assert svc.state.get(*TG).state == "queued"


# ------------------------------------------------------------------------------ resolve
def test_resolve_resend_requeues_in_doubt(drive, svc, recorder) -> None:
    drive(svc.state, "in_doubt", TG)
    drive(svc.state, "failed", X)
    sent = recorder()
    report = decide.resolve(svc, "kospi-rebound", action="resend", who=WHO, enqueue=sent)
    outs = _by_platform(report)
    assert report.ok and outs["telegram"].result == "queued"
    assert outs["x"].result == "nothing_to_do"  # failed is retry's business, not resolve's
    assert sent.keys == [svc.state.key_for(*TG)] and svc.state.get(*X).state == "failed"
    assert _audits(svc)[0]["action"] == "resolve-resend"


def test_resolve_mark_sent(drive, svc, recorder) -> None:
    drive(svc.state, "in_doubt", TG)
    sent = recorder()
    report = decide.resolve(svc, "kospi-rebound", action="mark_sent", who=WHO, enqueue=sent)
    assert report.ok and report.outcomes[0].result == "marked_sent"
    assert sent.keys == [] and svc.state.get(*TG).state == "sent"


def test_resolve_and_retry_act_only_on_the_record_or_platform_named(drive, svc, recorder) -> None:
    drive(svc.state, "in_doubt", TG)
    drive(svc.state, "in_doubt", X)
    sent = recorder()
    report = decide.resolve(svc, KOSPI, action="mark_sent", who=WHO, enqueue=sent,
                            record_key=svc.state.key_for(*TG))
    assert report.ok and [o.platform for o in report.outcomes] == ["telegram"]
    assert svc.state.get(*TG).state == "sent" and svc.state.get(*X).state == "in_doubt"
    report = decide.resolve(svc, KOSPI, action="resend", who=WHO, enqueue=sent, platforms=("x",))
    assert report.ok and sent.keys == [svc.state.key_for(*X)]
    assert svc.state.get(*TG).state == "sent"
    gone = decide.resolve(svc, KOSPI, action="resend", who=WHO, enqueue=sent,
                          record_key="0" * 24)
    assert not gone.ok and gone.error == "no such delivery of this post"

    other = "https://newsdao.kr/2024/08/07/exaone-3-open-source.html"
    drive(svc.state, "failed", (other, "telegram", "@newsdao"))
    drive(svc.state, "failed", (other, "x", "newsdao"))
    retried = decide.retry(svc, other, who=WHO, enqueue=sent,
                           record_key=svc.state.key_for(other, "x", "newsdao"))
    assert [o.platform for o in retried.outcomes] == ["x"]
    assert svc.state.get(other, "telegram", "@newsdao").state == "failed"


def test_resolve_without_doubt_or_with_bad_action(drive, svc, recorder) -> None:
    drive(svc.state, "sent", TG)
    none = decide.resolve(svc, "kospi-rebound", action="resend", who=WHO, enqueue=recorder())
    assert not none.ok and "no in-doubt" in (none.error or "")
    assert svc.state.get(*TG).state == "sent"
    bad = decide.resolve(svc, "kospi-rebound", action="force", who=WHO, enqueue=recorder())
    assert not bad.ok and "resend" in (bad.error or "")


# ------------------------------------------------------------------------------ skip
def test_skip_existing_and_not_yet_seen_destinations(drive, svc) -> None:
    drive(svc.state, "retry_wait", TG)
    report = decide.skip(svc, "kospi-rebound", who=WHO)
    outs = _by_platform(report)
    assert report.ok and outs["telegram"].result == "skipped" and outs["x"].result == "skipped"
    assert svc.state.get(*TG).state == "skipped" and svc.state.get(*X).state == "skipped"
    assert svc.state.get(*X).reason == f"editor skip by {WHO}"
    assert svc.state.next_due() is None  # the retry_wait left the schedule
    again = decide.skip(svc, "kospi-rebound", who=WHO)
    assert {o.message for o in again.outcomes} == {"already skipped"}


def test_skip_leaves_sent_and_sending_alone(drive, svc) -> None:
    drive(svc.state, "sent", TG)
    drive(svc.state, "sending", X)
    report = decide.skip(svc, "kospi-rebound", who=WHO)
    outs = _by_platform(report)
    assert outs["telegram"].result == "already_sent" and outs["x"].result == "in_progress"
    assert svc.state.get(*TG).state == "sent" and svc.state.get(*X).state == "sending"


def test_retry_of_queued_or_waiting_records_does_nothing(drive, svc, recorder) -> None:
    drive(svc.state, "queued", TG)
    svc.state.ensure(*X, state="waiting", scheduled_at=svc.state.now() + 600)
    sent = recorder()
    report = decide.retry(svc, KOSPI, who=WHO, enqueue=sent)
    outs = _by_platform(report)
    assert outs["telegram"].result == "nothing_to_do" and outs["x"].result == "waiting"
    assert outs["x"].eta is not None and sent.keys == []
