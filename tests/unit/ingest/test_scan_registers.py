"""Users hashed by the C scanner straight from the bytes it reads (`scan_lines` with a
precision, `decode_block(registers=True)`), and its user table under load.

The oracle for a register is hashlib's BLAKE2b of the user the per-line parser reads (its
UTF-8 bytes), as `hll.hash64`; lines the scanner leaves (escapes, odd values) come back
through the per-line parser, hashed after it. Blocks are the drawn lines of `test_lines`.
"""  # noqa: D205

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.ingest import lines as fast
from hitcount.ingest.formats import make_parser
from hitcount.sketches.hll import SPARSE_PRECISION
from tests.unit.ingest.test_lines import access_lines, csv_data, cut, ndjson_lines, oracle
from tests.unit.sketches.test_user_hash import oracle as register_oracle

if fast.native is None:
    pytest.skip("the C extensions are not built (no compiler at install)", allow_module_level=True)

KINDS = {"ndjson": 0, "combined": 1, "common": 1, "csv": 2}
# Users of any code point, written raw or as JSON escapes (those lines go per line).
USERS = st.text(st.characters(codec="utf-8"), max_size=40)


def decoded_with_registers(blocks: list[bytes], fmt: str) -> list[tuple[str, float, int]]:
    """(endpoint, ts, register or -1) of each hit, `decode_block(registers=True)` throughout."""
    parser, found, number = make_parser(fmt), [], 1
    for block in blocks:
        result = fast.decode_block(block, number, parser, registers=True)
        assert result is not None
        columns = result.columns
        table, user_codes = columns.user_registers, columns.user_codes
        if table is None or user_codes is None:  # names: msgspec read a block of escapes
            assert columns.user_registers is None
            registers = [
                -1 if u is None else register_oracle(u, SPARSE_PRECISION)
                for u in columns.user_list()
            ]
        else:
            assert columns.user_names is None and columns.users is None
            registers = [-1 if u < 0 else int(table[u]) for u in user_codes.tolist()]
        for i, code in enumerate(columns.codes.tolist()):
            found.append((columns.names[code], float(columns.ts[i]), registers[i]))
        number += result.lines
    return found


def check(blocks: list[bytes], fmt: str) -> None:
    """The hits of the per-line parser, each user as its register."""
    hits, _ = oracle(blocks, fmt)
    expected = [
        (e, ts, -1 if u is None else register_oracle(u, SPARSE_PRECISION)) for e, ts, u in hits
    ]
    assert decoded_with_registers(blocks, fmt) == expected


@settings(max_examples=300, deadline=None)
@given(
    drawn=st.lists(ndjson_lines(), min_size=1, max_size=12),
    users=st.lists(st.tuples(USERS, st.booleans()), max_size=12),
    points=st.lists(st.integers(0, 20), max_size=3),
)
def test_ndjson_registers_are_the_hashes_of_the_users_the_parser_reads(
    drawn: list[bytes], users: list[tuple[str, bool]], points: list[int]
) -> None:
    more = [
        json.dumps({"endpoint": "/u", "ts": 1_700_000_000 + i, "user": user}, ensure_ascii=ascii)
        for i, (user, ascii) in enumerate(users)
    ]
    data = b"\n".join([*drawn, *(line.encode() for line in more)]) + b"\n"
    check(cut(data, points), "ndjson")


@settings(max_examples=300, deadline=None)
@given(
    drawn=st.lists(access_lines(), min_size=1, max_size=12),
    fmt=st.sampled_from(["combined", "common"]),
)
def test_access_log_registers_are_the_hashes_of_the_hosts(
    drawn: list[tuple[bytes, bool]], fmt: str
) -> None:
    check([b"\n".join(line for line, _ in drawn) + b"\n"], fmt)


@settings(max_examples=300, deadline=None)
@given(drawn=csv_data(), points=st.lists(st.integers(0, 20), max_size=4))
def test_csv_registers_are_the_hashes_of_the_users(drawn: bytes, points: list[int]) -> None:
    check(cut(drawn, points), "csv")


@settings(max_examples=200, deadline=None)
@given(
    users=st.lists(
        st.text(st.characters(codec="utf-8", exclude_categories=["Cc"], exclude_characters=',"\\')),
        min_size=1,
    ),
    precision=st.integers(4, 57),
    fmt=st.sampled_from(["ndjson", "csv"]),
)
def test_scan_lines_hashes_at_any_precision(users: list[str], precision: int, fmt: str) -> None:
    """The registers `scan_lines` gives for the users it read, at the drawn precision."""
    if fmt == "ndjson":
        rows = [
            json.dumps({"endpoint": "/a", "ts": 1_700_000_000, "user": u}, ensure_ascii=False)
            for u in users
        ]
    else:
        rows = [f"/a,1700000000,{u}" for u in users]
    block = ("\n".join(rows) + "\n").encode()
    found = fast.native.scan_lines(block, KINDS[fmt], True, 1e12, 7, 0, 1, 2, precision)
    skipped = set(np.frombuffer(found[5], dtype=np.int32).tolist())
    parser = make_parser(fmt)
    table = np.frombuffer(found[3] or b"", dtype=np.int64)
    user_codes = np.frombuffer(found[4] or bytes(4 * len(rows)), dtype=np.int32)
    if found[4] is None:
        user_codes = np.full(len(rows), -1, dtype=np.int32)
    for i, row in enumerate(rows):
        if i in skipped:
            continue
        hit = parser.parse(row.encode())
        assert hit is not None
        expected = -1 if hit.user is None else register_oracle(hit.user, precision)
        assert (-1 if user_codes[i] < 0 else int(table[user_codes[i]])) == expected


def test_scan_lines_refuses_a_precision_out_of_range() -> None:
    block = b'{"endpoint": "/a", "ts": 1, "user": "u"}\n'
    for precision in (-1, 3, 58):
        with pytest.raises(ValueError, match="precision"):
            fast.native.scan_lines(block, 0, True, 1e12, 7, 0, 1, 2, precision)


def test_many_distinct_users_keep_their_codes() -> None:
    """A block of 60,000 distinct users, each seen twice or more (the table grows many
    times while lookups run ahead of it): every line's code names its own user."""  # noqa: D205, D209
    users = [f"user-{i * 7919 % 60_000:05d}{'x' * (i % 13)}" for i in range(150_000)]
    block = "".join(
        f'{{"endpoint": "/e{i % 9}", "ts": {1_700_000_000 + i}, "user": "{u}"}}\n'
        for i, u in enumerate(users)
    ).encode()
    names, codes, _, raw_users, user_codes, skipped = fast.native.scan_lines(
        block, 0, True, 1e12, 7, 0, 1, 2
    )
    assert not skipped and raw_users is not None and user_codes is not None
    got = [raw_users[c].decode() for c in np.frombuffer(user_codes, dtype=np.int32).tolist()]
    assert got == users
    assert len(raw_users) == len(set(users))
    endpoints = [names[c].decode() for c in np.frombuffer(codes, dtype=np.int32).tolist()]
    assert endpoints == [f"/e{i % 9}" for i in range(len(users))]


def test_long_field_values_differing_late_get_their_own_codes() -> None:
    """`--key` values of 65,535 bytes and more (the length a slot does not hold): equal
    heads and lengths, different tails; values are kept as written (quotes included)."""  # noqa: D205, D209
    long_a, long_b = "a" * 70_000 + "1", "a" * 70_000 + "2"
    edge, below = "a" * 65_533, "a" * 65_532  # 65,535 and 65,534 bytes quoted
    values = [long_a, long_b, long_a, edge, below, edge, below, long_b]
    block = "".join(
        json.dumps({"endpoint": "/a", "ts": 1_700_000_000, "k": v}) + "\n" for v in values
    ).encode()
    found = fast.native.scan_fields(block, 0, True, 1e12, 7, (b"k",))
    ((value_names, value_codes),) = found[6]
    codes = np.frombuffer(value_codes, dtype=np.int32).tolist()
    assert [value_names[c].decode() for c in codes] == [json.dumps(v) for v in values]
    assert len(value_names) == 4


def test_registers_remembered_across_blocks_stay_right() -> None:
    """The scanner remembers users' registers from block to block (a worker reads many
    ranges): more users than it keeps, the same block again, another precision."""  # noqa: D205, D209
    users = [f"u{i * 7919 % 150_000}" for i in range(150_000)]  # more than 2**17 distinct
    block = "".join(
        f'{{"endpoint": "/e", "ts": 1700000000, "user": "{u}"}}\n' for u in users
    ).encode()
    for precision in (SPARSE_PRECISION, SPARSE_PRECISION, 14, SPARSE_PRECISION):
        found = fast.native.scan_lines(block, 0, True, 1e12, 7, 0, 1, 2, precision)
        table = np.frombuffer(found[3], dtype=np.int64)
        codes = np.frombuffer(found[4], dtype=np.int32)
        got = table[codes].tolist()
        assert got == [register_oracle(u, precision) for u in users]
        assert len(set(table.tolist())) <= len(table) == len(set(users))
