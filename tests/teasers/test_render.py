"""Teasers rendered from templates and fitted: sample post, overrides, escaping, user templates."""

from __future__ import annotations

from pathlib import Path

import pytest
import regex

from bot.teasers import DEFAULT_TEMPLATES_DIR, TeaserRenderer, TemplateError
from bot.teasers.telegram_length import parse_telegram_html
from bot.teasers.x_length import x_parse


@pytest.fixture(scope="module")
def renderer() -> TeaserRenderer:
    return TeaserRenderer()


def _is_grapheme_prefix(kept: str, original: str) -> bool:
    boundaries = {0}
    for m in regex.finditer(r"\X", original):
        boundaries.add(m.end())
    return original.startswith(kept) and len(kept) in boundaries


def test_default_templates_dir_is_repo_templates() -> None:
    assert Path(__file__).resolve().parents[2] / "templates" == DEFAULT_TEMPLATES_DIR
    assert (DEFAULT_TEMPLATES_DIR / "telegram.html.j2").is_file()


def test_sample_x_teaser(renderer: TeaserRenderer, sample_post, sample_url) -> None:
    t = renderer.x(sample_post)
    parsed = x_parse(t.text)
    assert parsed.valid and parsed.weightedLength == t.length <= 280
    assert (t.platform, t.parse_mode, t.limit, t.shortened) == ("x", None, 280, True)
    title, excerpt, tags, url = t.text.split("\n\n")
    assert title == sample_post.title
    assert url == sample_url and tags == "#기술"
    assert excerpt.endswith("…")
    kept = excerpt.removesuffix("…").rstrip()
    assert sample_post.excerpt.startswith(kept)
    rest = sample_post.excerpt[len(kept) :]
    assert kept.endswith(".") or rest[:1].isspace()  # sentence end or word boundary


def test_sample_telegram_teasers(renderer: TeaserRenderer, sample_post, sample_url) -> None:
    for photo, limit in ((True, 1024), (False, 4096)):
        t = renderer.telegram(sample_post, photo=photo)
        visible = parse_telegram_html(t.text).text
        assert (t.parse_mode, t.limit, t.shortened, t.length) == (
            "HTML",
            limit,
            False,
            len(visible),
        )
        assert t.text.startswith(f"<b>{sample_post.title}</b>\n\n{sample_post.excerpt}")
        assert t.text.endswith(f'<a href="{sample_url}">자세히 보기</a>')
        assert "#기술" in t.text


def test_english_post(renderer: TeaserRenderer, make_post) -> None:
    post = make_post(
        title="Open models are getting smaller",
        excerpt="Small models now match last year's giants. " * 20,
        categories=("Tech",),
        tags=("open source", "AI"),
    )
    tg = renderer.telegram(post, photo=True)
    assert tg.text.endswith(f'<a href="{post.url}">Read more</a>')
    assert "#Tech #opensource #AI" in tg.text
    x = renderer.x(post)
    assert x.shortened and x_parse(x.text).valid and x.length <= 280
    body = x.text.split("\n\n")[1]
    assert body.endswith("giants. …")  # cut at a sentence end
    assert x.length > 250  # and not much is wasted


def test_short_post_not_shortened(renderer: TeaserRenderer, make_post) -> None:
    post = make_post(title="Hi", excerpt="Short.")
    t = renderer.x(post)
    assert not t.shortened
    assert t.text == f"Hi\n\nShort.\n\n{post.url}"
    assert t.length == 2 + 2 + 6 + 2 + 23


def test_empty_excerpt_has_no_blank_paragraph(renderer: TeaserRenderer, make_post) -> None:
    post = make_post(title="T")
    assert renderer.x(post).text == f"T\n\n{post.url}"
    assert (
        renderer.telegram(post, photo=False).text
        == f'<b>T</b>\n\n<a href="{post.url}">Read more</a>'
    )


def test_overrides_replace_the_body_and_are_fitted(renderer: TeaserRenderer, make_post) -> None:
    post = make_post(
        title="Ignored title",
        excerpt="Ignored excerpt.",
        telegram_text="Custom <Telegram> & text",
        x_text="가나다 " * 100,
    )
    tg = renderer.telegram(post, photo=True)
    assert tg.text.startswith("Custom &lt;Telegram&gt; &amp; text\n\n<a href=")
    assert "Ignored" not in tg.text
    x = renderer.x(post)
    assert "Ignored" not in x.text and x.shortened and x.length <= 280
    assert x.text.startswith("가나다 가나다") and x_parse(x.text).valid


def test_hashtag_max(sample_post, make_post) -> None:
    post = make_post(categories=("기술", "경제"), tags=("AI", "ai", "LG", "오픈 소스"))
    assert "#기술 #경제 #AI\n" in TeaserRenderer().x(post).text
    assert "#기술\n" in TeaserRenderer(hashtag_max=1).x(post).text
    assert "#" not in TeaserRenderer(hashtag_max=0).x(post).text.replace(post.url, "")


def test_script_title_is_escaped_once(renderer: TeaserRenderer, make_post) -> None:
    post = make_post(title='<script>alert(1)</script> A & B "q"', excerpt="x < y & z")
    tg = renderer.telegram(post, photo=True)
    assert tg.text.startswith(
        "<b>&lt;script&gt;alert(1)&lt;/script&gt; A &amp; B &#34;q&#34;</b>\n\nx &lt; y &amp; z"
    )
    assert parse_telegram_html(tg.text).text.startswith('<script>alert(1)</script> A & B "q"')
    x = renderer.x(post)
    assert x.text.startswith('<script>alert(1)</script> A & B "q"\n\nx < y & z')


def test_attribute_value_quoted_and_escaped(renderer: TeaserRenderer, make_post) -> None:
    post = make_post(url='https://example.org/a?x=1&y="2"')
    tg = renderer.telegram(post, photo=False)
    assert '<a href="https://example.org/a?x=1&amp;y=&#34;2&#34;">' in tg.text
    parse_telegram_html(tg.text)


def test_front_matter_is_data_not_template(renderer: TeaserRenderer, make_post) -> None:
    post = make_post(title="{{ 7*7 }} {% if true %}x{% endif %}", excerpt="{{ post.url }}")
    assert renderer.x(post).text.startswith("{{ 7*7 }} {% if true %}x{% endif %}\n\n{{ post.url }}")
    assert "{{ 7*7 }}" in renderer.telegram(post, photo=True).text


def test_url_inside_excerpt_counts_23_and_is_caught(renderer: TeaserRenderer, make_post) -> None:
    words = " ".join(f"see{i}.example.com/path/{'x' * 30}" for i in range(20))
    post = make_post(title="Links", excerpt=words)
    t = renderer.x(post)
    assert x_parse(t.text).valid and t.length <= 280 and t.shortened
    assert t.text.endswith(post.url)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_folder_with_one_template_falls_back_for_the_other(tmp_path: Path, make_post) -> None:
    _write(tmp_path, "x.txt.j2", "{{ title|upper }} {{ url }} {{ post.extra.author }}")
    r = TeaserRenderer(tmp_path)
    post = make_post(title="hello", extra={"author": "Kim"})
    assert r.x(post).text == f"HELLO {post.url} Kim"
    assert r.telegram(post, photo=True).text.startswith("<b>hello</b>")


def test_user_template_printing_a_variable_twice_is_fitted(tmp_path: Path, make_post) -> None:
    _write(tmp_path, "x.txt.j2", "{{ title }}\n{{ excerpt }}\n{{ excerpt }}\n{{ url }}")
    t = TeaserRenderer(tmp_path).x(make_post(title="T", excerpt="word " * 200))
    assert t.length <= 280 and t.shortened and x_parse(t.text).valid


@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("x.txt.j2", "line one\n{{ title }\n", r"x\.txt\.j2:2: template syntax error"),
        ("x.txt.j2", "ok\n\n{{ title|nosuchfilter }}", r"x\.txt\.j2:3: .*nosuchfilter"),
        ("telegram.html.j2", "{% for %}", r"telegram\.html\.j2:1: template syntax error"),
    ],
)
def test_broken_user_template_names_file_and_line(
    tmp_path: Path, name: str, source: str, expected: str
) -> None:
    _write(tmp_path, name, source)
    with pytest.raises(TemplateError, match=expected) as err:
        TeaserRenderer(tmp_path)
    assert str(tmp_path) in str(err.value)


def test_undefined_variable_is_an_error_with_line(tmp_path: Path, make_post) -> None:
    _write(tmp_path, "x.txt.j2", "{{ title }}\n{{ no_such_variable }} {{ url }}")
    with pytest.raises(TemplateError, match=r"x\.txt\.j2:2: UndefinedError: 'no_such_variable'"):
        TeaserRenderer(tmp_path).x(make_post())


def test_sandbox_blocks_unsafe_access(tmp_path: Path, make_post) -> None:
    _write(tmp_path, "x.txt.j2", "{{ post.__class__.__mro__ }} {{ url }}")
    with pytest.raises(TemplateError, match=r"x\.txt\.j2:1: SecurityError"):
        TeaserRenderer(tmp_path).x(make_post())


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("<p>{{ title }}</p> {{ url }}", r'Unsupported start tag "p" at byte offset 0'),
        ("{{ title }}<br>{{ url }}", r'Unsupported start tag "br"'),
        ("<b>{{ title }} {{ url }}", r'Can\'t find end tag corresponding to start tag "b"'),
    ],
)
def test_telegram_template_rejected_html_is_reported(
    tmp_path: Path, source: str, message: str, make_post
) -> None:
    _write(tmp_path, "telegram.html.j2", source)
    with pytest.raises(TemplateError, match=r"telegram\.html\.j2: Telegram would reject") as err:
        TeaserRenderer(tmp_path).telegram(make_post(), photo=True)
    assert regex.search(message, str(err.value))


def test_absurd_template_raises_clear_error(tmp_path: Path, make_post) -> None:
    _write(tmp_path, "x.txt.j2", "{{ title }} " + "가" * 300 + " {{ url }}")
    with pytest.raises(TemplateError, match=r"x\.txt\.j2: .*no room within 280"):
        TeaserRenderer(tmp_path).x(make_post(categories=("a", "b")))


def test_long_title_cut_when_excerpt_alone_cannot_help(renderer: TeaserRenderer, make_post) -> None:
    title = "제목 " * 300
    post = make_post(title=title, excerpt="본문입니다. " * 50)
    for t in (renderer.x(post), renderer.telegram(post, photo=True)):
        assert t.shortened and t.length <= t.limit
    x = renderer.x(post)
    kept = x.text.split("\n\n")[0]
    assert "본문" not in x.text and kept.endswith("…")
    assert _is_grapheme_prefix(kept.removesuffix("…"), title)


def test_astral_emoji_cannot_push_telegram_over_in_utf16(
    renderer: TeaserRenderer, make_post
) -> None:
    post = make_post(title="Emoji", excerpt="😀 " * 3000)
    for photo, limit in ((True, 1024), (False, 4096)):
        t = renderer.telegram(post, photo=photo)
        parsed = parse_telegram_html(t.text)
        assert t.shortened and parsed.utf16_length <= limit
        assert parsed.utf16_length > limit - 10  # the room is used, not wasted


def test_giant_single_grapheme_title_is_dropped_not_split(
    renderer: TeaserRenderer, make_post
) -> None:
    zalgo = "a" + "\u0301" * 400  # one grapheme cluster heavier than any limit
    t = renderer.x(make_post(title=zalgo))
    assert t.text == "…\n\n" + make_post().url
    assert x_parse(t.text).valid


def test_too_long_hashtags_make_room_for_the_title(tmp_path: Path, make_post) -> None:
    _write(tmp_path, "x.txt.j2", "{{ title }} {{ hashtags|join(' ') }} {{ url }}")
    post = make_post(title="제목", categories=("가" * 50, "나" * 50, "다" * 50))
    t = TeaserRenderer(tmp_path).x(post)
    assert t.length <= 280 and t.text.startswith("제목 #" + "가" * 50 + " #" + "나" * 50 + " ")
    assert "다" not in t.text
    assert t.shortened  # a dropped hashtag is a cut too


def test_x_fit_calls_parse_tweet_once_or_twice(
    monkeypatch, renderer, sample_post, make_post
) -> None:
    """The full parser confirms the final text; it is never called inside the search."""
    from bot.teasers import render as render_module

    calls: list[str] = []
    real = render_module.x_parse
    monkeypatch.setattr(
        render_module, "x_parse", lambda text, options=None: calls.append(text) or real(text)
    )
    renderer.x(sample_post)
    assert len(calls) == 1
    calls.clear()
    tricky = make_post(title="Links", excerpt=" ".join(f"a{i}.example.com" for i in range(60)))
    t = renderer.x(tricky)
    assert 1 <= len(calls) <= 2 and calls[-1] == t.text and t.length <= 280
