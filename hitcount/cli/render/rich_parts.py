"""The Rich pieces the consoles use, imported only when a Rich console is needed."""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

from hitcount.cli.render.text import Styled, safe


def inert(part: str | Styled | Text) -> Text:
    """`part` as Rich text that is neither markup nor a terminal command (`safe` applied)."""
    if isinstance(part, str):
        return Text(safe(part))
    if isinstance(part, Styled):
        return Text(safe(part.text), style=part.style)
    cleaned = safe(part.plain)
    return part if cleaned == part.plain else Text(cleaned, style=part.style)


class InertTable(Table):
    """A Rich table whose cells are shown escaped: a string cell is never read as markup."""

    def add_row(
        self,
        *renderables: RenderableType | None,
        style: StyleType | None = None,
        end_section: bool = False,
    ) -> None:
        """Add a row; text cells (`str` or `Text`) are made inert first."""
        cells = [inert(c) if isinstance(c, str | Text) else c for c in renderables]
        super().add_row(*cells, style=style, end_section=end_section)


class PipeConsole(Console):
    """A Rich console whose closed pipe reaches the CLI's one handler (exit 141).

    Rich's own handling exits 1 on the spot, which reads as a failure of hitcount.
    """

    def on_broken_pipe(self) -> None:
        """Let the `BrokenPipeError` propagate to the command's error handler."""
        self.quiet = True
        raise BrokenPipeError
