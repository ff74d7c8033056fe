"""Piped lines are written without Rich: the same characters a Rich console prints on a pipe."""

from __future__ import annotations

import io
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.text import Text

from hitcount.cli.render.console import Output, plain_stream
from hitcount.cli.render.rich_parts import PipeConsole, inert
from hitcount.cli.render.text import Styled, safe

PARTS = st.one_of(
    st.text(max_size=40),
    st.builds(Styled, st.text(max_size=40), st.sampled_from(["bold", "dim", "bold red"])),
    st.builds(Text, st.text(max_size=40)),
)


def _as_rich_prints(*parts: str | Styled | Text, stderr: bool = False) -> str:
    """What a piped Rich console of the CLI printed for these parts (the old way)."""
    sink = io.StringIO()
    width = {} if stderr else {"width": 100_000}
    console = PipeConsole(file=sink, highlight=False, soft_wrap=True, **width)  # type: ignore[arg-type]
    console.print(Text.assemble(*(inert(part) for part in parts)))
    return sink.getvalue()


@given(st.lists(PARTS, max_size=4))
def test_a_piped_line_is_what_rich_printed(parts: list[str | Styled | Text]) -> None:
    sink = io.StringIO()
    saved, sys.stdout = sys.stdout, sink
    try:
        Output().line(*parts)
    finally:
        sys.stdout = saved
    assert sink.getvalue() == _as_rich_prints(*parts)


@given(st.text(max_size=60), st.one_of(st.none(), st.text(max_size=30)))
def test_piped_diagnostics_are_what_rich_printed(message: str, hint: str | None) -> None:
    sink = io.StringIO()
    saved, sys.stderr = sys.stderr, sink
    try:
        output = Output()
        output.warn(message)
        output.note(message)
        output.error(message, hint)
    finally:
        sys.stderr = saved
    expected = (
        _as_rich_prints(f"hitcount: warning: {message}", stderr=True)
        + _as_rich_prints(message, stderr=True)
        + _as_rich_prints(f"hitcount: error: {message}", stderr=True)
        + (_as_rich_prints(f"hint: {hint}", stderr=True) if hint else "")
    )
    assert sink.getvalue() == expected


@pytest.mark.parametrize(
    ("environment", "plain"),
    [({}, True), ({"FORCE_COLOR": "1"}, False), ({"FORCE_COLOR": ""}, True),
     ({"TTY_COMPATIBLE": "1"}, False), ({"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}, True)],
)  # fmt: skip
def test_a_pipe_is_plain_unless_the_environment_says_it_is_a_terminal(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], plain: bool
) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert plain_stream(io.StringIO()) is plain
    assert PipeConsole(file=io.StringIO()).is_terminal is not plain  # Rich agrees


def _as_rich_table_prints(columns: list[str], right: set[str], rows: list[list[str]]) -> str:
    """What the CLI printed for a piped table when Rich drew it (the old way)."""
    from hitcount.cli.render.rich_parts import InertTable

    console = PipeConsole(file=io.StringIO(), highlight=False, soft_wrap=True, width=100_000)
    table = InertTable(box=None, show_header=True, header_style="", pad_edge=False)
    for index, column in enumerate(columns):
        if column in right:
            table.add_column(column, justify="right", no_wrap=True)
        elif index == 0:
            table.add_column(column, overflow="ellipsis")
        else:
            table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*row)
    with console.capture() as captured:
        console.print(table)
    return "".join(line.rstrip() + "\n" for line in captured.get().splitlines())


CELLS = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),  # plain ASCII
    st.text(max_size=12),  # anything: wide, combining, control characters (Rich draws those)
)


@st.composite
def _tables(draw: st.DrawFn) -> tuple[list[str], set[str], list[list[str]]]:
    columns = draw(st.lists(CELLS.filter(bool), min_size=1, max_size=6, unique=True))
    right = set(draw(st.lists(st.sampled_from(columns), max_size=len(columns))))
    width = len(columns)
    rows = draw(st.lists(st.lists(CELLS, min_size=width, max_size=width), max_size=6))
    return columns, right, rows


@settings(max_examples=300)
@given(_tables())
@example((["0 "], {"0 "}, []))  # Rich strips a right-justified cell's trailing spaces
@example((["a", "n"], {"n"}, [["x ", "5  "], ["yy", "12"]]))
def test_a_piped_table_is_what_rich_printed(
    table: tuple[list[str], set[str], list[list[str]]],
) -> None:
    columns, right, rows = table
    sink = io.StringIO()
    saved, sys.stdout = sys.stdout, sink
    try:
        output = Output()
        drawn = output.table(*columns, right=tuple(right))
        for row in rows:
            drawn.add_row(*row)
        output.show(drawn)
    finally:
        sys.stdout = saved
    assert sink.getvalue() == _as_rich_table_prints(columns, right, rows)
    cells = [*columns, *(safe(cell) for row in rows for cell in row)]  # cells as shown
    plain = all(c.isascii() and c.isprintable() for c in cells)
    plain = plain and not any("[" in name for name in columns)  # a heading's markup: Rich's
    assert (drawn.plain_lines() is not None) == plain  # then written without Rich
