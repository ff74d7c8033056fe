"""Inputs in time order: rotated logs named on the command line arrive newest first.

The shell sorts `access.log*` as `access.log access.log.1 access.log.2.gz`, newest first;
replayed in that order, every older file would be "too late". `in_time_order` sorts the
inputs by the timestamp of their first hit (a stable sort: inputs without one keep their
place at the end), reading no more than the first `PEEK_LINES` lines of each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import chain, islice

from hitcount.errors import InputError
from hitcount.ingest.formats import (
    SNIFF_LINES,
    LineParser,
    format_from_name,
    make_parser,
    sniff_lines,
)
from hitcount.ingest.reader import iter_lines, open_input
from hitcount.model.hits import BadLine
from hitcount.model.positions import display_name, is_stream

#: Lines read from the start of an input to find its first hit.
PEEK_LINES = 1000


def in_time_order(sources: Sequence[str], fmt: str | None = None) -> list[str]:
    """`sources` sorted by the timestamp of each one's first hit (stdin: as given).

    Raises:
        InputError: an input that cannot be opened or read.
    """
    if len(sources) < 2 or any(is_stream(source) for source in sources):
        return list(sources)
    firsts = {source: first_timestamp(source, fmt) for source in sources}
    return sorted(sources, key=lambda source: firsts[source])


def first_timestamp(source: str, fmt: str | None = None) -> float:
    """The timestamp of the first hit in the first `PEEK_LINES` lines (inf: none there).

    Raises:
        InputError: the input cannot be opened or read.
    """
    name = display_name(source)
    named = fmt or format_from_name(source)
    parser: LineParser | None = make_parser(named) if named else None
    with open_input(source) as stream:
        lines = islice(iter_lines(stream, name), PEEK_LINES)
        head = list(islice(lines, SNIFF_LINES))
        if parser is None:
            try:
                parser = make_parser(sniff_lines(head, name))
            except InputError:  # the replay itself will say so
                return math.inf
        for _, line in chain(head, lines):
            if line is None or not line.strip():
                continue
            try:
                hit = parser.parse(line)
            except BadLine:
                continue
            if hit is not None:
                return hit.ts
    return math.inf
