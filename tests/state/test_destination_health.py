"""The destination health book: one "changed" per outage and per recovery, whatever the order of
outcomes, and no answer turns a destination unhealthy only after ``limit`` checks in a row."""

from __future__ import annotations

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.state import State
from bot.state.destination_health import HealthBook

T0 = 1_800_000_000.0


def test_first_ok_is_no_change_and_outage_is_one_change(state: State) -> None:
    book = HealthBook(state.client, namespace=state.namespace)
    assert book.get("telegram", "@news") is None
    first = book.record("telegram", "@news", "ok", now=T0)
    assert (first.changed, first.status) == (False, "ok")
    assert book.unhealthy_reason("telegram", "@news") is None
    down = book.record("telegram", "@news", "unhealthy", "not an administrator", now=T0 + 5)
    assert (down.changed, down.status, down.since) == (True, "unhealthy", T0 + 5)
    again = book.record("telegram", "@news", "unhealthy", "left the channel", now=T0 + 10)
    assert (again.changed, again.since) == (False, T0 + 5)  # the same outage
    assert book.unhealthy_reason("telegram", "@news") == "left the channel"
    up = book.record("telegram", "@news", "ok", now=T0 + 15)
    assert (up.changed, up.status, up.since) == (True, "ok", T0 + 15)
    seen = book.get("telegram", "@news")
    assert seen is not None and seen.to_json()["status"] == "ok"
    assert seen.checked_at == T0 + 15 and seen.reason == ""


def test_no_answer_counts_up_to_the_limit(state: State) -> None:
    book = HealthBook(state.client, namespace=state.namespace)
    book.record("x", "x", "ok", now=T0)
    for n in range(2):
        change = book.record("x", "x", "unreachable", "timeout", limit=3, now=T0 + n)
        assert not change.changed and change.status == "ok"
    third = book.record("x", "x", "unreachable", "no answer in 3 checks: timeout", limit=3,
                        now=T0 + 3)
    assert third.changed and third.status == "unhealthy"
    assert book.unhealthy_reason("x", "x") == "no answer in 3 checks: timeout"
    # an answer resets the count
    book.record("x", "x", "ok", now=T0 + 4)
    assert not book.record("x", "x", "unreachable", "timeout", limit=3, now=T0 + 5).changed
    seen = book.get("x", "x")
    assert seen is not None and seen.failures == 1 and seen.check_error == "timeout"


def test_destinations_are_apart(state: State) -> None:
    book = HealthBook(state.client, namespace=state.namespace)
    book.record("telegram", "@a", "unhealthy", "kicked", now=T0)
    assert book.unhealthy_reason("telegram", "@b") is None
    assert book.unhealthy_reason("x", "x") is None


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["ok", "unhealthy", "unreachable"]), max_size=30),
       st.integers(min_value=1, max_value=4))
def test_changes_follow_a_simple_model(state: State, outcomes: list[str], limit: int) -> None:
    """Model: unhealthy after a 'unhealthy' or ``limit`` 'unreachable' in a row; ok after 'ok'.
    A change is reported exactly when the modelled status flips to or from unhealthy."""
    client: redis.Redis = state.client
    client.delete(state.keys.dest_health("x", "x"))
    book = HealthBook(client, namespace=state.namespace)
    status, streak = "", 0
    for n, outcome in enumerate(outcomes):
        before = status
        if outcome == "ok":
            status, streak = "ok", 0
        elif outcome == "unhealthy":
            status = "unhealthy"
        else:
            streak += 1
            if streak >= limit:
                status = "unhealthy"
        change = book.record("x", "x", outcome, "why", limit=limit,  # type: ignore[arg-type]
                             now=T0 + n)
        flipped = (before == "unhealthy") != (status == "unhealthy")
        assert change.changed == flipped, (outcomes[: n + 1], limit)
        assert (book.unhealthy_reason("x", "x") is not None) == (status == "unhealthy")
