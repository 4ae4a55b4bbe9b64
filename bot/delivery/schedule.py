"""Timing decisions of delivery: the shared rate rules of each destination and retry backoff.

Why in one place: the sender reserves against these rules and `newsbot status` reports the budget
left against the same ones (``bot.actions.status`` builds the same bucket name), so they must
never drift apart.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.config import Settings
from bot.state import DAY, Rule

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "TELEGRAM_RULES",
    "RateSpec",
    "backoff_delay",
    "bucket_name",
    "max_per_hour",
    "rate_spec",
]

# Telegram's per-channel limits (platform-contracts): 1 message per second, 20 per minute.
TELEGRAM_RULES: tuple[Rule, ...] = ((1, 1.0), (20, 60.0))
# We time a slot when we take it; the platform times the request when it arrives, some
# milliseconds of client, thread and network jitter later.  Windows a little longer than the
# platform's (2 % plus 50 ms, the latter not scaled: jitter does not shrink with
# RATE_TIME_SCALE) keep that jitter from ever turning into a 429.
WINDOW_MARGIN = 1.02
JITTER_SECONDS = 0.05
BACKOFF_BASE = 2.0
BACKOFF_CAP = 300.0


@dataclass(frozen=True, slots=True)
class RateSpec:
    bucket: str
    rules: tuple[Rule, ...]
    """What the sender enforces: the platform's rules with our safety margin."""
    spacing: float
    stated: tuple[Rule, ...] = ()
    """The same rules as the platform states them (what an operator is shown)."""
    pace_rules: tuple[Rule, ...] = ()
    """The part of ``rules`` that is our own pacing (MAX_PER_HOUR), last in ``rules``: a
    breaking post is not held by it (``bot.delivery.pacing.lane_spec``)."""


def bucket_name(platform: str, destination: str) -> str:
    """Same name as ``bot.actions.status.rate_bucket`` (status reads the bucket we fill)."""
    return f"{platform}:{destination}"


HOUR = 3600.0


def max_per_hour(settings: Settings, platform: str) -> int:
    """The pacing cap of one platform's destinations: TELEGRAM_/X_MAX_PER_HOUR when set, else
    MAX_PER_HOUR; 0 = no cap."""
    own = getattr(settings, f"{platform}_max_per_hour", None)
    value = own if own is not None else getattr(settings, "max_per_hour", 0)
    return int(value or 0)


def rate_spec(settings: Settings, platform: str, destination: str, *, dry_run: bool) -> RateSpec:
    """Rules for one destination, windows shrunk by RATE_TIME_SCALE (benchmarks only).

    A dry run has no platform to protect, so nothing slows it down.
    """
    bucket = bucket_name(platform, destination)
    if dry_run:
        return RateSpec(bucket, (), 0.0)
    scale = settings.rate_time_scale
    stated: tuple[Rule, ...] = ()
    rules: tuple[Rule, ...] = ()
    if platform == "telegram":
        stated = tuple((n, w * scale) for n, w in TELEGRAM_RULES)
        rules = tuple((n, w * WINDOW_MARGIN + JITTER_SECONDS) for n, w in stated)
    elif platform == "x" and settings.x_daily_limit:
        stated = rules = ((settings.x_daily_limit, DAY * scale),)
    # Pacing (our own cap, not the platform's): at most N in any sliding hour, with the same
    # margins, so the channel never sees N + 1 inside its hour; the spacing gets the jitter
    # allowance too, so the gap the platform sees is never below MIN_SPACING_SECONDS.
    pace: tuple[Rule, ...] = ()
    cap = max_per_hour(settings, platform)
    if cap:
        pace = ((cap, HOUR * scale * WINDOW_MARGIN + JITTER_SECONDS),)
        stated = (*stated, (cap, HOUR * scale))
        rules = (*rules, *pace)
    spacing = settings.min_spacing_seconds * scale
    if spacing > 0:
        spacing += JITTER_SECONDS
    return RateSpec(bucket, rules, spacing, stated, pace)


def backoff_delay(
    failures: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP,
    rng: random.Random | None = None,
) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**(failures-1))].

    Full jitter spreads workers that failed together (a platform outage) instead of having them
    retry in lockstep; a small floor keeps a retry from hitting the same blip at once.
    """
    ceiling = min(cap, base * (2 ** max(0, failures - 1)))
    draw = (rng or random).uniform(0.0, ceiling)
    return max(0.25, draw)
