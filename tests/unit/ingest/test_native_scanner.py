"""The C scanner reads a block as the per-line NDJSON parser reads its lines, or steps aside.

The oracle is `NdjsonParser.parse`, line by line: whenever the scanner returns columns, every
line must parse and give the same endpoint, the same timestamp bit for bit and the same user.
Lines drawn only from plain values must be taken (not stepped aside from), or the fast path
would silently stop serving.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.ingest.formats.ndjson import NdjsonParser
from hitcount.ingest.scanner import native, scan_block, scan_native
from hitcount.model.hits import BadLine
from hitcount.sketches.hll import SPARSE_PRECISION
from hitcount.sketches.registers import native as native_reduce

if native is None or native_reduce is None:
    if os.environ.get("CI") == "true":
        pytest.fail("the C extensions are not built: install a C compiler and reinstall")
    pytest.skip("the C extensions are not built (no compiler at install)", allow_module_level=True)

PLAIN_ENDPOINTS = st.sampled_from(["/a", "/api/users/7", "/é", "/b c", "/" + "x" * 300, "/😀"])
ODD_ENDPOINTS = st.sampled_from(
    ['"/tab\there"', '""', r'"/q\"x"', r'"/u\u00e9"', "7", "null", '"/' + "x" * 5000 + '"']
)
PLAIN_TS = st.one_of(
    st.floats(min_value=1e9, max_value=1.8e9).map(repr),  # time.time(): up to 17 digits
    st.floats(min_value=0, max_value=1.8e9).map(lambda ts: repr(round(ts, 3))),
    (st.integers(0, 18 * 10**8) | st.integers(10**11 + 1, 18 * 10**11)).map(str),
    st.integers(0, 9)
    .flatmap(lambda p: st.decimals(0, 10**8, places=p))
    .map(lambda d: format(d, "f")),
)
ODD_TS = st.sampled_from(
    ["017", "1.", ".5", "-1", "1e9", "1.5E3", "99999999999999999999", "1795737600.3570000001",
     '"1795737600"', '"2026-11-27T10:00:00Z"', "null", "true", "[1]", "1" * 30, "3e11", "0",
     "1999999999"]
)  # fmt: skip
PLAIN_USERS = st.sampled_from(['"u1"', '"ü"', '"8"', '""', "null", '"' + "y" * 1024 + '"'])
ODD_USERS = st.sampled_from(["7", "true", '"' + "y" * 1025 + '"', '"a\\nb"', "{}", "1.5"])
PLAIN_EXTRA = st.sampled_from(['"GET"', "200", "-3.5e2", "true", "false", "null", '"ä"', "0"])
ODD_EXTRA = st.sampled_from(["{}", "[1, 2]", '"a\\"b"', "01", "1.", "nul", '"\x01"', "+1"])
SPACES = st.sampled_from(["", " ", "  ", "\t"])


@st.composite
def lines(draw: st.DrawFn, plain: bool) -> bytes:
    """One line: drawn keys in a drawn order, drawn spacing, plain or odd values."""
    values: dict[str, str] = {"endpoint": draw(PLAIN_ENDPOINTS).join('""')}
    ts_key = draw(st.sampled_from(["ts", "timestamp", "both"]))
    for key in ("ts", "timestamp") if ts_key == "both" else (ts_key,):
        values[key] = draw(PLAIN_TS)
    if draw(st.booleans()):
        values["user"] = draw(PLAIN_USERS)
    if draw(st.booleans()):
        values[draw(st.sampled_from(["method", "status", "Ts", "endpoints"]))] = draw(PLAIN_EXTRA)
    if not plain:
        key = draw(st.sampled_from(["endpoint", "ts", "user", "extra", "drop", "none"]))
        if key == "drop":
            values.pop(draw(st.sampled_from(sorted(values))))
        elif key != "none":
            odd = {"endpoint": ODD_ENDPOINTS, "ts": ODD_TS, "user": ODD_USERS, "extra": ODD_EXTRA}
            values[key] = draw(odd[key])
    keys = draw(st.permutations(sorted(values)))
    space = draw(SPACES)
    fields = [f'"{key}"{space}:{draw(SPACES)}{values[key]}' for key in keys]
    line = space + "{" + draw(SPACES) + ("," + space).join(fields) + draw(SPACES) + "}"
    raw = line.encode()
    if not plain:
        raw = draw(st.sampled_from([raw, raw + b"\r", b"", b"[" + raw + b"]", raw + b"x",
                                    raw.replace(b"/", b"/\xff", 1), raw + b" " + raw,
                                    raw.replace(b"{", b'{"user": null, "ts": 5,', 1),
                                    raw.replace(b"}", b', "endpoint": "/z", "user": "v"}'),
                                    raw.replace(b"}", b', "user": null}')]))  # fmt: skip
    return raw


@st.composite
def blocks(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A block of lines, and whether every line was drawn plain."""
    plain = draw(st.lists(st.booleans(), min_size=1, max_size=12))
    body = b"\n".join(draw(lines(flag)) for flag in plain)
    ending = draw(st.sampled_from([b"\n", b""]))
    return body + ending, all(plain)


def oracle(block: bytes) -> list[tuple[str, float, str | None]] | None:
    """The per-line parser's hits, or None when some line is bad or blank."""
    parser, hits = NdjsonParser(), []
    for line in block.split(b"\n")[: block.count(b"\n") + (not block.endswith(b"\n"))]:
        try:
            hit = parser.parse(line)
        except BadLine:
            return None
        if hit is None:
            return None
        hits.append((hit.endpoint, hit.ts, hit.user))
    return hits


def hits_of(block: bytes, users: bool = True) -> list[tuple[str, float, str | None]] | None:
    columns = scan_native(block, users=users)
    if columns is None:
        return None
    endpoints = [columns.names[code] for code in columns.codes.tolist()]
    return list(zip(endpoints, columns.ts.tolist(), columns.user_list(), strict=True))


@settings(max_examples=1500, deadline=None)
@given(drawn=blocks())
def test_native_scanner_agrees_with_the_per_line_parser(drawn: tuple[bytes, bool]) -> None:
    block, plain = drawn
    expected, scanned = oracle(block), hits_of(block)
    if plain:
        assert expected is not None and scanned is not None, block
    if scanned is None:
        return
    assert expected is not None, block
    assert [(e, u) for e, _, u in scanned] == [(e, u) for e, _, u in expected]
    got = np.array([ts for _, ts, _ in scanned]).tobytes()
    assert got == np.array([ts for _, ts, _ in expected]).tobytes()  # bit for bit
    without_users = hits_of(block, users=False)
    assert without_users == [(e, ts, None) for e, ts, _ in scanned]


def test_native_scanner_codes_endpoints_in_first_seen_order() -> None:
    block = (
        b'{"endpoint":"/b","ts":2}\n{"ts":3, "endpoint":"/a","user":"x"}\n'
        b'{"endpoint":"/b","ts":4}\n'
    )
    columns = scan_block(block)
    assert columns is not None
    assert columns.names == ["/b", "/a"] and columns.codes.tolist() == [0, 1, 0]
    assert columns.ts.tolist() == [2.0, 3.0, 4.0]
    assert columns.user_list() == [None, "x", None]


def test_native_scanner_reads_milliseconds_and_steps_aside_from_the_future() -> None:
    columns = scan_block(b'{"endpoint":"/a","ts":1795737600123}\n')
    assert columns is not None and columns.ts.tolist() == [1795737600.123]
    assert scan_block(b'{"endpoint":"/a","ts":99999999999}\n') is None  # year 5138


def test_native_scanner_groups_many_distinct_texts() -> None:
    rows = [f'{{"endpoint":"/e{i % 5000}","ts":{i},"user":"u{i}"}}' for i in range(20000)]
    columns = scan_block(("\n".join(rows) + "\n").encode())
    assert columns is not None and len(columns.names) == 5000
    assert columns.user_names is not None and len(columns.user_names) == 20000
    endpoints = [columns.names[code] for code in columns.codes.tolist()]
    assert endpoints == [f"/e{i % 5000}" for i in range(20000)]


@settings(max_examples=300, deadline=None)
@given(
    hits=st.lists(
        st.tuples(st.integers(0, 5), st.floats(0, 1e6), st.integers(-1, 40)), max_size=300
    ),
    precision=st.integers(4, 16),
    bucket_s=st.sampled_from([0.5, 60.0, 3600.0]),
    far=st.booleans(),
)
def test_native_register_reduction_equals_numpys(
    hits: list[tuple[int, float, int]], precision: int, bucket_s: float, far: bool
) -> None:
    """The C reduction gives numpy's entries (largest rank per endpoint, bucket, register)."""
    from hitcount.sketches import registers

    user_names = [f"user{i}" for i in range(41)]
    codes = np.array([code for code, _, _ in hits], dtype=np.int32)
    stamps = np.array([ts for _, ts, _ in hits], dtype=np.float64)
    if far and hits:
        stamps[0] = 2.5e11  # pairs too spread out for 64-bit keys at a fine grid: numpy's path
    user_codes = np.array([user for _, _, user in hits], dtype=np.int32)
    table = registers.user_registers(user_names, SPARSE_PRECISION)
    chosen = np.append(table, -64)[user_codes]
    expected = registers.reduce_registers(
        codes, stamps, (chosen >> 6).astype(np.int32), (chosen & 63).astype(np.uint8),
        precision, bucket_s,
    )  # fmt: skip
    got = registers.reduce_users(codes, stamps, user_names, user_codes, precision, bucket_s)
    for field in ("codes", "buckets", "sizes", "registers", "ranks"):
        assert np.array_equal(getattr(got, field), getattr(expected, field)), field


@pytest.mark.parametrize("name", ["fixed", "sliding"])
def test_replay_without_the_extension_gives_the_same_state(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """An install without a C compiler (numpy scanner and sort) keeps the same state."""
    import json
    from pathlib import Path

    from hitcount import HitCounter, replay
    from hitcount.ingest import parallel, scanner, workers
    from hitcount.sketches import registers

    rows = [
        {"endpoint": f"/e{i % 11}", "ts": 1_795_737_600 + i * 0.37, "user": f"u{i * 31 % 997}"}
        for i in range(30_000)
    ]
    path = Path(tmp_path) / "hits.ndjson"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    monkeypatch.setenv("HITCOUNT_WORKERS", "2")
    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 200_000)
    states = []
    for scan_extension, reduce_extension in ((native, native_reduce), (None, None)):
        monkeypatch.setattr(scanner, "native", scan_extension)
        monkeypatch.setattr(registers, "native", reduce_extension)
        counter = HitCounter(name, distinct_precision=10)
        assert replay(counter, [str(path)]).hits_kept == len(rows)
        assert counter.distinct is not None
        states.append((counter.strategy.to_state(), counter.distinct.to_state()))
    assert states[0] == states[1]


VALID_BLOCK = (
    b'{"endpoint": "/a/b", "ts": 1795737600.25, "user": "u1"}\n'
    b'{"ts":1795737601,"endpoint":"/\xc3\xa9","extra":[1],"user":null}\n'
    b'  {"endpoint":"/c" , "timestamp": 1795737602.5 }  \n'
)


@settings(max_examples=2000, deadline=None)
@given(
    block=st.one_of(
        st.binary(max_size=300),
        st.tuples(
            st.lists(st.tuples(st.integers(0, len(VALID_BLOCK) - 1), st.integers(0, 255))),
            st.integers(0, len(VALID_BLOCK)),
        ).map(lambda edits: bytes(_edited(VALID_BLOCK, edits[0])[: edits[1] or None])),
    )
)
def test_native_scanner_survives_any_bytes(block: bytes) -> None:
    """Random and damaged blocks: no crash; columns only when every line parses the same."""
    for users in (True, False):
        scanned = hits_of(block, users=users)
        if scanned is None:
            continue
        expected = oracle(block)
        assert expected is not None, block
        assert [(e, ts) for e, ts, _ in scanned] == [(e, ts) for e, ts, _ in expected]


def _edited(block: bytes, edits: list[tuple[int, int]]) -> bytearray:
    data = bytearray(block)
    for at, value in edits:
        data[at] = value
    return data


def test_replay_notes_a_missing_extension_on_a_big_ndjson_file(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from hitcount.cli import app
    from hitcount.ingest import scanner, workers

    big = Path(tmp_path) / "hits.log"  # the name says nothing: the first byte tells
    big.write_text("".join(f'{{"endpoint": "/a", "ts": {1795737600 + i}}}\n' for i in range(50)))
    monkeypatch.setenv("HITCOUNT_STATE", str(Path(tmp_path) / "state.json"))
    monkeypatch.setenv("HITCOUNT_WORKERS", "2")
    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
    runner = CliRunner()
    with_extension = runner.invoke(app, ["replay", str(big)])
    assert with_extension.exit_code == 0 and "C scanner" not in with_extension.stderr
    monkeypatch.setattr(scanner, "native", None)
    without = runner.invoke(app, ["replay", str(big)])
    assert without.exit_code == 0 and "installed without its C scanner" in without.stderr
    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 10**9)  # a small file: no note
    assert "C scanner" not in runner.invoke(app, ["replay", str(big)]).stderr
