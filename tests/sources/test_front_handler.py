"""`JekyllHandler`: Jekyll's fence rule, reasons with lines, libyaml and TOML, as a handler.

The reader calls the handler's `split` and `load` itself; `frontmatter.parse` with the same
handler agrees on the front matter but strips the body, which changes a post's excerpt (see the
last tests). The reference is the reader's own split before it became this handler, kept
verbatim in `reference_split.py`.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import frontmatter
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sources.errors import PostFileError
from bot.sources.front_handler import MAX_FRONT_MATTER_CHARS, JekyllHandler
from bot.sources.jekyll import read_post
from bot.sources.text import first_paragraph

if TYPE_CHECKING:
    from conftest import SiteBuilder

_REFERENCE = Path(__file__).with_name("reference_split.py")
_spec = importlib.util.spec_from_file_location("newsbot_reference_split", _REFERENCE)
assert _spec is not None and _spec.loader is not None
reference = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(reference)

HANDLER = JekyllHandler()


def _via_handler(text: str) -> tuple[dict[Any, Any], str]:
    """What the reader does: the handler's split, then its load."""
    fm, body = HANDLER.split(text)
    return HANDLER.load(fm), body


def _outcome(split: Callable[[str], tuple[dict[Any, Any], str]], text: str) -> tuple[object, ...]:
    """What a split gives, comparable: the values (by repr: `.nan` is not equal to itself)
    and the body, or the error with its reason and line."""
    try:
        front, body = split(text)
    except PostFileError as exc:
        return ("bad", exc.reason, exc.line)
    except Exception as exc:  # both sides must fail the same way, whatever the way
        return ("raised", type(exc).__name__, str(exc))
    return ("ok", repr(front), body)


# --------------------------------------------------------------------------- fences


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("---\n", True),
        ("--- \t\ntitle: x\n", True),
        ("+++\ntitle = 'x'\n", True),
        ("--- title: x\n", False),
        ("----\n", False),
        (" ---\n", False),
        ("\n---\n", False),
        ("---", False),
        ("---\r\n", False),  # the reader turns CRLF into LF before the handler sees the text
        ("\ufeff---\n", False),  # and drops the BOM
        ("제목만 있는 파일\n", False),
    ],
)
def test_detect_is_the_first_line_fence_only(text: str, found: bool) -> None:
    assert HANDLER.detect(text) is found


@pytest.mark.parametrize(
    ("text", "front", "body"),
    [
        ("---\ntitle: x\n---\nbody\n", {"title": "x"}, "body\n"),
        ("---\ntitle: x\n...\nbody\n", {"title": "x"}, "body\n"),  # YAML's document end
        ("--- \ntitle: x\n---\t \nbody", {"title": "x"}, "body"),
        ("---\ntitle: x\n---", {"title": "x"}, ""),
        ("---\n---\n", {}, ""),
        ("---\n# only a comment\n---\nb", {}, "b"),
        ('+++\ntitle = """\n---\n"""\n+++\nbody', {"title": "---\n"}, "body"),
        ('+++\ndate = 2024-04-01T10:00:00\n+++\n', {"date": "2024-04-01 10:00:00"}, ""),
        ("---\ntitle: x\n---\n\n    code\n", {"title": "x"}, "\n    code\n"),  # kept as is
    ],
)
def test_split_and_load(text: str, front: dict[str, object], body: str) -> None:
    assert _via_handler(text) == (front, body)


BAD: list[tuple[str, str, int | None]] = [
    ("--- title: x\n---\n", "the first line must be exactly '---' (the front matter fence)", 1),
    ("+++x\n+++\n", "the first line must be exactly '+++'", 1),
    ("\n\n---\ntitle: x\n---\n", "must start on the very first line", 3),
    ("제목 없이 본문만\n", "no front matter: a post must start with a '---' line", None),
    ("---\ntitle: x\n본문\n", "front matter opened with '---' on line 1 is never closed", 1),
    ("--- \t\ntitle: x\n", "opened with '---' on line 1 is never closed", 1),
    ("+++\ntitle = 'x'\n---\n", "opened with '+++' on line 1 is never closed", 1),
    ("---\ntitle: x\n---\r", "never closed", 1),  # a lone CR is not the end of the line
    ("---\ntitle: x\n+++\n", "opened with '---' on line 1 is never closed", 1),
    (
        "---\nd: '" + "x" * MAX_FRONT_MATTER_CHARS + "'\n---\n",
        "front matter is 64 KB, over the 64 KB limit",
        1,
    ),
    ("---\ntitle: a: b\n---\n", "mapping values are not allowed in this context (a value", 2),
    ('---\ntitle: x\ncats: [a,\nb: "c\n---\n', "quoted scalar (from line 4)", 5),
    ("---\ntitle: x\n\tdate: 2024-01-01\n---\n", "(use spaces, not tabs)", 3),
    ("---\ntitle: x\ndate: 2024-13-45\n---\n", "impossible date '2024-13-45'", 3),
    ("---\ntitle: x\nb: *nope\n---\n", "found undefined alias", 3),
    ("---\n- a\n- b\n---\n", "must be 'key: value' lines, found a list", 2),
    ("---\njust text\n---\n", "found just 'just text'", 2),
    ("---\nd: " + "[" * 101 + "]" * 101 + "\n---\n", "nested deeper than 100 levels", None),
    ('+++\ntitle = "x\n+++\n', "front matter is not valid TOML: ", 2),
    ('+++\ntitle = "x"\ntitle = "y"\n+++\n', "not valid TOML", 3),
    (
        "---\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]"
        "\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]"
        "\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n---\n",
        "aliases (*name) expand to more than 10,000 extra values",
        None,
    ),
]


@pytest.mark.parametrize(("text", "reason", "line"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_what_jekyll_would_not_read_has_a_reason_and_its_line(
    text: str, reason: str, line: int | None
) -> None:
    with pytest.raises(PostFileError) as caught:
        _via_handler(text)
    assert reason in caught.value.reason
    assert caught.value.line == line
    assert _outcome(reference._split, text) == ("bad", caught.value.reason, line)


@pytest.mark.parametrize("size", [MAX_FRONT_MATTER_CHARS, MAX_FRONT_MATTER_CHARS + 1])
def test_the_size_bound_is_on_the_front_matter_between_the_fences(size: int) -> None:
    raw = "d: '" + "x" * (size - 6) + "'\n"
    assert len(raw) == size
    text = f"---\n{raw}---\nbody\n"
    if size <= MAX_FRONT_MATTER_CHARS:
        assert _via_handler(text) == ({"d": "x" * (size - 6)}, "body\n")
    else:
        with pytest.raises(PostFileError, match="over the 64 KB limit"):
            _via_handler(text)
    assert _outcome(_via_handler, text) == _outcome(reference._split, text)


def test_load_takes_the_front_matter_as_split_gives_it() -> None:
    fm, _ = HANDLER.split("---\ntitle: x\n---\nbody\n")
    assert fm == "---\ntitle: x\n"
    with pytest.raises(ValueError, match="fence first"):
        HANDLER.load("title: x\n")


# --------------------------------------------------------------------------- the reader


def test_reader_reads_crlf_bom_dots_closer_through_the_handler(site_builder: SiteBuilder) -> None:
    raw = "\ufeff---\r\ntitle: 윈도우\r\ntags: [a]\r\n...\r\n\r\n    $ code\r\n\r\n본문.\r\n"
    post = read_post(site_builder.site(), site_builder.raw("_posts/2024-01-01-w.md", raw))
    assert (post.title, post.tags, post.excerpt) == ("윈도우", ("a",), "본문.")


def test_reader_reads_toml_through_the_handler(site_builder: SiteBuilder) -> None:
    raw = '+++\ntitle = "TOML"\ntags = ["t"]\n+++\n본문.\n'
    post = read_post(site_builder.site(), site_builder.raw("_posts/2024-01-01-t.md", raw))
    assert (post.title, post.tags, post.excerpt) == ("TOML", ("t",), "본문.")


# --------------------------------------------------------------------------- the old split

_PIECES = st.sampled_from(
    [
        "---", "--- ", "---\t", "----", " ---", "...", ".. .", "+++", "+++ ", "++", "",
        " ", "\t", "\r", "\x0c", "\u2028", "title: x", "title: 'a: b'", "title: a: b",
        "title: [a, b]", "date: 2024-01-01", "date: 2024-02-30", "tags: [a, b]", "- a",
        "just text", "\tx: 1", "a: &a [1, 2]", "b: *a", "c: *nope", "d: &d {e: *d}",
        "e: !!binary aGk=", "f: !!python/object:os.system x", "g: .nan", 'title = "x"',
        'title = "x', "[image]", 'path = "/a.jpg"', "x = 1979-05-27T07:32:00", "y = [1, [2]]",
        "    code", "Lead para.", "본문", "key:", "? complex", "{a: 1}", "%YAML 1.1",
    ]
)
_TEXTS = st.one_of(
    st.tuples(
        st.sampled_from(["---", "+++", "--- ", "+++\t", "", "\n---"]),
        st.lists(st.one_of(_PIECES, st.text(max_size=6)), max_size=12),
        st.sampled_from(["", "\n", "\n\n", " ", "\r", "\x0c", "\n  \n"]),
    ).map(lambda t: "\n".join([t[0], *t[1]]) + t[2]),
    st.text(max_size=60),
)


@settings(max_examples=400, deadline=None)
@given(_TEXTS)
def test_the_handler_splits_exactly_as_the_reader_did(text: str) -> None:
    """Values, body, reason and line: all the same as the hand-rolled split gave."""
    assert _outcome(_via_handler, text) == _outcome(reference._split, text)


# --------------------------------------------------------------------------- frontmatter.parse


def _via_parse(text: str) -> tuple[dict[Any, Any], str]:
    return frontmatter.parse(text, handler=HANDLER)


@settings(max_examples=300, deadline=None)
@given(_TEXTS)
def test_parse_with_the_handler_agrees_on_every_post_but_strips_its_body(text: str) -> None:
    """Why the reader does not call `frontmatter.parse`: on every file the old split read, the
    values are the same, but the body comes back `.strip()`ped. (The text is given with LF line
    ends, as the reader gives it: python-frontmatter turns CRLF into LF too.)"""
    text = text.replace("\r\n", "\n")
    old = _outcome(reference._split, text)
    if old[0] != "ok":
        return
    assert _outcome(_via_parse, text) == (*old[:2], old[2].strip())  # type: ignore[union-attr]


def test_parse_would_change_an_excerpt_and_accept_a_file_the_reader_refuses() -> None:
    """What the stripping does: a post opening with an indented code block (a shell command)
    gets the command as its lead, and `.strip()` of the whole file turns a last line `---\\r`
    (refused: never closed) into a closing fence."""
    text = "---\ntitle: x\n---\n\n    $ pip install newsbot\n\n첫 문단.\n"
    _, body = _via_handler(text)
    _, parsed_body = _via_parse(text)
    assert first_paragraph(body) == "첫 문단."
    assert first_paragraph(parsed_body) == "$ pip install newsbot"
    with pytest.raises(PostFileError, match="never closed"):
        _via_handler("---\ntitle: x\n---\r")
    assert _via_parse("---\ntitle: x\n---\r") == ({"title": "x"}, "")


def test_parse_keeps_the_handler_errors_instead_of_reading_no_front_matter() -> None:
    """`frontmatter.parse` reads a ValueError from split as "no front matter" and returns the
    file as a body: the handler's errors are PostFileErrors, so they come through."""
    with pytest.raises(PostFileError, match="never closed"):
        _via_parse("---\ntitle: x\n본문\n")
    with pytest.raises(PostFileError, match="no front matter"):
        _via_parse("본문만\n")


def test_loads_cannot_take_a_key_that_is_not_text() -> None:
    """`frontmatter.loads` passes the keys as keyword arguments; the reader keeps `2024:` (as
    `post.extra["2024"]`)."""
    text = "---\ntitle: x\n2024: y\n---\nbody\n"
    assert _via_handler(text) == ({"title": "x", 2024: "y"}, "body\n")
    with pytest.raises(TypeError, match="keywords must be strings"):
        frontmatter.loads(text, handler=HANDLER)
