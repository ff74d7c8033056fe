"""The timestamps of a `sliding_chunks` row: sorted float64, little-endian, checked on read."""

from __future__ import annotations

import math
import sqlite3
import sys
from array import array
from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise

from hitcount.persist.stores.sqlite_bulk import damaged_row, rows_of


def pack(values: Sequence[float]) -> bytes:
    """A row's `stamps` BLOB of `values`."""
    packed = array("d", values)
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        packed.byteswap()
    return packed.tobytes()


def unpack(blob: bytes) -> array[float]:
    """The timestamps of a `stamps` BLOB (a torn last value is left out: see `checked`)."""
    values = array("d")
    if isinstance(blob, bytes):  # else damaged: no values, which `checked` refuses
        values.frombytes(blob[: len(blob) - len(blob) % 8])
    if sys.byteorder != "little":  # pragma: no cover - big-endian hosts
        values.byteswap()
    return values


def after(times: array[float], since: float) -> array[float]:
    """`times` (sorted) after `since`, and the last one before: a window's chunk holds up to
    `CHUNK` timestamps, most of them older than a short window."""  # noqa: D205, D209
    if not math.isfinite(since):
        return times
    first = max(bisect_right(times, since) - 1, 0)
    return times[first:] if first else times


def checked(endpoint: str, values: array[float], n: int, first: float, last: float) -> array[float]:
    """A chunk's timestamps, refused unless they are what its row says (count, extremes)."""
    if len(values) != n or (n and (values[0] != first or values[-1] != last)):
        raise damaged_row(
            f"damaged sliding_chunks row of {endpoint!r}: its stamps are not the {n} the row says"
        )
    return values


def merged(chunks: list[array[float]]) -> array[float]:
    """One sorted array of an endpoint's chunks (each sorted, maybe overlapping)."""
    if len(chunks) == 1:
        return chunks[0]
    chunks.sort(key=lambda values: values[0] if values else 0.0)
    merged = array("d")
    for values in chunks:
        merged.extend(values)
    ordered = all(a[-1] <= b[0] for a, b in pairwise(chunks) if a and b)
    if not ordered:  # overlapping chunks (late hits appended): each is sorted, not all
        merged = array("d", sorted(merged))
    return merged


def refuse_damaged_chunks(db: sqlite3.Connection, endpoints: list[str] | None) -> None:
    """Refuse the chunks of `endpoints` (None: all) whose row says another size than its
    stamps hold, or a first time after its last, reading no stamps: an append would save a
    state no later command reads, and a read that skips chunks by their `last` would take
    a damaged one for an older one and answer "0 hits (exact)".

    Raises:
        StateError: naming the endpoint and what is wrong.
    """  # noqa: D205
    query = (
        "SELECT endpoint, n, first > last FROM sliding_chunks"
        " WHERE (n < 1 OR length(stamps) != 8 * n OR typeof(stamps) != 'blob' OR first > last)"
    )
    for endpoint, n, disordered in rows_of(db, query, endpoints):
        what = "its first time is after its last" if disordered else (
            f"its stamps are not the {n} the row says")  # fmt: skip
        raise damaged_row(f"damaged sliding_chunks row of {endpoint!r}: {what}")
