"""pause and resume against a real Redis."""

from __future__ import annotations

from bot.actions import pausing

from .conftest import TG, WHO, X
from .conftest import audits as _audits


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
