"""The deploy-signal seam between the webhook endpoint and the live checks, on real Redis."""

from __future__ import annotations

import time

from bot.state import State
from bot.state.deploy_signal import DeploySignals


def test_a_signal_is_kept_as_the_latest_and_wakes_a_listener(state: State) -> None:
    signals = DeploySignals(state.client, state.namespace)
    assert signals.latest() is None
    listener = signals.listen()
    try:
        before = time.time()
        assert signals.signal("github:page_build") == 1
        assert signals.signal("deploy-hook") == 2
        latest = signals.latest()
        assert latest is not None and latest.seq == 2 and latest.source == "deploy-hook"
        assert before - 5 <= latest.at <= time.time() + 5  # the server's clock
        got = []
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            message = listener.get_message(timeout=0.5)
            if message is not None:
                got.append(message["data"])
        assert [str(g if isinstance(g, str) else g.decode()) for g in got] == ["1", "2"]
    finally:
        listener.close()


def test_a_long_source_is_cut_and_namespaces_do_not_mix(state: State) -> None:
    mine = DeploySignals(state.client, state.namespace)
    other = DeploySignals(state.client, state.namespace + "-other")
    mine.signal("x" * 500)
    latest = mine.latest()
    assert latest is not None and len(latest.source) == 100
    assert other.latest() is None
