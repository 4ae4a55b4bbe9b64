"""The front-matter split of `bot/sources/jekyll.py` as it was before it became `JekyllHandler`
(commit 37a82e0): the reference the property tests compare the handler with. Its code is kept
verbatim (the regexes, `_split` and what it calls); only this docstring and the imports are new.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import yaml

from bot.sources.errors import PostFileError, clip, shown
from bot.sources.yaml_front import FrontMatterTooLargeError, load_yaml

MAX_FRONT_MATTER_CHARS = 64 * 1024
MAX_FRONT_MATTER_DEPTH = 100
_YAML_OPEN = re.compile(r"---[ \t]*\n")
_YAML_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_TOML_OPEN = re.compile(r"\+\+\+[ \t]*\n")
_TOML_CLOSE = re.compile(r"^\+\+\+[ \t]*$", re.MULTILINE)
_TOML_LINE = re.compile(r"at line (\d+)")


def _split(text: str) -> tuple[dict[Any, Any], str]:
    """(front matter, body)."""
    if m := _YAML_OPEN.match(text):
        close_re, kind = _YAML_CLOSE, "YAML"
    elif m := _TOML_OPEN.match(text):
        close_re, kind = _TOML_CLOSE, "TOML"
    else:
        if text.startswith(("---", "+++")):
            raise PostFileError(
                f"the first line must be exactly '{text[:3]}' (the front matter fence)",
                1,
            )
        stripped = text.lstrip()
        if stripped.startswith(("---", "+++")):
            line = text[: len(text) - len(stripped)].count("\n") + 1
            raise PostFileError(
                "front matter must start on the very first line: remove what comes before '---'",
                line,
            )
        raise PostFileError(
            "no front matter: a post must start with a '---' line, then 'title: ...', then '---' "
            "(without it Jekyll copies the file as is and does not publish a post)"
        )
    fence = text[: m.end() - 1].strip()
    close = close_re.search(text, m.end())
    if close is None:
        raise PostFileError(f"front matter opened with '{fence}' on line 1 is never closed", 1)
    raw = text[m.end() : close.start()]
    if len(raw) > MAX_FRONT_MATTER_CHARS:
        raise PostFileError(
            f"front matter is {len(raw) // 1024} KB, over the {MAX_FRONT_MATTER_CHARS // 1024} KB "
            "limit: long text belongs in the post body",
            1,
        )
    body = text[close.end() + 1 :]
    data = _parse_yaml(raw) if kind == "YAML" else _parse_toml(raw)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        found = "a list" if isinstance(data, list) else f"just {shown(data)!r}"
        raise PostFileError(f"front matter must be 'key: value' lines, found {found}", 2)
    if _deeper_than(data, MAX_FRONT_MATTER_DEPTH):
        raise PostFileError(
            f"front matter nested deeper than {MAX_FRONT_MATTER_DEPTH} levels (lists or tables "
            "inside each other): flatten it"
        )
    return data, body


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
