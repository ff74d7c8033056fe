"""Everything the CLI prints: Rich on a terminal, plain text when piped, JSON on request.

`Renderer` gathers the views by concept: the consoles (`console`), window answers
(`answers`), reports of what a command did (`reports`); `charts` draws series and `text`
turns results into short text. Endpoint text is data: it is shown escaped, never as markup.
"""

from __future__ import annotations

from hitcount.cli.render.answers import AnswerViews, TopFetcher
from hitcount.cli.render.reports import ReportViews
from hitcount.cli.render.text import counted, duration, safe


class Renderer(AnswerViews, ReportViews):
    """Prints results on stdout and diagnostics on stderr."""


__all__ = ["Renderer", "TopFetcher", "counted", "duration", "safe"]
