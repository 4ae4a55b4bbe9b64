"""Any value prints as typed, beside our own styles or as a table cell."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot.cli.text import literal
from bot.escaping import escape_controls

# Markup-ish pieces mixed into arbitrary text, so the search meets real tags often.
_PIECES = st.sampled_from(["[", "]", "[/]", "[b]", "[/b]", "[link=https://e.x]", "\\", ":fire:",
                           "[bold red]", "[@click=app.quit]", "\x1b[2J", "\n", "\u2028", " "])
_TEXT = st.lists(_PIECES | st.text(max_size=5), max_size=12).map("".join)


def _render(renderable: object) -> str:
    out = io.StringIO()
    console = Console(file=out, width=10_000, emoji=False, color_system=None, soft_wrap=True)
    console.print(renderable, highlight=False)
    return out.getvalue().removesuffix("\n")


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_a_value_beside_our_styles_prints_as_typed(value: str) -> None:
    line = Text.assemble(("note:", "bold"), " ", literal(value, "red"), ("[/]", "dim"))
    assert _render(line) == "note: " + escape_controls(value) + "[/]"


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_a_value_as_a_table_cell_prints_as_typed(value: str) -> None:
    assert _render(literal(value)) == escape_controls(value)
    table = Table.grid()
    table.add_row(literal(value))
    assert _render(table).rstrip() == escape_controls(value).rstrip()
