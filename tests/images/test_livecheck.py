"""LiveProbe against a local site server (fakes/site.py): what counts as live, and every way a
page is not live ends in a reason within the deadline, never a hang."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.images.livecheck import LiveProbe, carries_title, normalize_title
from bot.images.netguard import HostPolicy
from fakes.site import FakeSite, page_html

TITLE = "Rain & wind: the <storm> arrives"


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite() as server:
        yield server


def probe(site: FakeSite, *, allow_private: bool = True, deadline: float = 3.0) -> LiveProbe:
    return LiveProbe(site_url=site.base_url, policy=HostPolicy(allow_private=allow_private),
                     timeout=1.0, deadline=deadline)


def test_404_then_200_with_the_title_is_live(site: FakeSite) -> None:
    p = probe(site)
    url = site.base_url + "/2026/12/02/storm.html"
    first = p.check(url, TITLE)
    assert (first.live, first.status) == (False, "HTTP 404")
    site.page("/2026/12/02/storm.html", TITLE)
    second = p.check(url, TITLE)
    assert (second.live, second.status) == (True, "live")
    assert second.validators is not None and second.validators.etag


def test_og_title_alone_is_enough(site: FakeSite) -> None:
    site.page("/a.html", "Fake News home", og_title=TITLE)
    assert probe(site).check(site.base_url + "/a.html", TITLE).live


def test_a_stale_page_with_an_older_title_is_not_live(site: FakeSite) -> None:
    site.page("/a.html", "Yesterday's story")
    result = probe(site).check(site.base_url + "/a.html", TITLE)
    assert not result.live
    assert result.status.startswith("stale page (title \"Yesterday's story | Fake News\"")


def test_a_304_keeps_the_verdict_of_the_copy_it_confirms(site: FakeSite) -> None:
    p = probe(site)
    url = site.base_url + "/a.html"
    site.page("/a.html", "Old title")
    stale = p.check(url, TITLE)
    assert not stale.live and stale.validators is not None
    again = p.check(url, TITLE, validators=stale.validators)
    assert (again.live, again.status) == (False, "stale page (unchanged, 304)")
    assert site.requests("/a.html")[-1].status == 304
    assert site.requests("/a.html")[-1].if_none_match == stale.validators.etag
    site.page("/a.html", TITLE)  # the deploy: a new ETag, so a full 200
    fresh = p.check(url, TITLE, validators=stale.validators)
    assert fresh.live
    confirmed = p.check(url, TITLE, validators=fresh.validators)
    assert confirmed.live and site.requests("/a.html")[-1].status == 304


def test_a_500_is_not_live_with_its_status(site: FakeSite) -> None:
    site.status("/a.html", 500)
    assert probe(site).check(site.base_url + "/a.html", TITLE).status == "HTTP 500"


def test_a_redirect_loop_is_a_reason_not_a_hang(site: FakeSite) -> None:
    site.redirect("/a.html", "/b.html")
    site.redirect("/b.html", "/a.html")
    started = time.monotonic()
    result = probe(site).check(site.base_url + "/a.html", TITLE)
    assert not result.live and result.status.startswith("redirect loop at ")
    assert time.monotonic() - started < 2


def test_a_redirect_to_the_live_page_is_followed(site: FakeSite) -> None:
    site.redirect("/a.html", "/a/")
    site.page("/a/", TITLE)
    assert probe(site).check(site.base_url + "/a.html", TITLE).live


def test_a_server_dripping_one_byte_every_few_seconds_is_cut_at_the_deadline(
        site: FakeSite) -> None:
    site.page("/slow.html", TITLE, drip_seconds=2.0)
    started = time.monotonic()
    result = probe(site, deadline=2.5).check(site.base_url + "/slow.html", TITLE)
    took = time.monotonic() - started
    assert not result.live and "timed out" in result.status
    assert took < 4.0


def test_a_missing_feature_image_is_not_live(site: FakeSite) -> None:
    site.page("/a.html", TITLE)
    p = probe(site)
    missing = p.check(site.base_url + "/a.html", TITLE, "/assets/photo.jpg")
    assert not missing.live and missing.status.startswith("image HTTP 404 at ")
    site.image("/assets/photo.jpg")
    assert p.check(site.base_url + "/a.html", TITLE, "/assets/photo.jpg").live


def test_private_addresses_are_refused_unless_allowed(site: FakeSite) -> None:
    site.page("/a.html", TITLE)
    result = probe(site, allow_private=False).check(site.base_url + "/a.html", TITLE)
    assert not result.live and "127.0.0.1" in result.status
    assert site.requests() == []  # refused before connecting


@given(st.text(min_size=1, max_size=60), st.text(max_size=60))
def test_a_page_carries_a_title_exactly_when_its_title_contains_it(title: str,
                                                                  other: str) -> None:
    want = normalize_title(title)
    if not want:
        return
    assert carries_title(page_html(title).decode(), title)
    assert carries_title(page_html("Site", og_title=title).decode(), title)
    stale = page_html(other).decode()
    assert carries_title(stale, title) == (want in normalize_title(f"{other} | Fake News"))
