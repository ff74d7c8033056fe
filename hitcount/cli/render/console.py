"""The consoles the CLI prints on: Rich on a terminal, plain text when piped, JSON on request.

Endpoint text is data: control characters are shown escaped and nothing is read as markup.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.text import Text

from hitcount.cli.render.text import inert, progress_text, safe
from hitcount.ingest.progress import ProgressHandler, ReplayProgress
from hitcount.model.inert import json_line
from hitcount.views.csv_forms import csv_text, payload_rows

# Start-up: a one-line answer needs neither tables nor progress bars; they load when drawn.
if TYPE_CHECKING:
    from rich.table import Table

#: Output width when stdout is not a terminal: wide enough that table rows never wrap.
_PIPED_WIDTH = 100_000
#: Replays shorter than this (seconds) draw no progress line.
PROGRESS_AFTER_S = 1.0


class PipeConsole(Console):
    """A Rich console whose closed pipe reaches the CLI's one handler (exit 141).

    Rich's own handling exits 1 on the spot, which reads as a failure of hitcount.
    """

    def on_broken_pipe(self) -> None:
        """Let the `BrokenPipeError` propagate to the command's error handler."""
        self.quiet = True
        raise BrokenPipeError


class Output:
    """Prints on stdout (results) and stderr (diagnostics); the primitives every view uses."""

    def __init__(self, *, json_output: bool = False, csv_output: bool = False) -> None:
        self.json_output = json_output or csv_output  # CSV is the JSON form, as rows
        self.csv_output = csv_output
        self.out = PipeConsole(highlight=False, soft_wrap=True)
        if not self.out.is_terminal:  # piped: never wrap rows for grep and awk
            self.out = PipeConsole(highlight=False, soft_wrap=True, width=_PIPED_WIDTH)
        self.err = PipeConsole(stderr=True, highlight=False, soft_wrap=True)
        self._json_stream = sys.stdout
        #: `{"keys": ...}` when the state counts keys, not paths: added to each answer's JSON.
        self.keys: dict[str, str] = {}

    def give_stdout_away(self) -> None:
        """Stdout carries other data (`--trace-json -`): results go to stderr instead."""
        self.out = self.err
        self._json_stream = sys.stderr

    def json(self, payload: Any) -> None:
        """One JSON document on stdout (non-finite numbers become null, controls escaped);
        CSV rows with --csv."""  # noqa: D205, D209
        if self.csv_output:
            self.csv(payload_rows(payload))
            return
        self._json_stream.write(json_line(payload) + "\n")
        self._json_stream.flush()

    def csv(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows as CSV on stdout, a header line first."""
        self._json_stream.write(csv_text(rows))
        self._json_stream.flush()

    def document(self, data: bytes | str) -> None:
        """A whole document (a snapshot, an HTML page) on stdout, byte for byte."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()

    def line(self, *parts: str | Text) -> None:
        """One line of plain text (no markup, outside text escaped) on stdout."""
        self.out.print(Text.assemble(*(inert(part) for part in parts)))

    def warn(self, message: str) -> None:
        """`hitcount: warning: ...` on stderr."""
        self.err.print(Text(f"hitcount: warning: {safe(message)}", style="yellow"))

    def note(self, message: str) -> None:
        """A dim informational line on stderr."""
        self.err.print(Text(safe(message), style="dim"))

    def error(self, message: str, hint: str | None = None) -> None:
        """`hitcount: error: ...` (and the hint) on stderr."""
        self.err.print(Text(f"hitcount: error: {safe(message)}", style="bold red"))
        if hint:
            self.err.print(Text(f"hint: {safe(hint)}", style="dim"))

    def show(self, table: Table) -> None:
        """Print a table; when piped, without the padding Rich leaves at line ends."""
        if self.out.is_terminal:
            self.out.print(table)
            return
        with self.out.capture() as captured:
            self.out.print(table)
        lines = captured.get().splitlines()
        sys.stdout.write("".join(line.rstrip() + "\n" for line in lines))
        sys.stdout.flush()

    def title(self, text: str) -> None:
        """A section title: a rule on a terminal, a plain line when piped."""
        if self.out.is_terminal:
            self.out.rule(Text(safe(text)), style="dim")
        else:
            self.line(f"== {text}")

    def table(self, *columns: str, right: tuple[str, ...] = ()) -> Table:
        """A table: boxed on a terminal, bare aligned columns when piped; `right` columns are
        right-justified (numbers)."""  # noqa: D205, D209
        from rich import box

        from hitcount.cli.render.tables import InertTable

        styled = self.out.is_terminal
        table = InertTable(
            box=box.SIMPLE_HEAD if styled else None,
            show_header=True,
            header_style="bold" if styled else "",
            pad_edge=False,
        )
        for index, column in enumerate(columns):
            if column in right:  # numbers never wrap
                table.add_column(column, justify="right", no_wrap=True)
            elif index == 0:  # the name gives way first: long ones end in an ellipsis
                table.add_column(column, overflow="ellipsis")
            else:
                table.add_column(column, no_wrap=True)
        return table

    @contextmanager
    def progress(self, verb: str = "replaying") -> Iterator[ProgressHandler]:
        """A progress callback that shows a live line on a terminal's stderr: lines read,
        and when the inputs' size is known a bar, the share read and the time left.

        Nothing is drawn when stderr is not a terminal, nor for runs under a second.
        """  # noqa: D205
        if not self.err.is_terminal:
            yield lambda progress: None
            return
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

        started = time.monotonic()
        bar = Progress(
            SpinnerColumn(),
            BarColumn(bar_width=20),
            TextColumn("{task.fields[text]}"),
            console=self.err,
            transient=True,
        )
        task = bar.add_task(verb, total=None, text="")

        def update(progress: ReplayProgress) -> None:
            elapsed = time.monotonic() - started
            if elapsed > PROGRESS_AFTER_S and not bar.live.is_started:
                bar.start()
            bar.update(
                task,
                total=progress.total_bytes,
                completed=progress.done_bytes,
                text=progress_text(verb, progress, elapsed),
            )

        try:
            yield update
        finally:
            bar.stop()
