"""Jekyll 4 date rules (expected values come from real Jekyll 4.3.1 / Ruby 3.1 runs)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.sources.dates import filename_date, filename_title, post_date

SEOUL = ZoneInfo("Asia/Seoul")
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2024-08-25-foo.md", date(2024, 8, 25)),
        ("_posts/2024-8-5-foo.markdown", date(2024, 8, 5)),
        ("기술/_posts/2024-08-25-한글-제목.md", date(2024, 8, 25)),
        ("24-08-25-foo.md", date(2024, 8, 25)),  # Ruby completes two-digit years
        ("99-01-02-foo.md", date(1999, 1, 2)),
        ("2024-13-45-foo.md", None),
        ("2024-02-30-foo.md", None),
        ("foo.md", None),
        ("2024-08-25.md", None),  # no '-' after the date
        ("2024-08-25-foo", None),  # no extension
        ("x2024-08-25-foo.md", None),
    ],
)
def test_filename_date(name: str, expected: date | None) -> None:
    assert filename_date(name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2024-08-25-my-post.md", "my-post"),
        ("_posts/2024-08-25-my.post.v2.md", "my.post.v2"),
        ("2024-08-25-foo..md", "foo"),  # Jekyll strips trailing periods
        ("2024-08-25-한글 제목.markdown", "한글 제목"),
        ("draft-post.md", "draft-post"),
    ],
)
def test_filename_title(name: str, expected: str) -> None:
    assert filename_title(name) == expected


def test_no_front_date_is_file_date_at_local_midnight() -> None:
    got = post_date(None, date(2024, 8, 25), SEOUL)
    assert got == datetime(2024, 8, 25, tzinfo=SEOUL)
    assert got.isoformat() == "2024-08-25T00:00:00+09:00"


def test_no_date_at_all_is_an_error() -> None:
    with pytest.raises(ValueError, match="invalid date"):
        post_date(None, None, SEOUL)


def test_yaml_timestamp_without_offset_is_utc() -> None:
    # Psych builds an unquoted offset-less timestamp as a UTC instant.
    value = yaml.safe_load("date: 2024-08-25 00:15:00")["date"]
    assert isinstance(value, datetime) and value.tzinfo is None
    assert post_date(value, None, SEOUL).isoformat() == "2024-08-25T09:15:00+09:00"
    assert post_date(value, None, NY).isoformat() == "2024-08-24T20:15:00-04:00"


def test_quoted_string_without_offset_is_site_local() -> None:
    value = yaml.safe_load('date: "2024-08-25 00:15:00"')["date"]
    assert isinstance(value, str)
    assert post_date(value, None, SEOUL).isoformat() == "2024-08-25T00:15:00+09:00"
    assert post_date(value, None, NY).isoformat() == "2024-08-25T00:15:00-04:00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("date: 2024-08-25 00:15:00 +09:00", "2024-08-25T00:15:00+09:00"),
        ("date: 2024-08-25T10:00:00-05:00", "2024-08-26T00:00:00+09:00"),
        ("date: 2024-08-25 10:00:00 +0900", "2024-08-25T10:00:00+09:00"),  # a string to PyYAML
        ("date: 2024-08-25", "2024-08-25T00:00:00+09:00"),
        ("date: 2024-8-5", "2024-08-05T00:00:00+09:00"),
        ("date: 2024-08-25 10:00:00.987", "2024-08-25T19:00:00+09:00"),  # fraction dropped
        ("date: 20240825", "2024-08-25T00:00:00+09:00"),
        ("date: '2024/08/25 10:00'", "2024-08-25T10:00:00+09:00"),
        ("date: 'Aug 25, 2024 10:00 PM'", "2024-08-25T22:00:00+09:00"),
        ("date: '2024-08-25 00:15:00 UTC'", "2024-08-25T09:15:00+09:00"),
        ("date: '2024-08-25T00:15Z'", "2024-08-25T09:15:00+09:00"),
    ],
)
def test_front_matter_forms_match_ruby(text: str, expected: str) -> None:
    value = yaml.safe_load(text)["date"]
    assert post_date(value, date(2000, 1, 1), SEOUL).isoformat() == expected


def test_front_date_wins_over_file_date() -> None:
    got = post_date(date(2024, 9, 1), date(2024, 8, 25), SEOUL)
    assert got.isoformat() == "2024-09-01T00:00:00+09:00"


def test_aware_datetime_is_converted_to_site_zone() -> None:
    value = datetime(2024, 8, 25, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    got = post_date(value, None, SEOUL)
    assert got.isoformat() == "2024-08-26T13:30:00+09:00"
    assert got.tzinfo is SEOUL


@pytest.mark.parametrize("bad", ["xyz", "2024-13-45", "2024-08-25 25:00", "10:00", True, 1.5, []])
def test_unparseable_raises_value_error(bad: object) -> None:
    with pytest.raises(ValueError, match=r"^invalid date "):
        post_date(bad, date(2024, 8, 25), SEOUL)


def test_spring_forward_gap_moves_forward_like_ruby() -> None:
    # 2024-03-10 02:30 does not exist in New York; Ruby's Time.local gives 03:30 EDT.
    got = post_date("2024-03-10 02:30:00", None, NY)
    assert got.isoformat() == "2024-03-10T03:30:00-04:00"


def test_fall_back_overlap_takes_the_later_time_like_ruby() -> None:
    # 01:30 happens twice on 2024-11-03 in New York; Ruby (and so Jekyll) picks 01:30 EST.
    got = post_date("2024-11-03 01:30:00", None, NY)
    assert got.isoformat() == "2024-11-03T01:30:00-05:00"
    london = ZoneInfo("Europe/London")
    assert post_date("2024-10-27 01:30:00", None, london).isoformat().endswith("+00:00")


def test_midnight_that_does_not_exist_moves_forward() -> None:
    # Sao Paulo skipped 2018-11-04 00:00-01:00; Ruby gives 01:00 -02:00 for the date alone.
    got = post_date(date(2018, 11, 4), None, ZoneInfo("America/Sao_Paulo"))
    assert got.isoformat() == "2018-11-04T01:00:00-02:00"


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2090, 1, 1)))
def test_naive_timestamp_round_trips_as_utc(value: datetime) -> None:
    got = post_date(value, None, SEOUL)
    assert got.utcoffset() == timedelta(hours=9) or got.tzinfo is SEOUL
    assert got == value.replace(microsecond=0, tzinfo=UTC)
