"""Helpers that put a delivery record into any state through the public API only."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.state import Record, State

T0 = 1_800_000_000.0  # explicit clock for tests that must not depend on the wall clock
POST = "https://newsdao.kr/2026/11/29/exaone-3.html"
REF = (POST, "telegram", "@newsdao")

Maker = Callable[..., Record]


def put_in_state(state: State, target: str, ref: tuple[str, str, str] = REF) -> Record:
    """Drive a fresh record to ``target`` the way the product would."""
    if target in ("new", "waiting", "queued", "skipped"):
        return state.ensure(*ref, state=target, now=T0)
    state.ensure(*ref, state="queued", now=T0)
    held = state.acquire_send(*ref, owner="owner-1", lease_seconds=30, now=T0)
    assert held is not None
    if target == "sending":
        return held
    if target == "sent":
        assert state.complete_send(*ref, owner="owner-1", receipt_id="42",
                                   receipt_url="https://t.me/newsdao/42", now=T0 + 1)
    elif target == "retry_wait":
        assert state.fail_send(*ref, owner="owner-1", reason="429", permanent=False,
                               retry_at=T0 + 60, now=T0 + 1)
    elif target == "failed":
        assert state.fail_send(*ref, owner="owner-1", reason="chat not found", permanent=True,
                               now=T0 + 1)
    elif target == "in_doubt":
        assert state.fence_send(*ref, owner="owner-1", send_seconds=30, now=T0) == T0 + 30
        assert [r.key for r in state.expire_leases(now=T0 + 31)] == [held.key]
    else:
        raise AssertionError(target)
    record = state.get(*ref)
    assert record is not None and record.state == target
    return record


@pytest.fixture
def make(state: State) -> Maker:
    def _make(target: str, ref: tuple[str, str, str] = REF) -> Record:
        return put_in_state(state, target, ref)
    return _make
