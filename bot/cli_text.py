"""Values from outside, printed by the CLI exactly as they are.

Rich reads `[...]` in a string as markup: a post titled `[/]` crashes the command
(`MarkupError`), `[link=https://...]` turns text into a link and `[bold red]` restyles the rest,
and `:name:` becomes an emoji. A title, a file name, a platform's reason or an editor's pause
reason is data: it goes into a `Text`, which is never parsed (`markup.escape` inside an f-string
is not enough: whether a trailing backslash must be doubled depends on what follows it), and its
control characters (an ANSI escape would drive the terminal) show as escapes.
"""

from __future__ import annotations

from rich.text import Text

from bot.escaping import escape_controls

__all__ = ["literal"]


def literal(value: object, style: str = "", *, multiline: bool = False) -> Text:
    """`value` as a Text (no markup, no emoji codes), controls escaped."""
    return Text(escape_controls(str(value), keep_newlines=multiline), style=style)
