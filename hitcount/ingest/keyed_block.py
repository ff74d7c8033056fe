"""`--key`, `--where` and `--decode-paths` on the fast path: a block's keys made column-wise.

The C scanner (`_scan.scan_fields`) reads each line of an NDJSON or access-log block as
`scan_lines` does and also codes the values of the fields the keys and filters name
(method, status, host, user, any top-level NDJSON field). The endpoints of each distinct
combination of values are made once, by the rule of the per-line path
(`KeyedParser.endpoints`), and spread to its lines: a filter becomes a mask, a key a code.
Lines the scanner leaves go to the keyed per-line parser, in order, so hits, bad lines'
numbers and reasons, and the lines a filter drops are the per-line path's.
"""

from __future__ import annotations

from typing import Any, TypeGuard

import msgspec
import numpy as np
import numpy.typing as npt

from hitcount.ingest.formats import LineParser
from hitcount.ingest.formats.keyed import Fields, KeyedParser
from hitcount.ingest.lines import _SEED, DecodedBlock, _parse, _split, decode_block
from hitcount.model.columns import Columns
from hitcount.model.hits import BadLine, Hit, latest_plausible_ts

try:
    from hitcount.ingest import _scan as native
except ImportError:  # installed without a C compiler: the per-line path serves
    native = None  # type: ignore[assignment]

#: The C scanner's code of each format whose keys it reads.
_KINDS = {"ndjson": 0, "combined": 1, "common": 1}
#: Fields every line has, read with the hit: not asked of the scanner.
_BASE = frozenset({"path", "ts", "user"})
_ACCESS_BASE = _BASE | {"host", "status_class"}


class _PerLine:
    """A value msgspec refuses: the lines holding it go to the per-line parser."""


_PER_LINE = _PerLine()
Ints = npt.NDArray[np.int64]
#: Outcomes a parser remembers across blocks (one per distinct combination of values).
_MEMO_SIZE = 1 << 17


def keyed_fast(parser: LineParser | None) -> TypeGuard[KeyedParser]:
    """Whether blocks read by `parser` (a `--key`/`--where` parser) take the C scanner."""
    return (
        native is not None
        and isinstance(parser, KeyedParser)
        and parser.name in _KINDS
        and not parser.keying.fields
        and len(_asked(parser)) <= 16
    )


def decode_any_block(
    block: bytes, first: int, parser: LineParser, *, users: bool = True, registers: bool = False
) -> DecodedBlock | None:
    """`decode_block`, keyed when `parser` is a key or filter the C scanner can serve (its
    users are names then, whatever `registers` asks)."""  # noqa: D205, D209
    if isinstance(parser, KeyedParser):
        return decode_keyed_block(block, first, parser, users=users) if keyed_fast(parser) else None
    return decode_block(block, first, parser, users=users, registers=registers)


def _asked(parser: KeyedParser) -> list[str]:
    """The fields to ask the scanner for: those named that the hit does not carry."""
    base = _ACCESS_BASE if parser.name != "ndjson" else _BASE
    return sorted(parser.keying.field_names() - base)


def decode_keyed_block(
    block: bytes, first: int, parser: KeyedParser, *, users: bool = True
) -> DecodedBlock:
    """The block's hits under their keys, its bad lines and its line count."""
    asked = _asked(parser)
    raw_names, codes_b, ts_b, raw_users, user_codes_b, skipped, found = native.scan_fields(
        block, _KINDS[parser.name], True, latest_plausible_ts(), _SEED,
        tuple(name.encode() for name in asked),
    )  # fmt: skip
    codes = np.frombuffer(codes_b, dtype=np.int32)
    ts = np.frombuffer(ts_b, dtype=np.float64)
    user_codes = (
        np.full(len(ts), -1, dtype=np.int32)
        if user_codes_b is None
        else np.frombuffer(user_codes_b, dtype=np.int32)
    )
    table = _Table(
        [name.decode() for name in raw_names],
        [user.decode() for user in raw_users or []],
        parser,
    )
    columns: dict[str, tuple[npt.NDArray[np.int32], list[Any]]] = {
        name: (np.frombuffer(value_codes, dtype=np.int32), table.values(name, values))
        for name, (values, value_codes) in zip(asked, found, strict=True)
    }
    columns.update(_base_columns(parser, table, codes, ts, user_codes))
    read = np.flatnonzero(codes >= 0)
    combos, inverse = _combinations([columns[name][0][read] for name in columns])
    outcomes = [table.outcome(dict(zip(columns, combo, strict=True)), columns) for combo in combos]
    per_line = [i for i, got in enumerate(outcomes) if got is _PER_LINE]
    left = np.frombuffer(skipped, dtype=np.int32).tolist()
    if per_line:
        moved = np.isin(inverse, per_line)
        left = sorted([*left, *read[moved].tolist()])
        read, inverse = read[~moved], inverse[~moved]
    return table.assemble(
        block, first, len(ts), (read, inverse, outcomes), (ts, user_codes), left, users
    )


def _base_columns(
    parser: KeyedParser,
    table: _Table,
    codes: npt.NDArray[np.int32],
    ts: npt.NDArray[np.float64],
    user_codes: npt.NDArray[np.int32],
) -> dict[str, tuple[npt.NDArray[np.int32], list[Any]]]:
    """The named fields every line carries: its path, time, user (access logs: host too)."""
    named = parser.keying.field_names()
    found: dict[str, tuple[npt.NDArray[np.int32], list[Any]]] = {}
    if "path" in named:
        found["path"] = (codes, table.names)
    if "ts" in named:
        stamps, inverse = np.unique(ts, return_inverse=True)
        found["ts"] = (inverse.astype(np.int32), stamps.tolist())
    for name in ("user", "host") if parser.name != "ndjson" else ("user",):
        if name in named:
            found[name] = (user_codes, table.users)
    return found


def _combinations(columns: list[npt.NDArray[np.int32]]) -> tuple[list[tuple[int, ...]], Ints]:
    """The distinct rows of the code columns (-1: absent) and each line's row among them."""
    size = len(columns[0])
    if not size:
        return [], np.zeros(0, dtype=np.int64)
    radices = [int(column.max()) + 2 for column in columns]
    if float(np.prod([float(r) for r in radices])) < 2.0**62:
        ids = np.zeros(size, dtype=np.int64)
        for column, radix in zip(columns, radices, strict=True):
            ids = ids * radix + (column.astype(np.int64) + 1)
        unique, inverse = np.unique(ids, return_inverse=True)
        rows = []
        for value in unique.tolist():
            digits = []
            for radix in reversed(radices):
                value, digit = divmod(value, radix)
                digits.append(digit - 1)
            rows.append(tuple(reversed(digits)))
        return rows, inverse.astype(np.int64)
    stacked = np.stack(columns, axis=1)
    unique_rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return [tuple(row) for row in unique_rows.tolist()], inverse.reshape(-1).astype(np.int64)


Outcome = list[str] | str | _PerLine | None


class _Table:
    """The block's names, values and endpoints, and the parser whose rule makes keys."""

    def __init__(self, names: list[str], users: list[str], parser: KeyedParser) -> None:
        self.names, self.users, self.parser = names, users, parser
        self.endpoints: dict[str, int] = {}
        self.user_index = {user: code for code, user in enumerate(users)}

    def values(self, name: str, raw: list[bytes]) -> list[Any]:
        """The values of field `name` as the per-line parser reads them (`_PER_LINE`: it must)."""
        if self.parser.name == "ndjson":
            return [_json_value(value) for value in raw]
        if name == "status":
            return [int(value) for value in raw]
        return [value.decode("utf-8", "backslashreplace") for value in raw]

    def outcome(self, combo: dict[str, int], columns: dict[str, Any]) -> Outcome:
        """The endpoint codes of lines with these value codes, None (filtered) or a reason."""
        values = {
            name: None if code < 0 else columns[name][1][code] for name, code in combo.items()
        }
        if any(value is _PER_LINE for value in values.values()):
            return _PER_LINE
        memo = self.parser.memo
        key = tuple((type(value), _exact(value)) for value in values.values())
        if key not in memo:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            try:
                memo[key] = self.parser.endpoints(self._fields(values))
            except BadLine as bad:
                memo[key] = bad.reason
        found: Outcome = memo[key]
        return found

    def _fields(self, values: dict[str, Any]) -> dict[str, Any]:
        present = {name: value for name, value in values.items() if value is not None}
        if self.parser.name == "ndjson":
            base = {name: present.pop(name) for name in _BASE if name in present}
            return Fields(present, base)
        if "status" in present:
            present["status_class"] = f"{present['status'] // 100}xx"
        return present

    def code(self, endpoint: str) -> int:
        """The code of an endpoint in this block's columns."""
        return self.endpoints.setdefault(endpoint, len(self.endpoints))

    def assemble(
        self,
        block: bytes,
        first: int,
        count: int,
        scanned: tuple[Ints, Ints, list[Outcome]],
        hits: tuple[npt.NDArray[np.float64], npt.NDArray[np.int32]],
        left: list[int],
        users: bool,
    ) -> DecodedBlock:
        """Columns in line order (a line's keys in template order), and the bad lines."""
        read, inverse, outcomes = scanned
        width = len(self.parser.keying.templates)
        keys = np.full((len(outcomes), width), -1, dtype=np.int32)
        bad: list[tuple[int, str]] = []
        filtered = 0
        for row, got in enumerate(outcomes):
            if isinstance(got, list):
                keys[row, : len(got)] = [self.code(endpoint) for endpoint in got]
        matrix = np.full((count, width), -1, dtype=np.int32)
        all_ts = np.array(hits[0], dtype=np.float64)
        all_users = np.array(hits[1], dtype=np.int32)
        if len(read):
            matrix[read] = keys[inverse]
            kinds = np.array([_kind(got) for got in outcomes], dtype=np.int8)[inverse]
            filtered = int(np.count_nonzero(kinds == 1))
            for at in np.flatnonzero(kinds == 2).tolist():
                bad.append((first + int(read[at]), str(outcomes[int(inverse[at])])))
        self.parser.skipped += filtered
        lines = _split(block) if left else []
        for i in left:
            parsed = _parse(self.parser, lines[i])
            if isinstance(parsed, str):
                bad.append((first + i, parsed))
            elif isinstance(parsed, Hit):
                each = [parsed, *self.parser.also]
                matrix[i, : len(each)] = [self.code(hit.endpoint) for hit in each]
                all_ts[i] = parsed.ts
                user = parsed.user
                all_users[i] = (
                    -1 if user is None else self.user_index.setdefault(user, len(self.user_index))
                )
        flat = matrix.reshape(-1)
        keep = flat >= 0
        codes = flat[keep]
        stamps = np.repeat(all_ts, width)[keep]
        coded = np.repeat(all_users, width)[keep] if users and self.user_index else None
        columns = Columns(
            list(self.endpoints), codes, stamps,
            user_names=list(self.user_index) if coded is not None else None, user_codes=coded,
        )  # fmt: skip
        return DecodedBlock(columns, sorted(bad), count)


def _exact(value: Any) -> Any:
    """A value as a memo key: a float by its bits (so -0.0 is not 0.0), and True is not 1."""
    return value.hex() if isinstance(value, float) else value


def _kind(got: Outcome) -> int:
    return 0 if isinstance(got, list) else 1 if got is None else 2


def _json_value(raw: bytes) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:  # a number msgspec refuses: the per-line parser says why
        return _PER_LINE
