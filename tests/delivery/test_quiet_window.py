"""The quiet window's arithmetic: membership and end, across midnight and daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, load_settings, parse_quiet_hours
from bot.delivery.quiet import QuietWindow

NY = ZoneInfo("America/New_York")
ZONES = [UTC, NY, ZoneInfo("Europe/Berlin"), ZoneInfo("Australia/Lord_Howe"),
         ZoneInfo("Asia/Seoul")]
MINUTES = st.integers(min_value=0, max_value=24 * 60 - 1)
# 2020-2030, dense around the US DST switches of 2026 (8 March, 1 November).
INSTANTS = st.one_of(
    st.floats(min_value=1577836800, max_value=1893456000),
    st.floats(min_value=1772928000 - 2 * 86400, max_value=1772928000 + 2 * 86400),
    st.floats(min_value=1793505600 - 2 * 86400, max_value=1793505600 + 2 * 86400),
)


def ts(text: str, tz=NY) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def test_a_window_across_midnight():
    w = QuietWindow(23 * 60, 7 * 60, UTC)
    assert w.contains(ts("2026-05-01 23:00", UTC))
    assert w.contains(ts("2026-05-02 03:00", UTC))
    assert not w.contains(ts("2026-05-02 07:00", UTC))
    assert not w.contains(ts("2026-05-01 22:59:59", UTC))
    assert w.end_after(ts("2026-05-01 23:30", UTC)) == ts("2026-05-02 07:00", UTC)
    assert w.end_after(ts("2026-05-02 06:59", UTC)) == ts("2026-05-02 07:00", UTC)
    outside = ts("2026-05-02 12:00", UTC)
    assert w.end_after(outside) == outside


def test_the_end_follows_the_local_clock_over_a_dst_change():
    w = QuietWindow(23 * 60, 7 * 60, NY)
    # Spring forward (8 March 2026): the night is an hour shorter, the end still 07:00 local.
    start = ts("2026-03-07 23:30")
    assert w.end_after(start) == ts("2026-03-08 07:00")
    assert w.end_after(start) - start == 6.5 * 3600
    # Fall back (1 November 2026): an hour longer.
    start = ts("2026-10-31 23:30")
    assert w.end_after(start) - start == 8.5 * 3600


def test_an_end_time_the_clock_skips_ends_the_window_at_the_jump():
    w = QuietWindow(0, 2 * 60 + 30, NY)  # 00:00-02:30; on 8 March 2026 02:00 jumps to 03:00
    end = w.end_after(ts("2026-03-08 01:00"))
    assert abs(end - datetime(2026, 3, 8, 7, 0, tzinfo=UTC).timestamp()) < 0.01


@settings(max_examples=400, deadline=None)
@given(start=MINUTES, end=MINUTES, at=INSTANTS, zone=st.sampled_from(ZONES))
def test_the_end_is_the_first_instant_outside(start: int, end: int, at: float, zone) -> None:
    if start == end:
        return
    w = QuietWindow(start, end, zone)
    stop = w.end_after(at)
    if not w.contains(at):
        assert stop == at
        return
    assert stop > at
    assert not w.contains(stop)
    assert w.contains(max(at, stop - 0.01))  # tight: inside until then
    assert stop - at <= 25 * 3600  # never more than a day (plus a DST hour)
    for frac in (0.25, 0.5, 0.75):  # and inside all the way there
        assert w.contains(at + (stop - at) * frac)


@settings(max_examples=300, deadline=None)
@given(start=MINUTES, end=MINUTES, at=INSTANTS)
def test_membership_is_the_local_wall_clock(start: int, end: int, at: float) -> None:
    if start == end:
        return
    local = datetime.fromtimestamp(at, NY)
    m = local.hour * 60 + local.minute
    expected = start <= m < end if start < end else (m >= start or m < end)
    assert QuietWindow(start, end, NY).contains(at) == expected


@given(st.integers(0, 23), st.integers(0, 59), st.integers(0, 23), st.integers(0, 59))
def test_parse_accepts_every_valid_clock(h1: int, m1: int, h2: int, m2: int) -> None:
    text = f"{h1:02d}:{m1:02d}-{h2}:{m2:02d}"
    if (h1, m1) == (h2, m2):
        with pytest.raises(ValueError):
            parse_quiet_hours(text)
    else:
        assert parse_quiet_hours(text) == (h1 * 60 + m1, h2 * 60 + m2)


@pytest.mark.parametrize("value", ["23-07", "24:00-07:00", "23:60-07:00", "07:00-07:00",
                                   "night", "23:00/07:00"])
def test_a_bad_quiet_hours_value_is_refused_at_start(value: str) -> None:
    with pytest.raises(ConfigError, match="QUIET_HOURS"):
        load_settings(_env_file=None, quiet_hours=value)


def test_quiet_settings_normalise() -> None:
    s = load_settings(_env_file=None, quiet_hours=" 7:05 - 9:00 ", quiet_x="SEND",
                      breaking_categories=" Alerts,storm ,alerts")
    assert (s.quiet_hours, s.quiet_x, s.breaking_categories) == ("07:05-09:00", "send",
                                                                 "alerts,storm")
    assert load_settings(_env_file=None, quiet_hours="").quiet_hours is None
    with pytest.raises(ConfigError, match="QUIET_X"):
        load_settings(_env_file=None, quiet_x="later")
