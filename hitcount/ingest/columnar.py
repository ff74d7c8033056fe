"""The fast path for NDJSON: a whole block of lines decoded at once into columns.

`decode_ndjson_block` turns ~1 MiB of lines into an endpoint table, an array of endpoint
codes and an array of timestamps (float64 epoch seconds), with vectorized checks. It gives
exactly the hits the per-line parser gives; whenever a block holds anything the per-line
parser would have to explain (a bad line, a blank line, an over-long line), it returns None
and the caller parses that block line by line, so bad lines keep their numbers and reasons.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import numpy.typing as npt

from hitcount.ingest.reader import MAX_LINE_BYTES, drop_blank_lines
from hitcount.model.columns import EMPTY_COLUMNS, Columns
from hitcount.model.hits import (
    EPOCH_MS_THRESHOLD,
    MAX_USER_CHARS,
    BadLine,
    check_endpoint,
    epoch_from_value,
    latest_plausible_ts,
)

if TYPE_CHECKING:
    pass


class _Typed(msgspec.Struct, gc=False):
    endpoint: str
    ts: float | None = None
    timestamp: float | None = None
    user: str | int | None = None


class _Loose(msgspec.Struct, gc=False):
    endpoint: Any = None
    ts: Any = None
    timestamp: Any = None
    user: Any = None


_typed = msgspec.json.Decoder(_Typed)
_loose = msgspec.json.Decoder(_Loose)
_get_endpoint = attrgetter("endpoint")
_get_ts = attrgetter("ts")
_get_user = attrgetter("user")
_NUMBERS = frozenset({int, float})


def decode_ndjson_block(block: bytes, *, users: bool = True) -> Columns | None:
    """Columns for a block of NDJSON lines, or None when it must be parsed line by line.

    The numpy scanner reads the common shapes; msgspec decodes what it leaves. With
    `users=False` the columns may leave the (checked) users out.
    """
    from hitcount.ingest.scanner import scan_block

    scanned = scan_block(block, users=users)
    return scanned if scanned is not None else decode_with_msgspec(block)


def ndjson_columns(block: bytes) -> tuple[Columns, int] | None:
    """An NDJSON block's hits without the C scanner, and its blank lines (None: a line
    needs the per-line parser)."""  # noqa: D205, D209
    columns = decode_ndjson_block(block)
    if columns is not None:
        return columns, 0
    dense, blank = drop_blank_lines(block)
    if not blank:
        return None
    columns = decode_ndjson_block(dense) if dense else EMPTY_COLUMNS
    return None if columns is None else (columns, blank)


def decode_with_msgspec(block: bytes) -> Columns | None:
    """`decode_ndjson_block` without the scanner: msgspec decodes the lines."""
    lines = _line_count(block)
    if lines is None:
        return None
    records = _decode(block)
    if records is None or len(records) != lines:  # blank lines are skipped by decode_lines
        return None
    raw_ts = list(map(_get_ts, records))
    if None in raw_ts:
        raw_ts = [r.ts if r.ts is not None else r.timestamp for r in records]
    ts = _timestamps(raw_ts)
    if ts is None:
        return None
    users = _checked_users(list(map(_get_user, records)))
    if isinstance(users, bool):
        return None
    endpoints = list(map(_get_endpoint, records))
    columns = _encode_endpoints(endpoints, ts)
    if columns is None or users is None:
        return columns
    return Columns(columns.names, columns.codes, columns.ts, users=users)


def _checked_users(users: list[Any]) -> list[str | None] | bool | None:
    """The users as the per-line parser gives them (integers as text).

    None when no line has a user, False when one breaks the rules (not a string or an
    integer, or too long).
    """
    kinds = set(map(type, users))
    if kinds <= {type(None)}:
        return None
    if not kinds <= {str, int, type(None)}:
        return False
    if kinds == {str} and "" not in users:
        return users if max(map(len, users)) <= MAX_USER_CHARS else False
    text = [None if user is None or user == "" else str(user) for user in users]  # "": nobody
    lengths = [len(user) for user in text if user is not None]
    if not lengths:
        return None
    return text if max(lengths) <= MAX_USER_CHARS else False


def _line_count(block: bytes) -> int | None:
    """Number of lines, or None when one is longer than the per-line path accepts."""
    newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
    ends = newlines if block.endswith(b"\n") else np.append(newlines, len(block))
    if not len(ends):
        return None
    longest = int(np.max(np.diff(ends, prepend=-1))) - 1
    return len(ends) if longest <= MAX_LINE_BYTES else None


def _decode(block: bytes) -> list[Any] | None:
    for decoder in (_typed, _loose):
        try:
            return decoder.decode_lines(block)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
            continue
        except RecursionError:  # a value nested too deeply: the per-line parser says where
            return None
    return None


def _timestamps(raw: list[Any]) -> npt.NDArray[np.float64] | None:
    if set(map(type, raw)) <= _NUMBERS:
        try:
            ts = np.array(raw, dtype=np.float64)
        except OverflowError:
            return None
        ts = np.where(ts > EPOCH_MS_THRESHOLD, ts / 1000.0, ts)
    else:
        try:
            ts = np.array([epoch_from_value(value) for value in raw], dtype=np.float64)
        except (BadLine, OverflowError):
            return None
    if not bool(np.all((ts >= 0) & (ts <= latest_plausible_ts()))):  # also false for NaN
        return None
    return ts


def _encode_endpoints(endpoints: list[Any], ts: npt.NDArray[np.float64]) -> Columns | None:
    try:
        # First-seen order, not set order: endpoints then reach the strategy in an order that
        # does not depend on string hashing (Morris draws from one seeded stream).
        distinct = dict.fromkeys(endpoints)
        for endpoint in distinct:
            check_endpoint(endpoint)
    except (BadLine, TypeError):
        return None
    names = list(distinct)
    index = {name: code for code, name in enumerate(names)}
    codes = np.fromiter(map(index.__getitem__, endpoints), dtype=np.int32, count=len(endpoints))
    return Columns(names, codes, ts)
