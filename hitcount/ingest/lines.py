"""A block of lines of any format decoded at once: the C scanner, then the per-line parser.

`decode_block` hands a block to the C scanner (`_scan.scan_lines`), which reads the lines it
can read exactly as the format's per-line parser would (NDJSON of any shape, common and
combined access logs, CSV) and lists the others. Those go to the per-line parser, in order,
so every hit, every bad line's number and reason, and a CSV parser's state (its header, a
quoted field left open) come out as the per-line path gives them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from hitcount.ingest.formats import LineParser
from hitcount.ingest.reader import MAX_LINE_BYTES
from hitcount.model.columns import Columns
from hitcount.model.hits import BadLine, Hit, latest_plausible_ts
from hitcount.sketches.hll import SPARSE_PRECISION
from hitcount.sketches.registers import user_registers

try:
    from hitcount.ingest import _scan as native
except ImportError:  # installed without a C compiler: the per-line path serves
    native = None  # type: ignore[assignment]

#: The C scanner's code for each format it reads.
_KINDS = {"ndjson": 0, "combined": 1, "common": 1, "csv": 2}
#: Seeds the C scanner's hash table (codes do not depend on it; colliding inputs do).
_SEED = int.from_bytes(os.urandom(8), "little")
#: A line the per-line parser read: a hit, nothing (blank, header) or a bad line's reason.
Outcome = Hit | str | None


@dataclass(frozen=True, slots=True)
class DecodedBlock:
    """The hits of a block as columns, its bad lines `(number, reason)`, and its lines."""

    columns: Columns
    bad: list[tuple[int, str]]
    lines: int


def fast_format(name: str) -> bool:
    """Whether blocks of format `name` take the C scanner."""
    return native is not None and name in _KINDS


def decode_block(
    block: bytes, first: int, parser: LineParser, *, users: bool = True, registers: bool = False
) -> DecodedBlock | None:
    """The block's hits, bad lines and line count; None when no C scanner reads its format.

    `first` is the number of the block's first line; `parser` reads the lines the scanner
    leaves, and keeps its state (a CSV header) as if it had read every line. With
    `registers`, the users come as HLL registers (`Columns.user_registers`), not names.
    """
    kind = _KINDS.get(parser.name)
    if native is None or kind is None:
        return None
    lines = _split(block) if getattr(parser, "needs_each_line", False) else []
    outcomes: dict[int, Outcome] = {}
    start = _each_line(parser, lines, 0, outcomes)
    offset = sum(len(line) + 1 for line in lines[:start]) if start else 0
    endpoint_col, ts_col, user_col = getattr(parser, "columns", (0, 1, 2))
    raw_names, codes, ts, raw_users, user_codes, skipped = native.scan_lines(
        memoryview(block)[offset:], kind, users, latest_plausible_ts(), _SEED,
        endpoint_col, ts_col, -1 if user_col is None else user_col,
        SPARSE_PRECISION if registers else 0,
    )  # fmt: skip
    names = [name.decode() for name in raw_names]
    user_table = _user_table(raw_users)
    count = start + len(ts) // 8
    if not skipped and not outcomes:  # every line read by the scanner: the usual block
        coded = None if user_codes is None else np.frombuffer(user_codes, dtype=np.int32)
        found = Columns(names, np.frombuffer(codes, dtype=np.int32),
                        np.frombuffer(ts, dtype=np.float64), user_codes=coded,
                        **_user_fields(user_table))  # fmt: skip
        return DecodedBlock(found, [], count)
    left = np.frombuffer(skipped, dtype=np.int32).tolist()
    if kind == 0 and not start and len(left) * 8 > count:  # escapes, say: msgspec
        from hitcount.ingest.columnar import decode_with_msgspec

        whole = decode_with_msgspec(block)
        if whole is not None:
            return DecodedBlock(whole if users else replace(whole, users=None), [], count)
    lines = lines or _split(block)
    for index in left:
        if index + start not in outcomes:
            outcomes[index + start] = _parse(parser, lines[index + start])
            _each_line(parser, lines, index + start + 1, outcomes)
    columns = _assemble(
        start, count, names, np.frombuffer(codes, dtype=np.int32),
        np.frombuffer(ts, dtype=np.float64), user_table,
        None if user_codes is None else np.frombuffer(user_codes, dtype=np.int32),
        outcomes, users,
    )  # fmt: skip
    bad = [(first + i, o) for i, o in sorted(outcomes.items()) if isinstance(o, str)]
    return DecodedBlock(columns, bad, count)


#: The scanner's users: their names, or their HLL registers (int64 `index << 6 | rank`).
UserTable = list[str] | npt.NDArray[np.int64] | None


def _user_table(raw: list[bytes] | bytes | None) -> UserTable:
    """The users as `scan_lines` gave them: names decoded, or registers as an array."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        return np.frombuffer(raw, dtype=np.int64)
    return [user.decode() for user in raw]


def _user_fields(table: UserTable) -> dict[str, Any]:
    """The `Columns` field that carries the users of `table`."""
    if isinstance(table, np.ndarray):
        return {"user_registers": table}
    return {"user_names": table}


def _split(block: bytes) -> list[bytes]:
    """The lines of a block as `reader.split_block` cuts them, carriage returns kept."""
    lines = block.split(b"\n")
    if block.endswith(b"\n") or not block:
        lines.pop()
    return lines


def _each_line(parser: LineParser, lines: list[bytes], at: int, out: dict[int, Outcome]) -> int:
    """Parse lines from `at` while the parser asks to see each one; the next line's index."""
    while at < len(lines) and getattr(parser, "needs_each_line", False):
        out[at] = _parse(parser, lines[at])
        at += 1
    return at


def _parse(parser: LineParser, line: bytes) -> Outcome:
    """What the per-line path makes of one line (as `reader.split_block` gives it)."""
    if len(line) > MAX_LINE_BYTES:
        return f"line longer than {MAX_LINE_BYTES} bytes"
    try:
        return parser.parse(line[:-1] if line.endswith(b"\r") else line)
    except BadLine as bad:
        return bad.reason


def _assemble(
    start: int,
    count: int,
    names: list[str],
    codes: npt.NDArray[np.int32],
    ts: npt.NDArray[np.float64],
    user_table: UserTable,
    user_codes: npt.NDArray[np.int32] | None,
    outcomes: dict[int, Outcome],
    users: bool,
) -> Columns:
    """The scanner's columns with the per-line parser's hits put in their places.

    Users the per-line parser read follow the scanner's (as registers, when those are).
    """
    all_codes = np.full(count, -1, dtype=np.int32)
    all_ts = np.zeros(count, dtype=np.float64)
    all_codes[start:] = codes
    all_ts[start:] = ts
    all_users = np.full(count, -1, dtype=np.int32) if users else None
    if all_users is not None and user_codes is not None:
        all_users[start:] = user_codes
    index = {name: code for code, name in enumerate(names)}
    hashed = isinstance(user_table, np.ndarray)
    user_index = {} if hashed else {name: code for code, name in enumerate(user_table or [])}
    offset = len(user_table) if isinstance(user_table, np.ndarray) else 0
    for i, outcome in outcomes.items():
        all_codes[i] = -1
        if isinstance(outcome, Hit):
            all_codes[i] = index.setdefault(outcome.endpoint, len(index))
            all_ts[i] = outcome.ts
            if all_users is not None and outcome.user is not None:
                all_users[i] = user_index.setdefault(outcome.user, offset + len(user_index))
    keep = all_codes >= 0
    kept_users = None if all_users is None or not offset + len(user_index) else all_users[keep]
    fields: dict[str, Any] = {}
    if kept_users is not None:
        fields = _user_fields(
            np.concatenate((user_table, user_registers(list(user_index), SPARSE_PRECISION)))
            if isinstance(user_table, np.ndarray)
            else list(user_index)
        )
    return Columns(list(index), all_codes[keep], all_ts[keep], user_codes=kept_users, **fields)
