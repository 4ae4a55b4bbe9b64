"""Recognising our post among the account's posts as X shows them (t.co links, escaped text).

Property: whatever a teaser holds (Hangul, &, <, >, links with UTM tags and fragments, emoji),
the fake X's timeline view of it (the same rewriting X does) is found again by its text, and a
post with the link by the canonical URL; other posts are not taken for it."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.platforms.x_lookup import carries_link, find_own_post, shown_text
from fakes.x import FakePost
from fakes.x_timeline import _view

CANONICAL = "https://newsdao.kr/2024/08/07/exaone-3.html"
PIECES = ["한국어 ", "뉴스입니다. ", "A & B ", "<b> ", "x > y ", "&amp; ", "👍🏽 ", "e\u0301 ",
          "word ", "\n\n", "#AI ", "example.com ", "https://a.co/x?y=1#z ",
          CANONICAL + "?utm_source=x&utm_campaign=%ED%95%9C ", CANONICAL + "#frag "]
texts = st.lists(st.sampled_from(PIECES), min_size=1, max_size=30).map(
    lambda parts: "Title " + "".join(parts))  # X refuses a post of whitespace only


def _shown(text: str, *, media: bool = False) -> dict:
    post = FakePost("1860000000000000001", text, ["77"] if media else [], time.time(), {})
    return _view(post, {"entities", "created_at"}, "newsbot_test")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, media=st.booleans())
def test_a_post_is_found_again_by_its_text(text: str, media: bool) -> None:
    item = _shown(text, media=media)
    assert "&" not in item["text"].replace("&amp;", "").replace("&lt;", "").replace("&gt;", "")
    shown = shown_text(item)
    # X gives a link written without a scheme one: example.com comes back as http://example.com
    assert " ".join(shown.replace("http://example.com", "example.com").split()) == \
        " ".join(text.split())
    assert find_own_post([item], url=None, text=text) is item
    assert find_own_post([item], url=None, text=text + " more") is None


@settings(max_examples=200, deadline=None)
@given(text=texts)
def test_a_post_is_found_by_its_link_whatever_its_tags(text: str) -> None:
    item = _shown(text)
    linked = carries_link(text, CANONICAL)
    assert (find_own_post([item], url=CANONICAL, text="other text") is item) is linked
    assert linked == (CANONICAL in text)


def test_the_newest_match_wins_and_other_links_do_not_match() -> None:
    old = _shown(f"Old {CANONICAL}")
    new = _shown(f"New {CANONICAL}?utm_source=x")
    other = _shown("Other https://newsdao.kr/2024/08/07/exaone-3-other.html")
    assert find_own_post([other, new, old], url=CANONICAL, text="x") is new
    assert find_own_post([other], url=CANONICAL, text="x") is None
    assert find_own_post([_shown("http://newsdao.kr/2024/08/07/exaone-3.html")],
                         url=CANONICAL, text="x") is not None  # http or https: same story
