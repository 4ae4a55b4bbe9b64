"""pause and resume against a real Redis."""

from __future__ import annotations

from bot.actions import pausing

WHO = "cli:tester"
KOSPI = "https://newsdao.kr/%EA%B2%BD%EC%A0%9C/2024/10/02/kospi-rebound.html"
TG = (KOSPI, "telegram", "@newsdao")
X = (KOSPI, "x", "newsdao")


def _audits(svc) -> list[dict]:
    return svc.state.audit_log(100)


def test_pause_and_resume_requeue_queued_records(drive, svc, recorder) -> None:
    report = pausing.pause(svc, WHO, "elections")
    assert report.paused and report.changed
    assert svc.state.pause_info()["reason"] == "elections"
    assert not pausing.pause(svc, WHO).changed
    drive(svc.state, "queued", TG)
    drive(svc.state, "sent", X)
    sent = recorder()
    resumed = pausing.resume(svc, WHO, sent)
    assert resumed.changed and not resumed.paused and not svc.state.is_paused()
    assert list(resumed.requeued) == sent.keys == [svc.state.key_for(*TG)]
    actions = [e["action"] for e in _audits(svc)]
    assert actions[:3] == ["resume", "pause", "pause"]
    assert not pausing.resume(svc, WHO, sent).changed
