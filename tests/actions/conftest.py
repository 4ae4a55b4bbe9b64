"""A minimal Services-like object over a real Redis, for the operator-action tests.

Why not the real ``bot.delivery.services.Services``: these tests check the actions, not the
wiring; they need the demo site, a State, a RateLimiter and named destinations (a dry run's
publishers all share the destination "dryrun", which would hide mix-ups between destinations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.actions.reports import DeliveryReport, Outcome
from bot.config import Settings, load_settings
from bot.delivery.content import ContentTools
from bot.delivery.planner import plan_manual
from bot.delivery.services import Services
from bot.platforms.registry import build_publishers, is_dry_run
from bot.state import RateLimiter, Record, State

DEMO_SITE = Path(__file__).resolve().parents[2] / "examples" / "site"
DESTINATIONS = [("telegram", "@newsdao"), ("x", "newsdao")]
KOSPI = "https://newsdao.kr/%EA%B2%BD%EC%A0%9C/2024/10/02/kospi-rebound.html"
WHO = "cli:tester"
TG = (KOSPI, "telegram", "@newsdao")
X = (KOSPI, "x", "newsdao")


def by_platform(report: DeliveryReport) -> dict[str, Outcome]:
    """A report's outcomes by platform: the tests check each destination's own answer."""
    return {o.platform: o for o in report.outcomes}


def audits(svc: MiniServices) -> list[dict]:
    return svc.state.audit_log(100)


@dataclass
class MiniServices:
    settings: Settings
    tools: ContentTools
    state: State
    limiter: RateLimiter
    publishers: list = field(default_factory=list)
    dests: list[tuple[str, str]] = field(default_factory=lambda: list(DESTINATIONS))
    site_key: str = "demo"

    def destinations(self) -> list[tuple[str, str]]:
        return list(self.dests)

    @property
    def dry_run(self) -> bool:
        return is_dry_run(self.publishers)

    # the real identity lookups (a post whose URL changed keeps its records)
    identity_of = Services.identity_of
    find_post_by_url = Services.find_post_by_url
    _read = Services._read


@pytest.fixture
def plan():
    """The real planner (passed explicitly so a test reads which one it exercises)."""
    return plan_manual


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(site_dir=DEMO_SITE, data_dir=tmp_path / "var")


@pytest.fixture
def svc(settings: Settings, state: State, rate_limiter: RateLimiter) -> MiniServices:
    return MiniServices(settings=settings, tools=ContentTools.from_settings(settings),
                        state=state, limiter=rate_limiter, publishers=build_publishers(settings))


@dataclass(slots=True)
class RecordingEnqueue:
    """An ``enqueue`` that only remembers keys: the actions' tests read what was handed over."""

    keys: list[str] = field(default_factory=list)

    def __call__(self, record_key: str) -> None:
        self.keys.append(record_key)


@pytest.fixture
def recorder() -> type[RecordingEnqueue]:
    """``recorder()``: a fresh recording ``enqueue`` (test modules cannot import this)."""
    return RecordingEnqueue


@pytest.fixture
def drive():
    """``drive(state, target, ref)``: a record in any state (test modules cannot import this)."""
    return _drive


def _drive(state: State, target: str, ref: tuple[str, str, str]) -> Record:
    """Put a record into ``target`` the way the product would, through the public API only."""
    if target in ("new", "waiting", "queued", "skipped"):
        return state.ensure(*ref, state=target)
    state.ensure(*ref, state="queued")
    held = state.acquire_send(*ref, owner="w-1", lease_seconds=30, ignore_pause=True)
    assert held is not None
    if target == "sending":
        return held
    if target == "sent":
        assert state.complete_send(*ref, owner="w-1", receipt_id="42",
                                   receipt_url="https://t.me/newsdao/42")
    elif target == "retry_wait":
        assert state.fail_send(*ref, owner="w-1", reason="429 Too Many Requests",
                               permanent=False, retry_at=state.now() + 600)
    elif target == "failed":
        assert state.fail_send(*ref, owner="w-1", reason="Bad Request: chat not found",
                               permanent=True)
    elif target == "in_doubt":  # the request left (fence), then its worker vanished
        assert state.fence_send(*ref, owner="w-1", send_seconds=30, ignore_pause=True)
        assert state.expire_leases(now=state.now() + 41)
    record = state.get(*ref)
    assert record is not None and record.state == target
    return record
