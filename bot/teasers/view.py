"""What a teaser template sees of a post: plain data built for it, nothing that reaches the system.

Templates are files anyone with access to TEMPLATES_DIR can edit, and they used to get the `Post`
object itself, whose `path` is a real `pathlib.Path`:
`{{ post.path.joinpath('/proc/self/environ').read_bytes() }}` printed the bot token. So a
template gets copies instead: strings, numbers, booleans, None, dates, lists and dicts, built here
from the post's fields and its front matter. The sandbox (`bot.teasers.sandbox`) then allows only
harmless attributes of exactly these types.

Front matter is YAML or TOML from a post file, which is hostile too: anchors and aliases can
describe an exponentially large or a cyclic value in a few lines. The copy expands aliases (the
template gets a tree, never shared or self-referencing data), and stops with a reason beyond
`MAX_FRONT_MATTER_ITEMS` values or `MAX_NESTING` levels.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Final

from bot.posts import Post

__all__ = [
    "MAX_FRONT_MATTER_ITEMS", "MAX_NESTING", "FrontMatterTooLarge", "plain_copy", "post_view",
]

MAX_FRONT_MATTER_ITEMS: Final = 100_000
MAX_NESTING: Final = 100


class FrontMatterTooLarge(ValueError):
    """The post's front matter cannot be handed to a template (too many values, too deep)."""


def post_view(post: Post) -> dict[str, object]:
    """`post` as a template sees it. The source file's absolute path is left out on purpose: a
    template has no use for the server's layout; `rel_path` names the file within the site."""
    return {
        "id": post.id,
        "url": post.url,
        "title": post.title,
        "slug": post.slug,
        "date": _plain_date(post.date),
        "categories": list(post.categories),
        "tags": list(post.tags),
        "excerpt": post.excerpt,
        "image": post.image,
        "image_alt": post.image_alt,
        "published": post.published,
        "social": post.social,
        "telegram_text": post.telegram_text,
        "x_text": post.x_text,
        "rel_path": post.rel_path,
        "extra": plain_copy(post.extra),
    }


def plain_copy(value: object) -> object:
    """A deep copy of front-matter data made only of plain types; see the module docstring."""
    budget = [MAX_FRONT_MATTER_ITEMS]
    return _copy(value, budget, 0)


def _copy(value: object, budget: list[int], depth: int) -> object:
    budget[0] -= 1
    if budget[0] < 0:
        raise FrontMatterTooLarge(
            f"front matter holds more than {MAX_FRONT_MATTER_ITEMS} values (YAML aliases count "
            "once per use)"
        )
    if value is None or isinstance(value, bool):
        return value
    # The exact built-in types (a subclass could carry methods the sandbox does not know).
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, date | time | timedelta):
        return _plain_date(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dict | list | tuple | set | frozenset):
        if depth >= MAX_NESTING:
            raise FrontMatterTooLarge(f"front matter nested deeper than {MAX_NESTING} levels")
        if isinstance(value, dict):
            return {_key(k): _copy(v, budget, depth + 1) for k, v in value.items()}
        return [_copy(v, budget, depth + 1) for v in value]
    return str(value)  # anything else a loader may produce: its text, never the object


def _key(key: object) -> object:
    if key is None or isinstance(key, bool | int | float | str):
        return _copy(key, [1], 0)
    if isinstance(key, date | time):
        return _plain_date(key)
    return str(key)


def _plain_date(value: date | time | timedelta) -> date | time | timedelta:
    """The exact built-in type (a subclass could carry methods the sandbox does not know)."""
    if isinstance(value, datetime):
        return datetime(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, tzinfo=value.tzinfo, fold=value.fold,
        )
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    if isinstance(value, time):
        return time(
            value.hour, value.minute, value.second, value.microsecond, tzinfo=value.tzinfo,
            fold=value.fold,
        )
    return timedelta(days=value.days, seconds=value.seconds, microseconds=value.microseconds)
