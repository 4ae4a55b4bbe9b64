"""Values from outside, printed by the CLI exactly as they are.

Rich reads `[...]` in a string as markup: a post titled `[/]` crashes the command
(`MarkupError`), `[link=https://...]` turns text into a link and `[bold red]` restyles the rest,
and `:name:` becomes an emoji. A title, a file name, a platform's reason or an editor's pause
reason is data: it goes into a `Text`, which is never parsed (`markup.escape` inside an f-string
is not enough: whether a trailing backslash must be doubled depends on what follows it), and its
control characters (an ANSI escape would drive the terminal) show as escapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from bot.escaping import escape_controls

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["image_line", "literal", "print_teaser", "warn", "warning_line"]


def literal(value: object, style: str = "", *, multiline: bool = False) -> Text:
    """`value` as a Text (no markup, no emoji codes), controls escaped."""
    return Text(escape_controls(str(value), keep_newlines=multiline), style=style)


def warning_line(message: object) -> Text:
    """``warning: <message>``: something the operator should know, the command carried on."""
    return Text.assemble(("warning:", "bold yellow"), " ", literal(message))


def warn(console: Console, *messages: str) -> None:
    """One ``warning:`` line per message, whole (the terminal wraps it, rich cuts nothing)."""
    for message in messages:
        console.print(warning_line(message), soft_wrap=True)


def image_line(decision: object) -> Text:
    """``image: ...`` under a preview: the photo, or the full reason it failed (wrapped)."""
    from bot.images import ImageFailure
    from bot.platforms.outgoing import image_summary

    failed = isinstance(decision, ImageFailure)
    return Text.assemble(("image:", "bold"), " ",
                         literal(image_summary(decision), "yellow" if failed else "dim"))


def print_teaser(console: Console, title: Text, text: str) -> None:
    """A teaser in a panel when every line fits; else (a narrow terminal, a long URL) under a
    rule, printed whole: a panel's border would fold the URL in pieces nobody can click."""
    from rich.panel import Panel
    from rich.rule import Rule

    body = literal(text, multiline=True)
    if all(console.measure(literal(line)).maximum <= console.width - 4
           for line in body.plain.split("\n")):
        console.print(Panel(body, title=title, title_align="left"))
        return
    console.print(Rule(title, align="left"))
    console.print(body, soft_wrap=True)
