"""newsbot's Jekyll URL/date rules against what Jekyll 4.3.1 really produced.

The sites under golden/<name>/ were built with `jekyll build` (scripts/make_golden.py); each
expected.json maps a post's source path to the `page.url`, `absolute_url`, `page.date` and
`page.categories` Jekyll gave it. golden/ruby/*.json hold Jekyll's own slugify / escape_path and
Ruby's Time.parse on chosen inputs. Jekyll is not needed to run these tests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import frontmatter
import pytest

from bot.sources.dates import filename_date, filename_title, post_date
from bot.sources.permalink import (
    _escape_path,
    canonical_url,
    jekyll_categories,
    jekyll_slugify,
    post_path,
)
from bot.sources.site import SiteConfig

GOLDEN = Path(__file__).parent / "golden"
SITES = sorted(p.parent.name for p in GOLDEN.glob("*/expected.json"))
CASES = [
    (site, rel)
    for site in SITES
    for rel in json.loads((GOLDEN / site / "expected.json").read_text(encoding="utf-8"))
]


def _expected(site: str) -> dict[str, Any]:
    return json.loads((GOLDEN / site / "expected.json").read_text(encoding="utf-8"))


def _ruby(name: str) -> list[dict[str, Any]]:
    return json.loads((GOLDEN / "ruby" / f"{name}.json").read_text(encoding="utf-8"))


def _jekyll_absolute(url: str) -> str:
    """Jekyll's absolute_url glues `url` + `baseurl` blindly ('https://x.org/' gives '//blog');
    newsbot joins them with one slash, which is the address the page is really served at."""
    scheme, _, rest = url.partition("://")
    while "//" in rest:
        rest = rest.replace("//", "/")
    return f"{scheme}://{rest}"


def _as_strings(categories: list[Any]) -> list[str]:
    """Jekyll's page.categories keeps raw YAML values (2024, true) beside their `to_s` forms;
    the URL, and newsbot, use the strings only."""
    text = [str(c).lower() if isinstance(c, bool) else str(c) for c in categories]
    return list(dict.fromkeys(text))


def test_golden_sites_exist() -> None:
    assert len(SITES) >= 4
    assert len(CASES) >= 50


@pytest.mark.parametrize(("site", "rel"), CASES, ids=[f"{s}:{r}" for s, r in CASES])
def test_url_and_date_match_jekyll(site: str, rel: str) -> None:
    want = _expected(site)[rel]
    cfg = SiteConfig.load(GOLDEN / site)
    front = frontmatter.load(str(GOLDEN / site / rel)).metadata
    name = rel.rsplit("/", 1)[-1]

    when = post_date(front.get("date"), filename_date(name), cfg.timezone)
    assert when.isoformat() == want["date"]

    categories = jekyll_categories(rel, front)
    assert categories == _as_strings(want["categories"])

    path = post_path(
        site_permalink=cfg.permalink,
        front_permalink=front.get("permalink"),
        date=when,
        title=filename_title(name),
        slug=front.get("slug"),
        categories=categories,
        ext="." + name.rsplit(".", 1)[-1],
        source_path=rel,
    )
    assert path == want["url"]
    assert canonical_url(cfg.url, cfg.baseurl, path) == _jekyll_absolute(want["absolute_url"])


def test_files_jekyll_skipped_have_no_file_date() -> None:
    """Jekyll reads only date-prefixed files in _posts/; everything else there is skipped."""
    for site in SITES:
        expected = _expected(site)
        for file in (GOLDEN / site).rglob("*"):
            rel = file.relative_to(GOLDEN / site).as_posix()
            if file.is_file() and "_posts/" in rel and rel not in expected:
                assert filename_date(file.name) is None, rel


@pytest.mark.parametrize("row", _ruby("slugify"), ids=lambda r: f"{r['mode']}-{r['text']!r}")
def test_slugify_matches_jekyll(row: dict[str, Any]) -> None:
    got = jekyll_slugify(row["text"], row["mode"], cased=row["cased"])
    assert got == row["slug"]


@pytest.mark.parametrize("row", _ruby("escape_path"), ids=lambda r: repr(r["text"]))
def test_escape_path_matches_jekyll(row: dict[str, Any]) -> None:
    assert _escape_path(row["text"]) == row["escaped"]


# Ruby reads these, but in ways that are surprising ('2024-08-05 +05:00' is 05:00 local) or that
# fill in missing parts; newsbot reports the file instead of guessing.
REFUSED_ON_PURPOSE = {
    "2024-08-05Z",
    "2024-08-05 +05:00",
    "08-05-24",
    "Aug 2024",
    "2024-08-05 10:00:00 GMT+9",
    "2024-08-05 24:00:00",
}


@pytest.mark.parametrize("row", _ruby("time_parse"), ids=lambda r: f"{r['tz']}-{r['text']!r}")
def test_string_dates_match_ruby_time_parse(row: dict[str, Any]) -> None:
    tz = ZoneInfo(row["tz"])
    if row["xmlschema"] is None or row["text"] in REFUSED_ON_PURPOSE:
        with pytest.raises(ValueError, match="invalid date"):
            post_date(row["text"], None, tz)
    else:
        assert post_date(row["text"], None, tz).isoformat() == row["xmlschema"]


@pytest.mark.parametrize("site", SITES)
def test_scan_site_matches_jekyll(site: str) -> None:
    """The whole reader (bot.sources.jekyll.scan_site) gives every golden post Jekyll's URL,
    date and categories, and finds no post Jekyll did not publish."""
    jekyll = pytest.importorskip("bot.sources.jekyll")
    want = _expected(site)
    result = jekyll.scan_site(SiteConfig.load(GOLDEN / site))
    got = {p.rel_path: p for p in result.posts}
    assert sorted(got) == sorted(want), [str(b) for b in result.bad]
    for rel, post in got.items():
        assert post.url == _jekyll_absolute(want[rel]["absolute_url"]), rel
        assert post.date.isoformat() == want[rel]["date"], rel
        assert list(post.categories) == _as_strings(want[rel]["categories"]), rel
