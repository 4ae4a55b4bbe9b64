"""X_LINK_MODE and UTM_TEMPLATE: which X teasers carry the link, and the tags every link gets.

The fitting must stay exact in every mode (twitter-text's own count, Hangul weighing 2), the
canonical URL must come back from a tagged link, and tags never cost X a character."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, load_settings
from bot.teasers import TeaserRenderer
from bot.teasers.links import LinkMode, UtmTagger, strip_utm
from bot.teasers.telegram_length import parse_telegram_html
from bot.teasers.x_length import x_parse

UTM = "utm_source={platform}&utm_medium=social&utm_campaign={slug}"
HANGUL = st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), max_size=300)
WORDS = st.lists(st.sampled_from(["한국어 ", "뉴스입니다. ", "word ", "日本語", "👍🏽", "e\u0301",
                                  "example.com ", "…", "\n"]), max_size=120).map("".join)
TEXTS = st.one_of(HANGUL, WORDS, st.text(max_size=200))
MODES = st.sampled_from(["url", "none", "categories:news", "categories:기술,sports"])
CATS = st.lists(st.sampled_from(["News", "기술", "sports", "other"]), max_size=3)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _renderers() -> dict[tuple[str, bool], TeaserRenderer]:
    return {(m, u): TeaserRenderer(x_link_mode=m, utm_template=UTM if u else None,
                                   site_name="뉴스다오")
            for m in ("url", "none", "categories:news", "categories:기술,sports")
            for u in (False, True)}


RENDERERS = _renderers()


@SETTINGS
@given(title=TEXTS, excerpt=TEXTS, mode=MODES, utm=st.booleans(), cats=CATS,
       slug=st.sampled_from(["post", "한국-뉴스", "a b&c=d#e"]))
def test_x_fit_is_exact_in_every_link_mode(make_post, title, excerpt, mode, utm, cats,
                                           slug) -> None:
    post = make_post(title=title, excerpt=excerpt, categories=tuple(cats), slug=slug)
    r = RENDERERS[(mode, utm)]
    x = r.x(post)
    result = x_parse(x.text)
    assert result.valid and result.weightedLength == x.length <= 280
    linked = LinkMode.parse(mode).includes(post)
    assert r.x_has_link(post) is linked
    assert (post.url in x.text) is linked
    if linked:
        assert r.link(post, "x") in x.text
    else:
        assert "https://" not in x.text.replace(title, "").replace(excerpt, "")
    t = r.telegram(post, photo=True)
    parsed = parse_telegram_html(t.text)
    assert t.length == parsed.length and parsed.utf16_length <= 1024


@SETTINGS
@given(title=TEXTS, excerpt=TEXTS, cats=CATS)
def test_utm_tags_never_change_the_x_length(make_post, title, excerpt, cats) -> None:
    """Every URL counts 23 on X, so the tagged teaser is cut exactly like the untagged one."""
    post = make_post(title=title, excerpt=excerpt, categories=tuple(cats), slug="한국-뉴스")
    plain, tagged = RENDERERS[("url", False)].x(post), RENDERERS[("url", True)].x(post)
    assert plain.length == tagged.length
    assert tagged.text == plain.text.replace(post.url, RENDERERS[("url", True)].link(post, "x"))


def test_none_mode_names_the_site_instead(make_post) -> None:
    post = make_post(title="한국어 제목", excerpt="요약입니다.", categories=("기술",))
    x = RENDERERS[("none", True)].x(post)
    assert "http" not in x.text and x.text.endswith("전체 기사: 뉴스다오")
    assert x_parse(x.text).weightedLength == x.length
    english = make_post(title="English title", excerpt="An excerpt.")
    assert RENDERERS[("none", False)].x(english).text.endswith("Full story: 뉴스다오")
    bare = TeaserRenderer(x_link_mode="none").x(english)  # no site title: nothing stands in
    assert bare.text == "English title\n\nAn excerpt."


def test_categories_mode_compares_case_insensitively(make_post) -> None:
    r = TeaserRenderer(x_link_mode="categories: NEWS , 기술")
    assert r.x(make_post(categories=("news",))).text.endswith(make_post().url)
    assert r.x(make_post(categories=("기술", "x"))).text.endswith(make_post().url)
    assert make_post().url not in r.x(make_post(categories=("sports",))).text
    assert make_post().url not in r.x(make_post()).text


def test_a_template_sees_link_mode_and_can_say_link_in_bio(tmp_path: Path, make_post) -> None:
    (tmp_path / "x.txt.j2").write_text(
        "{{ title }}{% if link %} {{ url }}{% else %} (link in bio, {{ link_mode }}){% endif %}",
        encoding="utf-8")
    for mode, want in (("none", "T (link in bio, none)"),
                       ("categories:z", "T (link in bio, categories)"),
                       ("url", "T https://example.org/2024/01/02/post.html")):
        x = TeaserRenderer(tmp_path, x_link_mode=mode).x(make_post(title="T"))
        assert x.text == want and x.length == x_parse(want).weightedLength


def test_telegram_always_links_with_its_own_tags(make_post) -> None:
    post = make_post(slug="한국-뉴스")
    t = RENDERERS[("none", True)].telegram(post, photo=False)
    assert ('href="https://example.org/2024/01/02/post.html?utm_source=telegram&amp;'
            'utm_medium=social&amp;utm_campaign=%ED%95%9C%EA%B5%AD-%EB%89%B4%EC%8A%A4"') in t.text


# --------------------------------------------------------------------------- UTM on URLs

hosts = st.sampled_from(["https://example.org", "http://newsdao.kr", "https://a.b.co:8443"])
segments = st.lists(st.text(st.characters(blacklist_categories=("Cs",),
                                          blacklist_characters="?#"), max_size=8),
                    max_size=4).map(lambda p: "/" + "/".join(p))
queries = st.one_of(st.just(""), st.lists(st.tuples(
    st.sampled_from(["a", "page", "ref", "utm_medium", "q"]),
    st.text(st.characters(blacklist_characters="&#=", blacklist_categories=("Cs",)), max_size=6)),
    min_size=1, max_size=3).map(lambda kv: "&".join(f"{k}={v}" for k, v in kv)))
fragments = st.one_of(st.just(""), st.text(st.characters(blacklist_categories=("Cs",),
                                                         blacklist_characters="#"), max_size=8))
values = st.text(max_size=20)


def _url(host: str, path: str, query: str, fragment: str) -> str:
    return host + path + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")


@settings(max_examples=300, deadline=None)
@given(host=hosts, path=segments, query=queries, fragment=fragments, slug=values,
       platform=st.sampled_from(["telegram", "x"]))
def test_tags_keep_query_and_fragment_and_encode_values(host, path, query, fragment, slug,
                                                        platform) -> None:
    url = _url(host, path, query, fragment)
    tagged = UtmTagger(UTM).tag_with(url, {"platform": platform, "slug": slug})
    assert tagged.startswith(host + path + "?" + query)  # the existing query, untouched
    if fragment:
        assert tagged.endswith("#" + fragment)  # the tags sit before the fragment
    added = tagged.removesuffix("#" + fragment if fragment else "")[len(host + path + "?"
                                                                        + query):].lstrip("&")
    assert parse_qsl(added, keep_blank_values=True) == [
        ("utm_source", platform), ("utm_medium", "social"), ("utm_campaign", slug)]
    assert added.isascii() and " " not in added and "#" not in added
    assert strip_utm(tagged) == strip_utm(url)


@settings(max_examples=100, deadline=None)
@given(host=hosts, path=segments, query=queries, fragment=fragments)
def test_a_link_already_carrying_utm_source_is_left_alone(host, path, query, fragment) -> None:
    url = _url(host, path, "&".join(p for p in (query, "utm_source=newsletter") if p), fragment)
    assert UtmTagger(UTM).tag_with(url, {"platform": "x", "slug": "s"}) == url


def test_no_template_leaves_links_alone(make_post) -> None:
    post = make_post()
    assert UtmTagger(None).tag(post.url, post, "x") == post.url
    assert TeaserRenderer().link(post, "telegram") == post.url


def test_category_and_date_placeholders(make_post) -> None:
    post = make_post(categories=("경제", "b"))
    tagged = UtmTagger("utm_source=site&utm_content={category}-{date}").tag(post.url, post, "x")
    assert tagged.endswith("?utm_source=site&utm_content=%EA%B2%BD%EC%A0%9C-2024-01-02")


@pytest.mark.parametrize("template", ["utm_source={source}", "utm_source={platform!r}",
                                      "utm_source={platform:>9}", "utm source={slug}",
                                      "{slug}=x", "utm_source={"])
def test_a_bad_template_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch,
                                                 template: str) -> None:
    monkeypatch.setenv("UTM_TEMPLATE", template)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "UTM_TEMPLATE" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("mode", ["urls", "categories:", "categories: , ", "none:x"])
def test_a_bad_link_mode_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch,
                                                  mode: str) -> None:
    monkeypatch.setenv("X_LINK_MODE", mode)
    with pytest.raises(ConfigError, match="X_LINK_MODE"):
        load_settings()


def test_unknown_placeholder_stops_the_command_with_exit_2(tmp_path: Path) -> None:
    """At start, as an operator sees it: one `error:` line naming the setting, status 2."""
    env = {"PATH": "", "UTM_TEMPLATE": "utm_source={platform}&utm_term={keyword}",
           "SITE_DIR": str(tmp_path), "DATA_DIR": str(tmp_path / "d"), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "bot", "check", "--json"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "UTM_TEMPLATE" in lines[0]
    assert "{keyword}" in lines[0] and "Traceback" not in done.stderr
