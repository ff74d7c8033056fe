"""Piped lines are written without Rich: the same characters a Rich console prints on a pipe."""

from __future__ import annotations

import io
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from hitcount.cli.render.console import Output, plain_stream
from hitcount.cli.render.rich_parts import PipeConsole, inert
from hitcount.cli.render.text import Styled

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
