"""Whether a replay's input can go to worker processes, and how they should decode it.

`range_options` holds the rules every parallel path shares (files in ranges, gzip and stdin
as a stream of blocks); `read_ahead` lets stdin, whose size nobody knows, start on this
core and move to the workers once it proves big.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from hitcount.engine import HitCounter
from hitcount.ingest.formats import LineParser
from hitcount.model.keys import Keying

if TYPE_CHECKING:
    from hitcount.ingest.parallel import RangeOptions

#: Formats whose input workers decode (CSV: its header read first).
PARALLEL_FORMATS = frozenset({"ndjson", "combined", "common", "csv"})

Block = tuple[int, bytes | None]
CsvColumns = tuple[int, int, int | None]


def range_options(
    counter: HitCounter,
    parser: LineParser | None,
    keying: Keying | None,
    csv_columns: Callable[[], CsvColumns | None],
) -> RangeOptions | None:
    """How workers decode input read by `parser`; None when they cannot.

    They cannot when no parser is known yet, for a format without a C scanner, for a key or
    filter the scanner cannot read, when per-hit events need each hit's user as text, or for
    CSV without a clean start (`csv_columns` is asked only for CSV).
    """
    if parser is None or parser.name not in PARALLEL_FORMATS or counter.wants_each_hit():
        return None
    from hitcount.ingest import parallel  # numpy at import: big inputs only
    from hitcount.ingest.keyed_block import keyed_fast
    from hitcount.ingest.lines import fast_format

    if keying is not None and not keyed_fast(parser):
        return None  # a key or filter the C scanner cannot read: line by line
    if parser.name != "ndjson" and not fast_format(parser.name):
        return None  # no C scanner: only NDJSON has a bulk decoder
    columns = csv_columns() if parser.name == "csv" else None
    if parser.name == "csv" and columns is None:
        return None
    tracker = counter.distinct
    return parallel.RangeOptions(
        precision=tracker.precision if tracker is not None else 0,
        bucket_s=tracker.bucket_s if tracker is not None else 60.0,
        group=counter.strategy.groups_batches(),
        fmt=parser.name,
        csv_columns=columns,
        keying=keying,
        reducer=counter.strategy.reducer() if counter.max_endpoints is None else None,
    )


def read_ahead(blocks: Iterator[Block], limit: int) -> tuple[list[Block], bool]:
    """The first blocks of `blocks`, up to `limit` bytes, and whether they are all of it."""
    head: list[Block] = []
    size = 0
    for block in blocks:
        head.append(block)
        size += len(block[1] or b"")
        if size >= limit:
            return head, False
    return head, True
