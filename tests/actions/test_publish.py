"""``push`` against a real Redis: every branch of its report, and any typed reference."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.actions import decide, publish
from bot.actions.reports import DeliveryReport

from .conftest import KOSPI, TG, WHO, X
from .conftest import audits as _audits
from .conftest import by_platform as _by_platform


def test_push_fresh_post_queues_every_destination_and_audits(svc, plan, recorder) -> None:
    sent = recorder()
    report = publish.push(svc, "kospi-rebound", who=WHO, enqueue=sent, plan=plan)
    assert report.ok and report.post == KOSPI and not report.paused
    outs = _by_platform(report)
    assert {o.result for o in outs.values()} == {"queued"}
    assert sorted(sent.keys) == sorted(svc.state.key_for(*r) for r in (TG, X))
    assert svc.state.get(*TG).state == "queued" and svc.state.get(*X).state == "queued"
    entry = _audits(svc)[0]
    assert (entry["who"], entry["action"], entry["target"]) == (WHO, "push", KOSPI)
    assert json.loads(entry["result"]) == {"telegram:@newsdao": "queued", "x:newsdao": "queued"}


def test_push_one_platform_only(svc, plan, recorder) -> None:
    sent = recorder()
    report = publish.push(svc, KOSPI, who=WHO, enqueue=sent, platforms=("x",), plan=plan)
    assert [o.platform for o in report.outcomes] == ["x"]
    assert sent.keys == [svc.state.key_for(*X)]
    assert svc.state.get(*TG) is None


def test_push_already_sent_reports_link_and_queues_nothing(drive, svc, plan, recorder) -> None:
    drive(svc.state, "sent", TG)
    sent = recorder()
    report = publish.push(svc, "kospi-rebound", who=WHO, enqueue=sent, platforms=("telegram",),
                          plan=plan)
    out = report.outcomes[0]
    assert report.ok and out.result == "already_sent"
    assert out.receipt_url == "https://t.me/newsdao/42" and "https://t.me/newsdao/42" in out.message
    assert sent.keys == [] and svc.state.get(*TG).state == "sent"


def test_push_force_requeues_a_sent_post(drive, svc, plan, recorder) -> None:
    drive(svc.state, "sent", TG)
    sent = recorder()
    report = publish.push(svc, "kospi-rebound", who=WHO, enqueue=sent, platforms=("telegram",),
                          force=True, plan=plan)
    assert report.outcomes[0].result == "queued"
    assert sent.keys == [svc.state.key_for(*TG)]
    assert svc.state.get(*TG).state == "queued"
    assert _audits(svc)[0]["action"] == "push-force"


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("paused", [False, True])
def test_push_never_requeues_an_in_doubt_record(drive, svc, plan, force, paused, recorder) -> None:
    """Only resolve (or the notice's buttons) decides an in-doubt send; push says how."""
    drive(svc.state, "in_doubt", TG)
    if paused:
        svc.state.pause(WHO)
    sent = recorder()
    report = publish.push(svc, "kospi-rebound", who=WHO, enqueue=sent, plan=plan, force=force,
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


def test_push_while_paused_is_refused_until_confirmed(drive, svc, plan, recorder) -> None:
    svc.state.pause("tg:1", "maintenance")
    drive(svc.state, "sent", X)
    sent = recorder()
    refused = publish.push(svc, "kospi-rebound", who=WHO, enqueue=sent, plan=plan)
    assert not refused.ok and refused.paused and refused.needs_confirmation
    outs = _by_platform(refused)
    assert outs["telegram"].result == "paused" and outs["x"].result == "already_sent"
    assert sent.keys == [] and svc.state.get(*TG) is None
    assert json.loads(_audits(svc)[0]["result"])["refused"] == "paused"

    confirmed = publish.push(svc, "kospi-rebound", who=WHO, enqueue=sent, confirm_paused=True,
                             plan=plan)
    assert confirmed.ok and confirmed.paused
    assert _by_platform(confirmed)["telegram"].result == "queued"
    assert "goes out now" in _by_platform(confirmed)["telegram"].message
    pushed = svc.state.get(*TG)
    assert pushed.state == "queued" and svc.state.get(*X).state == "sent"
    # the confirmation is on the record: the sender lets it out although paused
    assert pushed.extra.get("push_anyway") == "1"


def test_push_unknown_post_and_platform_are_reports_not_exceptions(svc, plan, recorder) -> None:
    sent = recorder()
    missing = publish.push(svc, "no-such-post", who=WHO, enqueue=sent, plan=plan)
    assert not missing.ok and "no post matches" in (missing.error or "")
    bad = publish.push(svc, "kospi-rebound", who=WHO, enqueue=sent, platforms=("mastodon",),
                       plan=plan)
    assert not bad.ok and "mastodon" in (bad.error or "")
    assert sent.keys == []


def test_push_of_a_file_outside_the_site_is_refused(svc, plan, tmp_path, recorder) -> None:
    """What is pushed is what a scan would publish: a file of the site, and nothing else (the
    worker reads it again by the same rule, so an outside file could not be delivered anyway)."""
    outside = tmp_path / "2024-10-02-elsewhere.md"
    outside.write_text("---\ntitle: Elsewhere\ndate: 2024-10-02 09:00:00 +0900\n---\nBody\n",
                       encoding="utf-8")
    sent = recorder()
    refused = publish.push(svc, str(outside), who=WHO, enqueue=sent, plan=plan)
    assert not refused.ok and "not a file of the site" in (refused.error or "")
    assert sent.keys == []


def test_push_of_unpublishable_post_warns(svc, plan, recorder) -> None:
    report = publish.push(svc, "newsdao-notice", who=WHO, enqueue=recorder(), plan=plan)
    assert report.warning and "social: false" in report.warning


def test_push_without_destination_for_platform(svc, plan, recorder) -> None:
    svc.dests = [("telegram", "@newsdao")]
    report = publish.push(svc, "kospi-rebound", who=WHO, enqueue=recorder(),
                          platforms=("x",), plan=plan)
    assert not report.ok and "no destination" in (report.error or "")


# ------------------------------------------------------------------------------ any input
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ref=st.text(max_size=80))
def test_any_typed_reference_gives_a_report_and_changes_nothing(svc, plan, ref, recorder) -> None:
    """What an editor types in Telegram is data: never an exception, never a file outside."""
    sent = recorder()
    for report in (
        publish.push(svc, ref, who=WHO, enqueue=sent, plan=plan),
        decide.retry(svc, ref, who=WHO, enqueue=sent),
        decide.resolve(svc, ref, action="resend", who=WHO, enqueue=sent),
    ):
        assert isinstance(report, DeliveryReport)
        json.dumps(report.to_json(), ensure_ascii=False)
        assert report.ok == (report.error is None) or report.paused
    assert sent.keys == [] or all(svc.state.get_by_key(k) for k in sent.keys)


def test_path_outside_the_site_is_refused(svc, plan, recorder) -> None:
    report = publish.push(svc, "../../../../etc/hostname", who=WHO, enqueue=recorder(),
                          plan=plan)
    assert not report.ok and report.error
