"""Jekyll's front matter rule as a python-frontmatter handler (`JekyllHandler`).

python-frontmatter's own handlers are lenient where Jekyll is strict: its YAML fence is any
line of three or more dashes, a file without front matter is quietly all body, and its loader is
PyYAML's safe loader, with no bound on what aliases expand to. Jekyll publishes a file as a post
only when its very first line is `---` (trailing blanks allowed) and a later line closes it with
`---` or `...`; this handler keeps that rule, TOML between `+++` lines (which the reader has
always taken, for posts carried over from Hugo), the bounded libyaml loader of `yaml_front`, and
reasons that name the line to fix.

Every problem is a `PostFileError`, never a ValueError: `frontmatter.parse` takes a ValueError
from `split` to mean "no front matter" and would return the whole file as a body.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import yaml
from frontmatter.default_handlers import BaseHandler

from bot.sources.errors import PostFileError, clip, shown
from bot.sources.yaml_front import FrontMatterTooLargeError, load_yaml

__all__ = ["MAX_FRONT_MATTER_CHARS", "MAX_FRONT_MATTER_DEPTH", "JekyllHandler"]

MAX_FRONT_MATTER_CHARS = 64 * 1024
"""Front matter is a few hundred bytes of keys; long text belongs in the body. Parsing is linear
but slow per value (a 5 MB front matter takes libyaml 15 s and 900 MB), so this bounds it."""
MAX_FRONT_MATTER_DEPTH = 100
"""Levels of lists and mappings inside each other, the front matter itself being the first:
what teaser templates are handed (`bot.teasers.view.MAX_NESTING`, the same number), so a post
`check` calls publishable can always be rendered."""

_YAML_OPEN = re.compile(r"---[ \t]*\n")
_YAML_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_TOML_OPEN = re.compile(r"\+\+\+[ \t]*\n")
_TOML_CLOSE = re.compile(r"^\+\+\+[ \t]*$", re.MULTILINE)
_TOML_LINE = re.compile(r"at line (\d+)")


class JekyllHandler(BaseHandler):
    """Front matter the way Jekyll finds it: YAML between `---` lines, or TOML between `+++`.

    `split` hands `load` the front matter *with its opening fence line*: that line tells `load`
    which language it is (one handler, as Jekyll has one rule), and YAML and TOML errors count
    their lines from it, so a reason's line is the line of the file. Reading posts is all this
    handler is for: `export` stays BaseHandler's NotImplementedError (the bot never writes one).
    """

    FM_BOUNDARY = _YAML_CLOSE  # BaseHandler requires one; split() below does not use it
    START_DELIMITER = END_DELIMITER = "---"

    def detect(self, text: str) -> bool:
        """Whether `text` opens with a front-matter fence on its very first line."""
        return _YAML_OPEN.match(text) is not None or _TOML_OPEN.match(text) is not None

    def split(self, text: str) -> tuple[str, str]:
        """(fence line + front matter, body); the body starts after the closing line's newline.

        Raises PostFileError, with the line, when Jekyll would not read front matter here.
        """
        if m := _YAML_OPEN.match(text):
            close_re = _YAML_CLOSE
        elif m := _TOML_OPEN.match(text):
            close_re = _TOML_CLOSE
        else:
            raise _fence_problem(text)
        close = close_re.search(text, m.end())
        if close is None:
            fence = text[: m.end() - 1].strip()
            raise PostFileError(f"front matter opened with '{fence}' on line 1 is never closed", 1)
        if close.start() - m.end() > MAX_FRONT_MATTER_CHARS:
            raise PostFileError(
                f"front matter is {(close.start() - m.end()) // 1024} KB, over the "
                f"{MAX_FRONT_MATTER_CHARS // 1024} KB limit: long text belongs in the post body",
                1,
            )
        return text[: close.start()], text[close.end() + 1 :]

    def load(self, fm: str, **kwargs: object) -> dict[Any, Any]:
        """The front matter `split` returned as a mapping ({} when empty).

        Raises PostFileError: invalid YAML or TOML (with the file's line), aliases that expand
        too far, a list or a scalar instead of keys, nesting deeper than MAX_FRONT_MATTER_DEPTH.
        """
        if fm.startswith("+++"):
            data = _parse_toml(fm[fm.index("\n") + 1 :])
        elif fm.startswith("---"):
            data = _parse_yaml(fm[fm.index("\n") + 1 :])
        else:
            raise ValueError("load() takes the front matter as split() returns it, fence first")
        if data is None:
            return {}
        if not isinstance(data, dict):
            found = "a list" if isinstance(data, list) else f"just {shown(data)!r}"
            raise PostFileError(f"front matter must be 'key: value' lines, found {found}", 2)
        if _deeper_than(data, MAX_FRONT_MATTER_DEPTH):
            raise PostFileError(
                f"front matter nested deeper than {MAX_FRONT_MATTER_DEPTH} levels (lists or "
                "tables inside each other): flatten it"
            )
        return data


def _fence_problem(text: str) -> PostFileError:
    """Why `text`, which opens with no fence line, has no front matter Jekyll would read."""
    if text.startswith(("---", "+++")):
        return PostFileError(
            f"the first line must be exactly '{text[:3]}' (the front matter fence)", 1
        )
    stripped = text.lstrip()
    if stripped.startswith(("---", "+++")):
        line = text[: len(text) - len(stripped)].count("\n") + 1
        return PostFileError(
            "front matter must start on the very first line: remove what comes before '---'",
            line,
        )
    return PostFileError(
        "no front matter: a post must start with a '---' line, then 'title: ...', then '---' "
        "(without it Jekyll copies the file as is and does not publish a post)"
    )


def _deeper_than(value: object, limit: int) -> bool:
    """Whether lists and mappings nest more than `limit` levels in `value` (itself level 1).

    Depth first and without recursion, so a path past the limit is found within `limit` steps
    down, whatever the width, and a cyclic value (YAML can make one) ends there too.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list | tuple | set | frozenset):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _parse_yaml(raw: str) -> object:
    try:
        return load_yaml(raw)
    except FrontMatterTooLargeError as exc:
        raise PostFileError(str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark is not None else None
        context = exc.context or ""
        start = exc.context_mark
        if context and start is not None and mark is not None and start.line != mark.line:
            context = f"{context} (from line {start.line + 2})"
        what = clip(", ".join(p for p in (context, exc.problem) if p), 200)
        hint = ""
        if "mapping values are not allowed" in what:
            hint = " (a value containing ': ' must be quoted, e.g. title: \"A: B\")"
        elif "tab" in what:
            hint = " (use spaces, not tabs)"
        raise PostFileError(f"front matter is not valid YAML: {what}{hint}", line) from None
    except RecursionError:
        raise PostFileError("front matter is not valid YAML: nested too deeply") from None
    except (yaml.YAMLError, ValueError, OverflowError) as exc:
        raise PostFileError(f"front matter is not valid YAML: {clip(str(exc), 200)}") from None


def _parse_toml(raw: str) -> object:
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_LINE.search(str(exc))
        line = int(m.group(1)) + 1 if m else None
        what = clip(str(exc), 200)
        raise PostFileError(f"front matter is not valid TOML: {what}", line) from None
    except RecursionError:  # tomllib recurses once per nested array or table
        raise PostFileError("front matter is not valid TOML: nested too deeply") from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of 5,000 digits
        raise PostFileError(f"front matter is not valid TOML: {clip(str(exc), 200)}") from None
    # A TOML local datetime has no zone: read it in the site zone like a quoted YAML date.
    date_value = data.get("date")
    if isinstance(date_value, datetime) and date_value.tzinfo is None:
        data["date"] = date_value.isoformat(sep=" ")
    return data
