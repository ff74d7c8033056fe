"""The consoles the CLI prints on: Rich on a terminal, plain text when piped, JSON on request.

Endpoint text is data: control characters are shown escaped and nothing is read as markup.
Rich is imported only when something needs it (a terminal, a table, a progress bar): a piped
line of text is written as it is, the characters Rich would have printed (start-up time).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from hitcount.cli.render.text import Styled, progress_text, safe
from hitcount.model.inert import json_line, unambiguous

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from hitcount.ingest.progress import ProgressHandler, ReplayProgress

#: Output width when stdout is not a terminal: wide enough that table rows never wrap.
_PIPED_WIDTH = 100_000
#: Replays shorter than this (seconds) draw no progress line.
PROGRESS_AFTER_S = 1.0


class TextTable:
    """A table of text cells, drawn by `Output.show`: as bare columns when piped (the lines
    Rich prints for it, without loading Rich), else as a Rich table."""  # noqa: D205, D209

    def __init__(self, columns: Sequence[str], right: Sequence[str] = ()) -> None:
        """Columns by name; `right` ones are right-justified (numbers)."""
        self.columns = list(columns)
        self.right = set(right)
        self.rows: list[list[str]] = []

    def add_row(self, *cells: str) -> None:
        """One row; every cell is shown escaped (never markup, never a terminal command, and
        two names never alike: `unambiguous`)."""  # noqa: D205, D209
        self.rows.append([unambiguous(cell) for cell in cells])

    def plain_lines(self) -> list[str] | None:
        """The lines of the table as Rich prints it on a pipe (no box, two spaces between
        columns, line ends stripped); None unless every cell is printable ASCII (one cell
        a character), no heading holds markup, and a line fits Rich's piped width."""  # noqa: D205, D209
        grid = [self.columns, *self.rows]
        if not all(cell.isascii() and cell.isprintable() for row in grid for cell in row):
            return None
        if any("[" in name for name in self.columns):  # Rich reads a heading as markup
            return None
        widths = [max(len(row[i]) for row in grid) for i in range(len(self.columns))]
        if sum(widths) + 2 * (len(widths) - 1) > _PIPED_WIDTH:
            return None
        sides = [name in self.right for name in self.columns]
        return [
            "  ".join(
                cell.rstrip().rjust(width) if right else cell.ljust(width)  # as Rich
                for cell, width, right in zip(row, widths, sides, strict=True)
            ).rstrip()
            for row in grid
        ]


def plain_stream(stream: TextIO) -> bool:
    """Whether Rich would print on `stream` as on a pipe (no styles, no cursor moves): not a
    terminal, and neither `TTY_COMPATIBLE=1` nor `FORCE_COLOR` says it is one."""  # noqa: D205, D209
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "0"
    if os.environ.get("FORCE_COLOR") is not None:
        return os.environ["FORCE_COLOR"] == ""
    try:
        return not stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return True


def discard(stream: TextIO) -> None:
    """Point `stream`'s descriptor at /dev/null (its reader has left), so no later write or
    flush fails."""  # noqa: D205, D209
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, stream.fileno())
    os.close(devnull)


def _plain_part(part: str | Styled | Text) -> str:
    if isinstance(part, str):
        return safe(part)
    if isinstance(part, Styled):
        return safe(part.text)
    return safe(part.plain)


class Output:
    """Prints on stdout (results) and stderr (diagnostics); the primitives every view uses."""

    def __init__(self, *, json_output: bool = False, csv_output: bool = False) -> None:
        self.json_output = json_output or csv_output  # CSV is the JSON form, as rows
        self.csv_output = csv_output
        self._out: Console | None = None
        self._err: Console | None = None
        self._stdout_given_away = False
        self._json_stream = sys.stdout
        #: `{"keys": ...}` when the state counts keys, not paths: added to each answer's JSON.
        self.keys: dict[str, str] = {}

    @property
    def out(self) -> Console:
        """The Rich console of results (stdout), made when first asked."""
        if self._out is None:
            if self._stdout_given_away:
                self._out = self.err
            else:
                from hitcount.cli.render.rich_parts import PipeConsole

                self._out = PipeConsole(highlight=False, soft_wrap=True)
                if not self._out.is_terminal:  # piped: never wrap rows for grep and awk
                    self._out = PipeConsole(highlight=False, soft_wrap=True, width=_PIPED_WIDTH)
        return self._out

    @out.setter
    def out(self, console: Console) -> None:
        self._out = console

    @property
    def err(self) -> Console:
        """The Rich console of diagnostics (stderr), made when first asked."""
        if self._err is None:
            from hitcount.cli.render.rich_parts import PipeConsole

            self._err = PipeConsole(stderr=True, highlight=False, soft_wrap=True)
        return self._err

    @err.setter
    def err(self, console: Console) -> None:
        self._err = console

    def draws_live(self) -> bool:
        """Whether a live view is redrawn in place (a terminal, not --json)."""
        return self.on_terminal() and not self.json_output

    def on_terminal(self, stderr: bool = False) -> bool:
        """Whether stdout (or stderr) is a terminal, as Rich sees it (no console made for it)."""
        console, stream = self._target(stderr)
        return bool(console.is_terminal) if console is not None else not plain_stream(stream)

    def _target(self, stderr: bool) -> tuple[Console | None, TextIO]:
        """Where stdout's (or stderr's) lines go: the console made for it, if any, and the
        stream (results go to stderr once stdout is given away)."""  # noqa: D205, D209
        if stderr or self._stdout_given_away:
            return self._err, sys.stderr
        return self._out, sys.stdout

    def give_stdout_away(self) -> None:
        """Stdout carries other data (`--trace-json -`): results go to stderr instead."""
        self._stdout_given_away = True
        self._out = None if self._err is None else self._err
        self._json_stream = sys.stderr

    def _plain(self, stderr: bool) -> TextIO | None:
        """The stream to write a plain line on, when no Rich console is needed for it: none
        made yet (a live view may hold one) and the stream not a terminal."""  # noqa: D205, D209
        console, stream = self._target(stderr)
        return stream if console is None and plain_stream(stream) else None

    def _write_plain(self, stream: TextIO, text: str) -> None:
        stream.write(text + "\n")
        stream.flush()

    def json(self, payload: Any) -> None:
        """One JSON document on stdout (non-finite numbers become null, controls escaped);
        CSV rows with --csv."""  # noqa: D205, D209
        if self.csv_output:
            from hitcount.views.csv_forms import payload_rows  # here: only --csv loads csv

            self.csv(payload_rows(payload))
            return
        self._json_stream.write(json_line(payload) + "\n")
        self._json_stream.flush()

    def csv(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows as CSV on stdout, a header line first."""
        from hitcount.views.csv_forms import csv_text

        self._json_stream.write(csv_text(rows))
        self._json_stream.flush()

    def document(self, data: bytes | str) -> None:
        """A whole document (a snapshot, an HTML page) on stdout, byte for byte."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()

    def line(self, *parts: str | Styled | Text) -> None:
        """One line of plain text (no markup, outside text escaped) on stdout."""
        stream = self._plain(stderr=False)
        if stream is not None:
            self._write_plain(stream, "".join(map(_plain_part, parts)))
            return
        from hitcount.cli.render.rich_parts import inert

        self.out.print(_assembled(inert(part) for part in parts))

    def diagnostic(self, *parts: str | Styled) -> None:
        """One line on stderr (outside text escaped), styled on a terminal."""
        stream = self._plain(stderr=True)
        if stream is not None:
            self._write_plain(stream, "".join(map(_plain_part, parts)))
            return
        from hitcount.cli.render.rich_parts import inert

        self.err.print(_assembled(inert(part) for part in parts))

    def warn(self, message: str) -> None:
        """`hitcount: warning: ...` on stderr."""
        self._aside(Styled(f"hitcount: warning: {message}", "yellow"))

    def note(self, message: str) -> None:
        """A dim informational line on stderr."""
        self._aside(Styled(message, "dim"))

    def _aside(self, line: Styled) -> None:
        """A warning or a note: when stderr's reader has left (`2>&1 | head`), it and every
        later line on stderr go nowhere, and the command goes on (a warning never stops it;
        a trace, the output asked for, does: `diagnostic`)."""  # noqa: D205, D209
        try:
            self.diagnostic(line)
        except BrokenPipeError:
            discard(sys.stderr)

    def error(self, message: str, hint: str | None = None) -> None:
        """`hitcount: error: ...` (and the hint) on stderr."""
        self.diagnostic(Styled(f"hitcount: error: {message}", "bold red"))
        if hint:
            self.diagnostic(Styled(f"hint: {hint}", "dim"))

    def show(self, table: TextTable) -> None:
        """Print a table; when piped, without the padding Rich leaves at line ends."""
        stream = None if self._stdout_given_away else self._plain(stderr=False)
        lines = None if stream is None else table.plain_lines()
        if stream is not None and lines is not None:
            stream.write("".join(line + "\n" for line in lines))
            stream.flush()
            return
        drawn = self.rich_table(table)
        if self.out.is_terminal:
            self.out.print(drawn)
            return
        with self.out.capture() as captured:
            self.out.print(drawn)
        lines = captured.get().splitlines()
        sys.stdout.write("".join(line.rstrip() + "\n" for line in lines))
        sys.stdout.flush()

    def title(self, text: str) -> None:
        """A section title: a rule on a terminal, a plain line when piped."""
        if self.out.is_terminal:
            from rich.text import Text

            self.out.rule(Text(safe(text)), style="dim")
        else:
            self.line(f"== {text}")

    def table(self, *columns: str, right: tuple[str, ...] = ()) -> TextTable:
        """A table to fill and `show`: boxed on a terminal, bare aligned columns when piped;
        `right` columns are right-justified (numbers)."""  # noqa: D205, D209
        return TextTable(columns, right)

    def rich_table(self, text: TextTable) -> Table:
        """`text` as the Rich table `show` draws for it."""
        from rich import box

        from hitcount.cli.render.rich_parts import InertTable

        styled = self.out.is_terminal
        table = InertTable(
            box=box.SIMPLE_HEAD if styled else None,
            show_header=True,
            header_style="bold" if styled else "",
            pad_edge=False,
            named=False,  # `TextTable.add_row` made the cells unambiguous
        )
        for index, column in enumerate(text.columns):
            if column in text.right:  # numbers never wrap
                table.add_column(column, justify="right", no_wrap=True)
            elif index == 0:  # the name gives way first: long ones end in an ellipsis
                table.add_column(column, overflow="ellipsis")
            else:
                table.add_column(column, no_wrap=True)
        for row in text.rows:
            table.add_row(*row)
        return table

    @contextmanager
    def progress(self, verb: str = "replaying") -> Iterator[ProgressHandler]:
        """A progress callback that shows a live line on a terminal's stderr: lines read,
        and when the inputs' size is known a bar, the share read and the time left.

        Nothing is drawn when stderr is not a terminal, nor for runs under a second.
        """  # noqa: D205
        if not self.on_terminal(stderr=True):
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


def _assembled(parts: Iterator[Text]) -> Text:
    from rich.text import Text

    return Text.assemble(*parts)
