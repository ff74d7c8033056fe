"""The Rich pieces the consoles use, imported only when a Rich console is needed."""

from __future__ import annotations

from typing import Any

from rich.console import Console, RenderableType
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

from hitcount.cli.render.text import Styled, safe
from hitcount.model.inert import unambiguous


def inert(part: str | Styled | Text) -> Text:
    """`part` as Rich text that is neither markup nor a terminal command (`safe` applied)."""
    if isinstance(part, str):
        return Text(safe(part))
    if isinstance(part, Styled):
        return Text(safe(part.text), style=part.style)
    cleaned = safe(part.plain)
    return part if cleaned == part.plain else Text(cleaned, style=part.style)


def _named(cell: str | Text) -> str | Text:
    """A table cell with `unambiguous` escapes: two endpoints never look alike."""
    if isinstance(cell, str):
        return unambiguous(cell)
    named = unambiguous(cell.plain)
    return cell if named == cell.plain else Text(named, style=cell.style)


def _as_given(cell: str | Text) -> str | Text:
    return cell


class InertTable(Table):
    """A Rich table whose cells are shown escaped: a string cell is never read as markup.

    `named=False`: the cells are `unambiguous` already (a `TextTable`'s), only made inert.
    """

    def __init__(self, *args: Any, named: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._named = named

    def add_row(
        self,
        *renderables: RenderableType | None,
        style: StyleType | None = None,
        end_section: bool = False,
    ) -> None:
        """Add a row; text cells (`str` or `Text`) are made inert first, and unambiguous."""
        name = _named if self._named else _as_given
        cells = [inert(name(c)) if isinstance(c, str | Text) else c for c in renderables]
        super().add_row(*cells, style=style, end_section=end_section)


class PipeConsole(Console):
    """A Rich console whose closed pipe reaches the CLI's one handler (exit 141).

    Rich's own handling exits 1 on the spot, which reads as a failure of hitcount.
    """

    def on_broken_pipe(self) -> None:
        """Let the `BrokenPipeError` propagate to the command's error handler."""
        self.quiet = True
        raise BrokenPipeError
