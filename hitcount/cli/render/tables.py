"""Rich tables whose cells are inert; kept apart so that a one-line answer never loads them."""

from __future__ import annotations

from rich.console import RenderableType
from rich.style import StyleType
from rich.table import Table
from rich.text import Text

from hitcount.cli.render.text import inert


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
