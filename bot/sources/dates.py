"""A Jekyll post's publication instant, computed the way Jekyll 4 computes it.

The post's URL contains its date, and the URL is the post's identity, so "nearly right" is wrong:
a post dated 00:15 must land on the same calendar day as in Jekyll or the bot announces a URL
that does not exist. The rules below were checked against Jekyll 4.3.1 (see
tests/sources/golden/ and scripts/make_golden.py):

* Jekyll stringifies whatever YAML gave (`data["date"].to_s`) and re-parses it with Ruby's
  `Time.parse(...).localtime`, where "local" is the site `timezone` (Jekyll sets `ENV["TZ"]`).
* A YAML *timestamp* without an offset (`date: 2024-08-25 00:15:00`, unquoted) is built by Psych
  as a UTC instant, so it means 00:15 UTC = 09:15 in Seoul.
* The same text as a *string* (`date: "2024-08-25 00:15:00"`, or any form YAML does not take for
  a timestamp) is read by `Time.parse` in the site zone: 00:15 in Seoul.
* A date alone, and the file-name date, mean midnight in the site zone.
* An explicit offset is that instant. Fractions of a second are dropped (`Time#to_s`).
* Wall times around DST changes follow Ruby's Time.local: a skipped time moves forward, a
  repeated one is the later (standard-time) instant.

A naive datetime handed to `post_date` is therefore taken as UTC. A caller whose parser produces
naive values with another meaning (a TOML local date-time) must attach the zone itself.
"""

from __future__ import annotations

import re
import warnings
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from bot.sources.errors import shown

__all__ = ["filename_date", "filename_title", "post_date"]

# Jekyll 4.3.1 Document::DATE_FILENAME_MATCHER, on the base name (any folders are stripped first).
_FILENAME_RE = re.compile(r"^(\d{2,4})-(\d{1,2})-(\d{1,2})-([^/]*)(\.[^./]+)$", re.DOTALL)

# What Ruby's Time.parse accepts in the ISO-like shapes editors actually write. Any zone word
# is captured: Ruby knows a few (`_RUBY_ZONES`) and silently ignores the rest ('KST').
_ISO_RE = re.compile(
    r"""^\s*(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})
    (?:(?:[Tt]|\s+)(?P<H>\d{1,2}):(?P<M>\d{1,2})(?::(?P<S>\d{1,2})(?:[.,]\d*)?)?
       (?:\s*(?P<ampm>[AaPp]\.?[Mm]\.?)(?![A-Za-z]))?
       \s*(?P<tz>[+-]\d+(?::\d+)?|[A-Za-z]+)?)?\s*$""",
    re.VERBOSE,
)
_DIGITS_RE = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})(?:[Tt]?(\d{2})(\d{2})(\d{2})?)?\s*$")
_YEAR_FIRST = re.compile(r"^\s*\d{4}\D")
_NUMERIC_ZONE = re.compile(r"^[+-](\d{2})(?::?(\d{2}))?$")
_LOOSE_UNSURE = re.compile(
    r"(?<![:\d])\d{1,2}:\d{1,2}[.,]\d"  # HH:MM.fraction
    r"|:\d{1,2}(?:[.,]\d+)?\s*(?:[AaPp]\.?[Mm]\.?)?\s*[+-]\d(?:\d\d)?(?![\d:])"  # +9, +930
)
_YMD_INSIDE = re.compile(r"(?<!\d)\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)")
_FOUR_DIGITS = re.compile(r"(?<!\d)\d{4}(?!\d)")
# Ruby's Time::ZoneOffset names (military letters left out); other names are ignored by Ruby.
_RUBY_ZONES = {
    "UTC": 0, "Z": 0, "UT": 0, "GMT": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
}  # fmt: skip


def _year(text: str) -> int:
    """Ruby completes a two-digit year the way Date._parse does (69..99 -> 19xx, else 20xx)."""
    y = int(text)
    if len(text) == 2:
        y += 1900 if y >= 69 else 2000
    return y


def filename_date(filename: str) -> date | None:
    """'2024-08-25-foo.md' -> date(2024, 8, 25); None without a Jekyll date prefix.

    Jekyll only reads files under `_posts/` whose name matches this prefix, so None also means
    "Jekyll would not publish this file". Impossible dates (2024-13-45, 2024-02-30) give None:
    Jekyll aborts the build on the first and silently rolls the second to 1 March; both are
    editor mistakes worth reporting rather than reproducing.
    """
    m = _FILENAME_RE.match(filename.rsplit("/", 1)[-1])
    if not m:
        return None
    try:
        return date(_year(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def filename_title(filename: str) -> str:
    """The part between the date prefix and the extension ('2024-08-25-my-post.md' -> 'my-post').

    Trailing periods are dropped, as Jekyll does before using it as the post's slug. A name
    without a date prefix gives its stem (Jekyll's dateless matcher, used for drafts).
    """
    base = filename.rsplit("/", 1)[-1]
    m = _FILENAME_RE.match(base)
    if m:
        return m.group(4).rstrip(".")
    stem = base.rsplit(".", 1)[0] if "." in base[1:] else base
    return stem.rstrip(".")


def _at_midnight(day: date, tz: tzinfo) -> datetime:
    return _localize(datetime.combine(day, time(0, 0)), tz)


def _localize(naive: datetime, tz: tzinfo) -> datetime:
    """Attach the site zone to a wall-clock time, like Ruby's Time.local does.

    Checked against Jekyll: a wall time skipped by a spring-forward change moves forward
    (02:30 -> 03:30 EDT); a wall time that happens twice (fall back) is the later one (01:30 EST).
    """
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    later = second.astimezone(UTC).astimezone(tz)
    if later.replace(tzinfo=None) == naive:  # the wall time exists twice
        return later
    return first.astimezone(UTC).astimezone(tz)  # the wall time does not exist


def _offset(text: str) -> tzinfo | None:
    """A zone as Ruby reads it; None for a name Ruby does not know (it then uses local time)."""
    if text[0] not in "+-":
        hours = _RUBY_ZONES.get(text.upper())
        return None if hours is None else timezone(timedelta(hours=hours))
    m = _NUMERIC_ZONE.match(text)
    if m is None:  # '+9', '+930', '+9:30': Ruby ignores these and keeps local time
        return None
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(m[1]), int(m[2] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"offset out of range: {text}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _parse_text(text: str, tz: tzinfo) -> datetime:
    """Ruby `Time.parse(text).localtime` for the forms a post's front matter uses.

    Forms where Ruby's reading is surprising or where we could not check it are refused rather
    than guessed (the caller reports the file): a zone after a date without a time (Ruby reads
    '2024-08-05 +05:00' as 05:00 local), a year-first text that is not plain ISO, two-digit
    years, and texts without a full date.
    """
    m = _ISO_RE.match(text)
    if m:
        hour = int(m["H"] or 0)
        if m["ampm"]:
            if not 1 <= hour <= 12:
                raise ValueError("hour out of range for AM/PM")
            hour = hour % 12 + (12 if m["ampm"][0] in "Pp" else 0)
        naive = datetime(
            int(m["y"]), int(m["m"]), int(m["d"]), hour, int(m["M"] or 0), int(m["S"] or 0)
        )
        zone = _offset(m["tz"]) if m["tz"] else None
        if zone is not None:
            return naive.replace(tzinfo=zone).astimezone(tz)
        return _localize(naive, tz)
    m = _DIGITS_RE.match(text)
    if m:
        parts = [int(p) for p in m.groups(default="0")]
        return _localize(datetime(*parts), tz)  # type: ignore[arg-type]
    if _YEAR_FIRST.match(text):
        raise ValueError("not a date form Jekyll reads reliably")
    return _parse_loose(text, tz)


def _dateutil_zone(name: str | None, offset: int | None) -> tzinfo | None:
    if offset is not None:  # a numeric offset wins over a name, as in Ruby ('+0000 (UTC)')
        return timezone(timedelta(seconds=offset))
    return None if name is None else _offset(name)


def _parse_loose(text: str, tz: tzinfo) -> datetime:
    """Day-first free-form dates ('Aug 25, 2024 10:00 PM', '05/08/2024' = 5 August), as Ruby.

    A text that leaves out the year, month or day is refused: Ruby would fill it in from the
    build day, which would make the post's URL depend on when the bot happens to run.
    """
    from dateutil import parser as du  # python-dateutil comes with celery

    if not _FOUR_DIGITS.search(text):
        raise ValueError("no four-digit year")
    if _LOOSE_UNSURE.search(text):
        raise ValueError("time or offset written in a form Jekyll reads unreliably")
    if "GMT+" in text.upper() or "UTC+" in text.upper() or "GMT-" in text.upper():
        raise ValueError("ambiguous zone")
    # Ruby reads d/m/Y, but a Y-m-d inside the text ('10:00 2024-08-05') stays year-first.
    day_first = _YMD_INSIDE.search(text) is None
    got = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for default in (datetime(2001, 1, 1), datetime(2002, 2, 2)):
            try:
                got.append(
                    du.parse(text, default=default, dayfirst=day_first, tzinfos=_dateutil_zone)
                )
            except (du.ParserError, OverflowError, ValueError) as exc:
                raise ValueError(str(exc)) from exc
    if got[0].date() != got[1].date():
        raise ValueError("year, month or day missing")
    value = got[0].replace(microsecond=0)
    if value.tzinfo is not None:
        return value.astimezone(tz)
    return _localize(value, tz)


def post_date(front_value: object, file_date: date | None, tz: tzinfo) -> datetime:
    """The post's instant, aware and expressed in `tz` (the site zone), as Jekyll 4 computes it.

    `front_value` is what YAML parsing gave for `date` (None when absent). A naive datetime can
    only come from an unquoted YAML timestamp without offset, which Jekyll (Psych) takes as UTC.
    Raises ValueError('invalid date "..."') when the value cannot be read, and when there is no
    date at all (Jekyll would use the build time, which is not a publication date).
    """
    if front_value is None:
        if file_date is None:
            raise ValueError('invalid date "": no front-matter date and no date in the file name')
        return _at_midnight(file_date, tz)
    if isinstance(front_value, datetime):
        if front_value.tzinfo is None or front_value.utcoffset() is None:
            front_value = front_value.replace(tzinfo=UTC)
        return front_value.replace(microsecond=0).astimezone(tz)
    if isinstance(front_value, date):
        return _at_midnight(front_value, tz)
    if isinstance(front_value, bool) or not isinstance(front_value, str | int):
        raise ValueError(f'invalid date "{shown(front_value)}": not a date')
    text = str(front_value)
    try:
        return _parse_text(text, tz)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f'invalid date "{shown(text)}": {shown(str(exc))}') from exc
