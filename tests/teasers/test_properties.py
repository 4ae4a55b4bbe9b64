"""Property tests: any Unicode post gives teasers within both platforms' limits, cut only between
grapheme clusters, with the URL intact and Telegram HTML that parses."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.teasers import TeaserRenderer
from bot.teasers.cut import DEGENERATE_CLUSTER
from bot.teasers.telegram_length import parse_telegram_html
from bot.teasers.x_length import x_parse, x_sanitize

PIECES = [
    "가",
    "각",
    "한국어 ",
    "뉴스입니다. ",
    "ᄀ",
    "ᅡ",
    "ᆨ",
    "👨‍👩‍👧‍👦",
    "👍🏽",
    "🏳️‍🌈",
    "🇰🇷",
    "🇺🇸",
    "🐦‍🔥",
    "❤️‍🔥",
    "e\u0301",
    "\u0301",
    "\u0333",
    "عربي ",
    "עברית ",
    "\u202e",
    "\u200f",
    "\u2028",
    "\x00",
    "\x1f",
    "\r",
    "\r\n",
    "\n",
    "\t",
    "<",
    ">",
    "&",
    "&amp;",
    "<b>",
    "</a>",
    '"',
    " ",
    ". ",
    "! ",
    "example.com ",
    "https://a.bc/d ",
    "…",
    "\ufeff",
    "\uffff",
    "日本語",
    "x" * 40,
    "word ",
    "{{ 7*7 }}",
    "©",
    "#",
]
_DELIM = "\U0010fffd"
texts = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=150).map("".join),
    st.tuples(st.sampled_from(PIECES), st.integers(1, 1500)).map(lambda t: t[0] * t[1]),
).map(lambda s: s.replace(_DELIM, ""))
categories = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=60)), max_size=6)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _boundaries(text: str) -> set[int]:
    out, pos = {0}, 0
    for cluster in regex.findall(r"\X", text):
        pos += len(cluster)
        out.add(pos)
    return out


def _assert_whole_grapheme_prefix(kept: str, original: str, *, may_drop: bool) -> None:
    if kept == original or (may_drop and kept == ""):
        return
    candidates = [kept.removesuffix(mark) for mark in (" …", "…") if kept.endswith(mark)]
    assert candidates, f"shortened value without a mark: {kept!r}"
    assert any(original.startswith(c) and len(c) in _boundaries(original) for c in candidates), (
        kept,
        original,
    )
    if "" in candidates and may_drop is False:  # only a degenerate first grapheme may go whole
        assert len(regex.match(r"\X", original)[0]) > DEGENERATE_CLUSTER


@pytest.fixture(scope="module")
def renderer() -> TeaserRenderer:
    return TeaserRenderer()


@pytest.fixture(scope="module")
def delimited(tmp_path_factory: pytest.TempPathFactory) -> TeaserRenderer:
    """Templates that mark field boundaries, so the kept text of each field can be recovered."""
    folder: Path = tmp_path_factory.mktemp("delimited")
    d = _DELIM
    (folder / "x.txt.j2").write_text(
        f"{{{{ title }}}}{d}{{{{ excerpt }}}}{d}{{{{ hashtags|join(' ') }}}}{d}{{{{ url }}}}",
        encoding="utf-8",
    )
    (folder / "telegram.html.j2").write_text(
        f"<b>{{{{ title }}}}</b>{d}<i>{{{{ excerpt }}}}</i>{d}{{{{ hashtags|join(' ') }}}}{d}"
        f'<a href="{{{{ url }}}}">{{{{ read_more }}}}</a>',
        encoding="utf-8",
    )
    return TeaserRenderer(folder)


def _check_limits(r: TeaserRenderer, post) -> None:
    for photo, limit in ((True, 1024), (False, 4096)):
        t = r.telegram(post, photo=photo)
        parsed = parse_telegram_html(t.text)  # raises if Telegram would refuse it
        assert t.limit == limit
        assert t.length == parsed.length <= parsed.utf16_length <= limit
        assert f'href="{html.escape(post.url)}"' in t.text
    x = r.x(post)
    result = x_parse(x.text)
    assert result.valid and result.weightedLength == x.length <= 280
    assert post.url in x.text


@SETTINGS
@given(title=texts, excerpt=texts, cats=categories, tags=categories)
def test_default_templates_always_fit(renderer, make_post, title, excerpt, cats, tags) -> None:
    post = make_post(title=title, excerpt=excerpt, categories=tuple(cats), tags=tuple(tags))
    _check_limits(renderer, post)


@SETTINGS
@given(body=texts, title=texts)
def test_overrides_always_fit(renderer, make_post, body, title) -> None:
    post = make_post(
        title=title, telegram_text=body, x_text=body, url="https://example.org/%ED%95%9C/글?a=1&b=2"
    )
    _check_limits(renderer, post)


@SETTINGS
@given(title=texts, excerpt=texts, cats=categories)
def test_cuts_are_whole_grapheme_prefixes(delimited, make_post, title, excerpt, cats) -> None:
    post = make_post(title=title, excerpt=excerpt, categories=tuple(cats))
    x = delimited.x(post)
    kept_title, kept_excerpt, _, url = x.text.split(_DELIM)
    assert url == post.url
    # Fields are compared after the renderer's normalisation: surrounding whitespace stripped and,
    # for X, the code points that make any tweet invalid (BOM, U+FFFE, U+FFFF) removed.
    x_title, x_excerpt = x_sanitize(title).strip(), x_sanitize(excerpt).strip()
    _assert_whole_grapheme_prefix(kept_title, x_title, may_drop=not x_title)
    _assert_whole_grapheme_prefix(kept_excerpt, x_excerpt, may_drop=True)
    assert x_parse(x.text).valid
    for photo in (True, False):
        t = delimited.telegram(post, photo=photo)
        parse_telegram_html(t.text)
        head, body, _, link = t.text.split(_DELIM)
        assert link.startswith(f'<a href="{html.escape(post.url)}">')
        _assert_whole_grapheme_prefix(
            html.unescape(head.removeprefix("<b>").removesuffix("</b>")),
            title.strip(),
            may_drop=not title.strip(),
        )
        _assert_whole_grapheme_prefix(
            html.unescape(body.removeprefix("<i>").removesuffix("</i>")),
            excerpt.strip(),
            may_drop=True,
        )
