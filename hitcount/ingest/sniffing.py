"""Choosing a parser from what an input starts with: the format, and a CSV file's header."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from itertools import islice

from hitcount.errors import InputError
from hitcount.ingest.formats import (
    SNIFF_LINES,
    LineParser,
    format_from_name,
    make_parser,
    sniff_lines,
)
from hitcount.ingest.formats.csv import CsvParser
from hitcount.ingest.reader import iter_blocks, open_input, split_block
from hitcount.ingest.workers import worker_count
from hitcount.model.hits import BadLine
from hitcount.model.positions import is_stream


def parser_for_block(first: int, block: bytes, name: str) -> LineParser | None:
    """The parser for the block's first non-blank lines (None: none), as every path picks it."""
    numbered = split_block(first, block)
    lines = list(islice(((n, x) for n, x in numbered if x is not None and x.strip()), SNIFF_LINES))
    return make_parser(sniff_lines(lines, name)) if lines else None


def parser_for_file(source: str, name: str) -> LineParser | None:
    """The parser for a file's first lines (None: unreadable or blank; the serial path says
    what is wrong)."""  # noqa: D205, D209
    with contextlib.suppress(InputError), open_input(source) as stream:
        for first, block in iter_blocks(stream, name):
            if block is not None and not block.isspace():
                return parser_for_block(first, block, name)
    return None


def csv_header(source: str, name: str) -> tuple[int, int, int | None] | None:
    """A CSV file's columns, from its first lines (None: no clean start)."""
    with contextlib.suppress(InputError), open_input(source) as stream:
        first, block = next(iter_blocks(stream, name), (1, None))
        return csv_columns_of(first, block)
    return None


def csv_columns_of(first: int, block: bytes | None) -> tuple[int, int, int | None] | None:
    """The columns a CSV input's first block (lines from `first`) names (None: unclear)."""
    scratch = CsvParser()
    for _, line in split_block(first, block) if block is not None else ():
        if not scratch.needs_each_line:
            break
        with contextlib.suppress(BadLine):
            scratch.parse(line or b"")  # an over-long line is never parsed
    return None if scratch.needs_each_line else scratch.columns


def needs_slow_scanner_note(sources: Sequence[str], fmt: str | None) -> bool:
    """Whether a big NDJSON file among `sources` meets an install without the C scanner."""
    big = any(
        worker_count(source) and is_ndjson(source, fmt)
        for source in sources
        if not is_stream(source)
    )
    if not big:
        return False
    from hitcount.ingest import scanner  # numpy at import: big files only

    return not scanner.native_available()


def is_ndjson(source: str, fmt: str | None) -> bool:
    """Whether `source` is NDJSON: by `fmt`, by its name, else by its first byte."""
    named = fmt or format_from_name(source)
    if named is not None:
        return named == "ndjson"
    try:
        with open(source, "rb") as handle:
            return handle.read(256).lstrip().startswith(b"{")
    except OSError:
        return False


def past_csv_header(parser: LineParser, source: str, name: str, skip: int) -> None:
    """Show `parser` a CSV file's first line (up to line `skip`) before it resumes after it.

    A CSV header is only ever the first non-blank line: a replay resumed later would never
    see it and would read the columns in the default order. What `parser` makes of the line
    is thrown away (it was counted by the replay that read it).
    """
    with contextlib.suppress(InputError), open_input(source) as stream:
        first, block = next(iter_blocks(stream, name), (1, None))
        for number, line in split_block(first, block) if block is not None else ():
            if number > skip:
                return
            if line is not None and line.strip():
                with contextlib.suppress(BadLine):
                    parser.parse(line)
                return
