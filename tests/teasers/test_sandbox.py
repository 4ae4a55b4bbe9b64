"""Templates see plain data only, and every render is bounded in time and memory.

Each attack is written on line 2 of a user template, with fake secrets in the environment and in
the settings that built the renderer: it must fail as a template error naming the file and line
2, within a generous time and memory bound, and no secret may appear in what comes out.
"""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import load_settings
from bot.teasers import TeaserRenderer, TemplateError
from bot.teasers import sandbox as sandbox_module
from bot.teasers.view import plain_copy, post_view

# Fake, built at run time; the attacks below try to print them.
TOKEN = "123456789" + ":" + "AAH-fake-sandbox-token-0123456789abcdef"
X_SECRET = "xsFAKE" + "sandboxSECRET789"
SECRETS = (TOKEN, X_SECRET, TOKEN.split(":")[1])


@pytest.fixture
def secret_renderer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A renderer built from settings that hold the fake secrets, with them in os.environ too."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("X_API_SECRET", X_SECRET)
    folder = tmp_path / "tpl"
    folder.mkdir()
    config = load_settings(templates_dir=folder, site_dir=tmp_path)
    assert config.telegram_bot_token is not None  # the secret really is in reach of the process

    def build(line: str) -> TeaserRenderer:
        (folder / "x.txt.j2").write_text("{{ title }}\n" + line + "\n{{ url }}", encoding="utf-8")
        return TeaserRenderer(config.templates_dir, hashtag_max=config.hashtag_max)

    build.post_file = tmp_path / "2024-01-02-post.md"  # type: ignore[attr-defined]
    build.post_file.write_text("---\ntitle: Title\n---\n", encoding="utf-8")  # type: ignore[attr-defined]
    return build


def _fails_cleanly(renderer_for, make_post, line: str, kind: str, seconds: float = 5.0) -> str:
    source = renderer_for.post_file  # a real file: `post.path.write_text()` would overwrite it
    post = make_post(
        path=source,
        date=datetime(2024, 8, 7, 9, 30, tzinfo=ZoneInfo("Asia/Seoul")),
        extra={"author": "Kim", "labels": ["a", "b"], "meta": {"k": "v"}},
    )
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(TemplateError) as err:
            renderer_for(line).x(post)
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert f"x.txt.j2:2: {kind}" in message, message
    assert elapsed < seconds, f"{elapsed:.1f} s"
    assert peak < 64 * 1024 * 1024, f"{peak / 1e6:.0f} MB"
    for secret in SECRETS:
        assert secret not in message and secret not in repr(err.value.__cause__)
    assert source.read_text(encoding="utf-8") == "---\ntitle: Title\n---\n"
    return message


# --- nothing reaches the system -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("{{ post.path.joinpath('/proc/self/environ').read_bytes() }}", "UndefinedError"),
        ("{{ post.path.read_text() }}", "UndefinedError"),
        ("{{ post.path.write_text('x') }}", "UndefinedError"),
        ("{{ post.__class__.__mro__ }}", "SecurityError"),
        ("{{ post['__class__'] }}", "SecurityError"),
        ("{{ post.date.__class__.__subclasses__() }}", "SecurityError"),
        ("{{ post.date.tzinfo.clear_cache() }}", "SecurityError"),
        ("{{ post.date.tzinfo.no_cache('../../etc/passwd') }}", "SecurityError"),
        ("{{ post.date.fromtimestamp(0) }}", "SecurityError"),
        ("{{ post.title.encode() }}", "SecurityError"),
        ("{{ post.extra.author.__class__ }}", "SecurityError"),
        ("{{ self.__init__.__globals__ }}", "SecurityError"),
        ("{{ self._TemplateReference__context }}", "SecurityError"),
        ("{{ cycler.__init__.__globals__.os.environ }}", "SecurityError"),
        ("{{ joiner.__init__.__globals__ }}", "SecurityError"),
        ("{{ namespace.__init__.__globals__ }}", "SecurityError"),
        ("{{ lipsum.__globals__ }}", "SecurityError"),
        ("{{ range.__globals__ }}", "SecurityError"),
        ("{{ dict.fromkeys(range(3)) }}", "SecurityError"),
        ("{{ [].__class__.__base__.__subclasses__() }}", "SecurityError"),
        ("{{ post.extra.get.__self__ }}", "SecurityError"),
        ("{{ post|attr('__class__') }}", "SecurityError"),
        ("{{ [post]|map(attribute='__class__')|list }}", "SecurityError"),
        ("{{ '{0.__class__.__base__.__subclasses__}'.format(post) }}", "SecurityError"),
        ("{{ '{0.date.tzinfo.__class__}'.format(post) }}", "SecurityError"),
        ("{{ '{d.__class__}'.format_map({'d': post.date}) }}", "SecurityError"),
        ("{{ config.items() }}", "UndefinedError"),
        ("{{ request.environ }}", "UndefinedError"),
        ("{{ settings.telegram_bot_token }}", "UndefinedError"),
        ("{{ post.extra.update(author='x') }}", "SecurityError"),
        ("{{ post.extra.pop('author') }}", "SecurityError"),
        ("{{ post.extra.setdefault('a', 1) }}", "SecurityError"),
        ("{{ post.extra.clear() }}", "SecurityError"),
        ("{{ post.categories.append('x') }}", "SecurityError"),
        ("{{ post.extra.labels.sort() }}", "SecurityError"),
    ],
)
def test_a_template_cannot_reach_the_system(
    secret_renderer, make_post, line: str, kind: str
) -> None:
    _fails_cleanly(secret_renderer, make_post, line, kind)


# --- every render is bounded --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "limit"),
    [
        ("{% for i in range(10**6) %}{% endfor %}", "a range of 1000000"),
        ("{{ range(10**6)|list|length }}", "a range of 1000000"),
        ("{{ cycler(*range(10**7)).next() }}", "a range of 10000000"),
        ("{{ lipsum(10**6) }}", "lipsum paragraphs"),
        ("{{ lipsum(1, max=10**9) }}", "lipsum words"),
        ("{{ joiner('x' * 10**9)() }}", "a repeated value"),
        ("{{ 'x' * 10**9 }}", "a repeated value"),
        ("{{ 10**9 * [post.title] }}", "a repeated value"),
        ("{{ 10 ** (10 ** 10) }}", "a power of"),
        ("{% set ns = namespace(n=3) %}{% for i in range(30) %}{% set ns.n = ns.n * ns.n %}"
         "{% endfor %}", "an integer of more than"),
        ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
         "more than 200000 loop iterations"),
        ("{% for i in range(100000) %}{{ post.title }} and some static text{% endfor %}",
         "output longer than"),
        ("{% macro m() %}{% for i in range(99999) %}static text{% endfor %}{% endmacro %}"
         "{{ m()|length }}", "output longer than"),
        ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
         "{% endfor %}", "a ~ result of"),
        ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
         "{% endfor %}", "a string of more than"),
        ("{% set ns = namespace(a=[1]) %}{% for i in range(64) %}{% set ns.a = [ns.a, ns.a] %}"
         "{% endfor %}{{ ns.a|string|length }}", "a value of more than"),
        ("{% set ns = namespace(a={}) %}{% for i in range(64) %}{% set ns.a = {1: ns.a, 2: ns.a} "
         "%}{% endfor %}", "a value of more than"),
        ("{% set ns = namespace(n=namespace()) %}{% for i in range(64) %}"
         "{% set ns.n = namespace(a=ns.n, b=ns.n) %}{% endfor %}", "a value of more than"),
        ("{% set ns = namespace(a=[1]) %}{% for i in range(200) %}{% set ns.a = [ns.a] %}"
         "{% endfor %}", "nested deeper than"),
        ("{{ '{:>999999999}'.format(1) }}", "a format width"),
        ("{{ '{0}{0}{0}{0}'.format('x' * 40000) }}", "a format result"),
        ("{{ '%999999999s' % 'x' }}", "a % format width"),
        ("{{ '%*s' % (999999999, 'x') }}", "`*` width"),
        ("{{ ('%(a)s' * 20000) % {'a': 'x' * 10000} }}", "a % format result"),
        ("{{ '%.999999999f'|format(1.5) }}", "a % format precision"),
        ("{{ 'x'|center(10**9) }}", "a center width"),
        ("{{ ('a\\n' * 1000)|indent(10**6) }}", "an indented result"),
        ("{{ ('x' * 50000)|replace('', 'yy') }}", "a replace result"),
        ("{{ ('x' * 50000).replace('x', 'yyy') }}", "a replace result"),
        ("{{ range(50000)|join('x' * 1000) }}", "a join result"),
        ("{{ ('x' * 1000).join(range(50000)|map('string')) }}", "a join result"),
        ("{{ ('ab ' * 20000)|wordwrap(1, wrapstring='x' * 100) }}", "a wrapped result"),
        ("{{ [1]|batch(10**9, 0)|list|length }}", "a batch size"),
        ("{{ [1]|slice(10**9)|list|length }}", "a slice count"),
        ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "calls nested deeper than"),
        ("{% for x in [[1]] recursive %}{{ loop([[1]]) }}{% endfor %}", "calls nested deeper"),
    ],
)
def test_a_huge_render_stops_at_a_limit(secret_renderer, make_post, line: str, limit: str) -> None:
    message = _fails_cleanly(secret_renderer, make_post, line, "RenderLimitError")
    assert limit in message


def test_a_render_that_is_slow_at_every_step_stops_on_time(
    secret_renderer, make_post, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Comparing two long lists costs no step, so only the clock can stop this loop."""
    monkeypatch.setattr(sandbox_module, "RENDER_SECONDS", 0.3)
    line = ("{% set a = range(90000)|list %}{% set b = range(90000)|list %}"
            "{% for i in range(100000) %}{% if a == b %}{% endif %}{% endfor %}")
    message = _fails_cleanly(secret_renderer, make_post, line, "RenderLimitError", seconds=3)
    assert "took longer than 0.3 s" in message


def test_compile_time_runs_no_template_code(tmp_path: Path) -> None:
    """Jinja folds constant expressions while compiling, outside any render's limits: the
    sandbox leaves it nothing to fold that could grow (operators and filters run at render)."""
    (tmp_path / "x.txt.j2").write_text(
        "{{ 'x' * 1000000000 }}{{ 9 ** 999999999 }}{{ 'x'|center(1000000000) }}{{ url }}",
        encoding="utf-8",
    )
    started = time.monotonic()
    TeaserRenderer(tmp_path)  # compiles both templates
    assert time.monotonic() - started < 5


def test_limits_leave_ordinary_templates_alone(tmp_path: Path, make_post) -> None:
    (tmp_path / "x.txt.j2").write_text(
        "{% set ns = namespace(n=0) %}{% for t in post.tags if t %}{% set ns.n = ns.n + 1 %}"
        "{% endfor %}{{ title|upper }} ({{ ns.n }} tags, {{ post.extra.labels|join('/') }}, "
        "{{ '%s-%02d'|format(post.slug, post.date.month) }}, {{ '{:>4}'.format(lang) }}, "
        "{{ post.date.strftime('%Y') ~ '년' }}, {{ (post.extra.labels * 2)|length }}, "
        "{{ post.extra.meta.items()|list }}, {{ post.date.tzinfo.key }}, "
        "{{ range(3)|map('string')|join(',') }})\n{{ url }}",
        encoding="utf-8",
    )
    post = make_post(
        title="Hi", tags=("a", "b"), slug="s",
        date=datetime(2024, 3, 1, tzinfo=ZoneInfo("Asia/Seoul")),
        extra={"labels": ["x", "y"], "meta": {"k": 1}},
    )
    text = TeaserRenderer(tmp_path).x(post).text
    assert text == (
        "HI (2 tags, x/y, s-03,   en, 2024년, 4, [('k', 1)], Asia/Seoul, 0,1,2)\n" + post.url
    )


# --- the post as plain data ---------------------------------------------------------------------

_PLAIN = (str, int, float, bool, type(None), date, datetime, timedelta, list, dict)


def _only_plain(value: object) -> bool:
    if type(value) not in _PLAIN:
        return False
    if isinstance(value, dict):
        return all(_only_plain(k) and _only_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_only_plain(v) for v in value)
    return True


def test_the_post_a_template_sees_is_plain_data(make_post) -> None:
    extra = {"t": ("a", 1), "s": {1}, "b": b"\xff", "d": date.today()}
    post = make_post(path=Path(__file__).resolve(), extra=extra)
    view = post_view(post)
    assert _only_plain(view)
    assert "path" not in view and str(Path(__file__).parent) not in repr(view)
    assert view["extra"] == {"t": ["a", 1], "s": [1], "b": "\ufffd", "d": date.today()}
    assert view["date"] == post.date and view["categories"] == list(post.categories)


_YAML_SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
    | st.dates() | st.datetimes(timezones=st.just(UTC))
)
_YAML_DATA = st.recursive(
    _YAML_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                 max_size=4),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(_YAML_DATA)
def test_front_matter_is_copied_as_equal_plain_data(value: object) -> None:
    copied = plain_copy(value)
    assert copied == value and _only_plain(copied)
    if isinstance(value, list | dict):
        assert copied is not value


@pytest.mark.parametrize(
    ("front_matter", "reason"),
    [
        # "billion laughs": nine levels of nine aliases each, 387 million values once expanded
        ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
            for i in range(8)
        ), "more than 100000 values"),
        ("a: &a [1, *a]\n", "nested deeper than 100"),
    ],
)
def test_hostile_front_matter_is_a_clear_reason(
    make_post, front_matter: str, reason: str
) -> None:
    post = make_post(rel_path="_posts/2024-01-02-laughs.md", extra=yaml.safe_load(front_matter))
    started = time.monotonic()
    with pytest.raises(TemplateError, match=rf"_posts/2024-01-02-laughs\.md: .*{reason}"):
        TeaserRenderer().x(post)
    assert time.monotonic() - started < 5


def test_the_renders_of_one_teaser_share_one_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fitting renders a teaser several times (and again per dropped hashtag): all of them
    together get RENDER_SECONDS, not each of them."""
    from bot.teasers.env import make_environment, render
    from bot.teasers.sandbox import time_limit

    monkeypatch.setattr(sandbox_module, "RENDER_SECONDS", 0.2)
    template = make_environment().from_string("{% for i in range(1000) %}{% endfor %}done")
    assert render(template, {}) == "done"
    with time_limit():
        assert render(template, {}) == "done"
        time.sleep(0.25)  # an earlier render of the same teaser used the time up
        with pytest.raises(TemplateError, match=r"took longer than 0\.2 s"):
            render(template, {})
    assert render(template, {}) == "done"  # the next teaser starts a clock of its own
