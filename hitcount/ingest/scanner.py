"""Scanners for blocks of plain NDJSON lines, without a JSON decoder.

`scan_block` uses the C scanner (`hitcount.ingest._scan`, built at install when a C compiler is
there): it reads any key order and spacing, and ignores other keys with plain values. Built
without one, it uses the numpy scanner below.

Most big NDJSON files write every line the same way: `{"endpoint": "/a", "ts": 1.5}` or
`{"endpoint": "/a", "ts": 1.5, "user": "u1"}`, keys in that order, the same spacing on every
line. `scan_block` learns the spacing from the first line, then checks every line at once
against it (quote positions, the literal text between them), parses the timestamps from
their digits and groups equal endpoints and users by their bytes. A block with anything
else (an escape, another key order, a number with a sign or an exponent, a line that differs
from the first) gives None, and the caller decodes it with msgspec as before; so the scanner
never changes an answer, it only skips work.
"""

from __future__ import annotations

import os
import re

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from hitcount.ingest.reader import MAX_LINE_BYTES
from hitcount.model.columns import Columns, sorted_distinct
from hitcount.model.hits import (
    EPOCH_MS_THRESHOLD,
    MAX_TS,
    MAX_USER_CHARS,
    BadLine,
    check_endpoint,
    latest_plausible_ts,
)

try:
    from hitcount.ingest import _scan as native
except ImportError:  # installed without a C compiler: the numpy scanner serves
    native = None  # type: ignore[assignment]

_SPACE = rb" *"
_FIRST_LINE = re.compile(
    rb'\{"endpoint"(S:S)"[^"\\]*"(S,S)"ts"(S:S)[0-9.]+(?:(S,S)"user"(S:S)"[^"\\]*")?(S)\}\n'.replace(
        b"S", _SPACE
    )
)
#: Longest endpoint or user (bytes) grouped by the scanner; longer ones go to msgspec.
_MAX_TEXT_BYTES = 256
#: Most digits in a timestamp: below 2^53, so `digits / 10^k` is correctly rounded.
_MAX_DIGITS = 15
_PAD = bytes(_MAX_TEXT_BYTES + 32)  # so that a window from any position stays in the buffer
#: Lines whose distinct texts are grouped first; the rest are looked up among them.
_SAMPLE = 4096
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
#: Seeds the C scanner's hash table (codes do not depend on it; colliding inputs do).
_NATIVE_SEED = int.from_bytes(os.urandom(8), "little")


def native_available() -> bool:
    """Whether the C scanner was built at install (else the numpy scanner serves)."""
    return native is not None


def scan_block(block: bytes, *, users: bool = True) -> Columns | None:
    """Columns for a block of plain NDJSON lines, or None (decode it the careful way).

    With `users=False` the users are only checked (the caller does not need them).
    """
    if native is not None:
        return scan_native(block, users=users)
    return scan_numpy(block, users=users)


def scan_native(block: bytes, *, users: bool = True) -> Columns | None:
    """`scan_block` with the C scanner."""
    latest = min(MAX_TS, latest_plausible_ts())
    found = native.scan(block, users, latest, _NATIVE_SEED)
    if found is None:
        return None
    raw_names, codes, ts, raw_users, user_codes, non_ascii = found
    try:
        if non_ascii:
            block.decode("utf-8")  # a line that is not UTF-8 is a bad line
        names = [name.decode("utf-8") for name in raw_names]
        user_names = None if raw_users is None else [user.decode("utf-8") for user in raw_users]
    except UnicodeDecodeError:
        return None
    return Columns(
        names,
        np.frombuffer(codes, dtype=np.int32),
        np.frombuffer(ts, dtype=np.float64),
        user_names=user_names,
        user_codes=None if user_codes is None else np.frombuffer(user_codes, dtype=np.int32),
    )


def scan_numpy(block: bytes, *, users: bool = True) -> Columns | None:
    """Columns for a block of lines shaped like its first line, or None (numpy scanner).

    With `users=False` the users are only checked (the caller does not need them).
    """
    if not block.endswith(b"\n") or b"\\" in block:
        return None
    first = _FIRST_LINE.match(block, 0, block.find(b"\n") + 1)
    if first is None:
        return None
    buf = np.frombuffer(block + _PAD, dtype=np.uint8)
    ends = np.flatnonzero(buf[: len(block)] == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    if int((ends - starts).max()) > MAX_LINE_BYTES:
        return None
    separators = [group or b"" for group in first.groups()]
    if np.count_nonzero(buf[: len(block)] < 32) != len(ends) or b"\t" in block:
        return None  # a raw control character, or a tab (JSON allows one between tokens)
    with_user = first.group(4) is not None
    quotes = _quotes(buf[: len(block)], starts, 10 if with_user else 6)
    if quotes is None or not _literals_match(buf, quotes, ends, separators):
        return None
    ts_start = quotes[:, 5] + 1 + len(separators[2])
    ts_end = quotes[:, 6] - len(separators[3]) if with_user else ends - len(separators[5]) - 1
    ts = _timestamps(buf, ts_start, ts_end - ts_start)
    endpoints = _group(block, buf, quotes[:, 2] + 1, quotes[:, 3])
    if ts is None or endpoints is None or not _valid_endpoints(endpoints[0]):
        return None
    if not with_user:
        return Columns(endpoints[0], endpoints[1], ts)
    user_bytes = quotes[:, 9] - quotes[:, 8] - 1
    if int(user_bytes.min()) == 0:
        return None  # an empty user names nobody: msgspec's path reads it so
    if not users and block.isascii() and int(user_bytes.max()) <= _MAX_TEXT_BYTES:
        # Every user valid and none wanted; a longer one steps aside as when users are
        # wanted (grouping stops at _MAX_TEXT_BYTES), so both calls agree on the block.
        return Columns(endpoints[0], endpoints[1], ts)
    coded = _group(block, buf, quotes[:, 8] + 1, quotes[:, 9])
    if coded is None or max(map(len, coded[0])) > MAX_USER_CHARS:
        return None
    if not users:
        return Columns(endpoints[0], endpoints[1], ts)
    return Columns(endpoints[0], endpoints[1], ts, user_names=coded[0], user_codes=coded[1])


def _rows(
    buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.intp], width: int
) -> npt.NDArray[np.uint8]:
    """`buf[starts[i] : starts[i] + width]` for each i, as the rows of a copy."""
    return sliding_window_view(buf, width)[starts]


def _quotes(
    buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.intp], per_line: int
) -> npt.NDArray[np.intp] | None:
    """The positions of each line's `per_line` quotes, one row per line, or None."""
    found = np.flatnonzero(buf == 34)
    if len(found) != per_line * len(starts):
        return None
    quotes = found.reshape(len(starts), per_line)
    # Every line's first quote right after its "{": the rows then never straddle lines.
    return quotes if bool(np.all(quotes[:, 0] == starts + 1)) else None


def _literals_match(
    buf: npt.NDArray[np.uint8],
    quotes: npt.NDArray[np.intp],
    ends: npt.NDArray[np.intp],
    separators: list[bytes],
) -> bool:
    """Whether the text around the values is the first line's on every line."""
    s1, s2, s3, s4, s5, s6 = separators
    checks: list[tuple[npt.NDArray[np.intp], bytes]] = [
        (quotes[:, 0] - 1, b'{"endpoint"' + s1 + b'"'),
        (quotes[:, 3], b'"' + s2 + b'"ts"' + s3),
    ]
    if quotes.shape[1] == 10:
        checks.append((quotes[:, 6] - len(s4), s4 + b'"user"' + s5 + b'"'))
        checks.append((quotes[:, 9], b'"' + s6 + b"}\n"))
        if not bool(np.all(quotes[:, 9] + len(s6) + 2 == ends)):
            return False
    else:
        checks.append((ends - len(s6) - 1, s6 + b"}\n"))
    return all(
        bool(np.all(_rows(buf, anchor, len(text)) == np.frombuffer(text, dtype=np.uint8)))
        for anchor, text in checks
    )


def _timestamps(
    buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.intp], lengths: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64] | None:
    """Parse `[0-9]+(.[0-9]+)?` numbers exactly as float() does; None for anything else.

    Each number is read as digits padded with zeros to a common width: `digits / 10^k`
    with both exact in float64 is one correctly rounded division, the same as float().
    """
    if not len(lengths) or int(lengths.min()) < 1:
        return None
    width = int(lengths.max())
    inside = np.arange(width) < lengths[:, None]
    chars = np.where(inside, _rows(buf, starts, width), np.uint8(48))
    dots = chars == 46
    if not bool(np.all(((chars - np.uint8(48)) < 10) | dots)):
        return None
    dot_count = dots.sum(axis=1)
    has_dot = dot_count > 0
    digits = width - 1 if bool(has_dot.all()) else width
    last = chars[np.arange(len(chars)), lengths - 1]
    leading_zero = (chars[:, 0] == 48) & (lengths > 1) & ~dots[:, min(1, width - 1)]
    if (
        digits > _MAX_DIGITS
        or int(dot_count.max()) > 1
        or bool(dots[:, 0].any() or (last == 46).any() or leading_zero.any())
    ):
        return None
    dot_at = np.where(has_dot, np.argmax(dots, axis=1), width)
    decimals = np.where(has_dot, width - 1 - dot_at, width - lengths)
    mantissa = _mantissas(chars, dot_at)
    ts = mantissa / 10.0**decimals
    ts = np.where(ts > EPOCH_MS_THRESHOLD, ts / 1000.0, ts)
    return ts if bool(np.all(ts <= latest_plausible_ts())) else None


def _mantissas(
    chars: npt.NDArray[np.uint8], dot_at: npt.NDArray[np.intp]
) -> npt.NDArray[np.float64]:
    """The digits of each row as one integer (exact: below 2^53), skipping its dot."""
    digits = chars - np.uint8(48)
    mantissa = np.zeros(len(chars), dtype=np.int64)
    if bool(np.all(dot_at == dot_at[0])):  # the usual case: the dot in one column
        for i in range(chars.shape[1]):
            if i != int(dot_at[0]):
                mantissa = mantissa * 10 + digits[:, i]
    else:
        for i in range(chars.shape[1]):
            mantissa = np.where(dot_at == i, mantissa, mantissa * 10 + digits[:, i])
    return mantissa.astype(np.float64)


def _group(
    block: bytes,
    buf: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.intp],
    ends: npt.NDArray[np.intp],
) -> tuple[list[str], npt.NDArray[np.int32]] | None:
    """The distinct texts `block[starts[i]:ends[i]]` in first-seen order, and each one's code."""
    lengths = ends - starts
    width = max(8, -(-int(lengths.max()) // 8) * 8)
    if width > _MAX_TEXT_BYTES:
        return None
    rows = _rows(buf, starts, width) * (np.arange(width) < lengths[:, None])
    words = rows.view(np.uint64)
    hashed = lengths.astype(np.uint64)
    for column in words.T:
        hashed = (hashed ^ column) * _HASH_MULTIPLIER
    table = sorted_distinct(hashed[:_SAMPLE])
    codes = _lookup(table, hashed)
    missing = table[codes] != hashed
    if missing.any():
        table = np.union1d(table, hashed[missing])
        codes = _lookup(table, hashed)
    first = np.full(len(table), len(hashed))
    np.minimum.at(first, codes, np.arange(len(hashed)))
    same = first[codes]  # the first line with the same hash must hold the same bytes
    if not (bool(np.all(lengths == lengths[same])) and bool(np.all(words == words[same]))):
        return None
    order = np.argsort(first)
    code_of = np.empty(len(first), dtype=np.int32)
    code_of[order] = np.arange(len(first), dtype=np.int32)
    spans = zip(starts[first[order]].tolist(), ends[first[order]].tolist(), strict=True)
    try:
        texts = [block[start:end].decode("utf-8") for start, end in spans]
    except UnicodeDecodeError:
        return None
    return texts, code_of[codes]


def _lookup(table: npt.NDArray[np.uint64], hashed: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
    """For each hash, the position of an entry of `table` (its own, when it is there).

    The top bits of the hashes index a direct table when they tell the entries apart (one
    gather instead of a binary search), else `searchsorted`.
    """
    for bits in range(max(4, len(table).bit_length() + 2), 23):
        slots = table >> np.uint64(64 - bits)
        if len(sorted_distinct(slots)) == len(table):
            direct = np.zeros(1 << bits, dtype=np.intp)
            direct[slots] = np.arange(len(table))
            found: npt.NDArray[np.intp] = direct[hashed >> np.uint64(64 - bits)]
            return found
    return np.minimum(np.searchsorted(table, hashed), len(table) - 1)


def _valid_endpoints(names: list[str]) -> bool:
    try:
        for name in names:
            check_endpoint(name)
    except BadLine:
        return False
    return True
