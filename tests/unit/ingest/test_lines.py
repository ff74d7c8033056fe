"""The block decoder reads every format exactly as the per-line parsers read its lines.

The oracle is each format's per-line parser, line by line over the same blocks: the hits in
order (endpoint, timestamp bit for bit, user), the bad lines' numbers and reasons, and the
parser's state across blocks (a CSV header, a quoted field left open) must all agree. Lines
drawn only from shapes the C scanner reads must not be left to the per-line parser, or the
fast path would silently stop serving.
"""

from __future__ import annotations

import itertools
import os
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount.ingest import lines as fast
from hitcount.ingest.formats import make_parser
from hitcount.ingest.reader import split_block
from hitcount.model.hits import BadLine

if fast.native is None:
    if os.environ.get("CI") == "true":
        pytest.fail("the C extensions are not built: install a C compiler and reinstall")
    pytest.skip("the C extensions are not built (no compiler at install)", allow_module_level=True)

Hits = list[tuple[str, float, str | None]]
Bad = list[tuple[int, str]]

MOMENTS = st.datetimes(datetime(1969, 12, 30), datetime(2026, 12, 31))
OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timedelta(minutes=m))


@st.composite
def iso_texts(draw: st.DrawFn) -> tuple[str, bool]:
    """An ISO 8601 date-time (drawn fraction, separator, zone); whether the scanner reads it."""
    moment = draw(MOMENTS)
    separator = draw(st.sampled_from("T t_"))
    text = moment.strftime("%Y-%m-%d") + separator + moment.strftime("%H:%M:%S")
    digits = draw(st.integers(0, 8))
    if digits:
        text += "." + f"{moment.microsecond:06d}{draw(st.integers(0, 99)):02d}"[:digits]
    zone = draw(st.sampled_from(["", "Z", "z", "colon", "plain", "hours", "+24:00"]))
    east = timedelta(0)
    if zone in ("colon", "plain", "hours"):
        east = draw(OFFSETS)
        minutes = int(east.total_seconds() // 60)
        sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
        hhmm = "{:02d}:{:02d}" if zone == "colon" else "{:02d}{:02d}"
        zone = sign + hhmm.format(*divmod(minutes, 60))[: 2 if zone == "hours" else 5]
    suffix = draw(st.sampled_from(["", "", " ", "x"]))
    utc = moment.replace(tzinfo=timezone.utc) - east
    plain = (
        separator in "T " and digits in (0, 3, 6) and zone not in ("+24:00",)
        and (len(zone) < 2 or zone[3:4] == ":") and suffix == "" and utc.timestamp() >= 0
        and -12 * 3600 <= east.total_seconds() <= 14 * 3600  # an offset some place uses
    )  # fmt: skip
    return text + zone + suffix, plain


PLAIN_NUMBERS = st.one_of(
    st.integers(0, 18 * 10**8).map(str),
    st.integers(10**11 + 1, 18 * 10**11).map(str),
    st.integers(10**9, 18 * 10**11).map(lambda ms: f"{ms // 1000}.{ms % 1000:03d}"),
)
ODD_NUMBERS = st.one_of(
    st.floats(0, 1.8e9).map(repr),
    st.sampled_from(["017", "1.", "1e9", "-5", "1_000", "nan", "9" * 25, "1.5e3", " 5"]),
)
TS_TEXTS = st.one_of(
    iso_texts(),
    PLAIN_NUMBERS.map(lambda text: (text, True)),
    ODD_NUMBERS.map(lambda text: (text, False)),
)
ENDPOINTS = st.sampled_from(["/a", "/api/v1/items", "/é", "/b c", "/😀", "/x" * 300, ""])
USERS = st.sampled_from(["u1", "10.0.0.7", "ü", "", "y" * 1025])


def oracle(blocks: list[bytes], fmt: str) -> tuple[Hits, Bad]:
    """Hits and bad lines of the per-line path over the same blocks."""
    parser, hits, bad, number = make_parser(fmt), [], [], 1
    for block in blocks:
        for n, line in split_block(number, block):
            assert line is not None
            try:
                hit = parser.parse(line)
            except BadLine as err:
                bad.append((n, err.reason))
                continue
            if hit is not None:
                hits.append((hit.endpoint, hit.ts, hit.user))
        number += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    return hits, bad


def decoded(blocks: list[bytes], fmt: str, users: bool) -> tuple[Hits, Bad]:
    """Hits and bad lines of `decode_block` over the blocks, with one parser throughout."""
    parser, hits, bad, number = make_parser(fmt), [], [], 1
    for block in blocks:
        result = fast.decode_block(block, number, parser, users=users)
        assert result is not None
        columns = result.columns
        endpoints = [columns.names[code] for code in columns.codes.tolist()]
        hits += zip(endpoints, columns.ts.tolist(), columns.user_list(), strict=True)
        bad += result.bad
        number += result.lines
    return hits, bad


def check(blocks: list[bytes], fmt: str, users: bool) -> None:
    expected, got = oracle(blocks, fmt), decoded(blocks, fmt, users)
    assert got[1] == expected[1]
    wanted = expected[0] if users else [(e, ts, None) for e, ts, _ in expected[0]]
    assert [(e, u) for e, _, u in got[0]] == [(e, u) for e, _, u in wanted]
    got_ts = np.array([ts for _, ts, _ in got[0]], dtype=np.float64)
    assert got_ts.tobytes() == np.array([ts for _, ts, _ in wanted]).tobytes()  # bit for bit


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """`data` cut into blocks after the newlines chosen by `points`."""
    ends = [i + 1 for i, byte in enumerate(data) if byte == 10]
    chosen = sorted({ends[p % len(ends)] for p in points}) if ends else []
    bounds = [0, *chosen, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def scanned_whole(block: bytes, fmt: str) -> bool:
    """Whether the C scanner read every line of the block itself."""
    kind = {"ndjson": 0, "combined": 1, "csv": 2}[fmt]
    found = fast.native.scan_lines(block, kind, True, 1e12, 7, 0, 1, 2)
    return len(found[5]) == 0


# ---- NDJSON ----


@st.composite
def ndjson_lines(draw: st.DrawFn) -> bytes:
    """One NDJSON line: a number or a quoted text as its time, and perhaps an oddity."""
    ts, _ = draw(TS_TEXTS)
    ts = ts if draw(st.booleans()) else f'"{ts}"'
    key = draw(st.sampled_from(["ts", "timestamp"]))
    endpoint, user = draw(ENDPOINTS), draw(st.one_of(st.none(), USERS))
    fields = [f'"endpoint": "{endpoint}"', f'"{key}": {ts}']
    if user is not None:
        fields.append(f'"user": "{user}"')
    line = "{" + ", ".join(draw(st.permutations(fields))) + "}"
    odd = draw(st.sampled_from(["", "", "", "blank", "escape", "cr", "junk"]))
    raw = {"blank": "  ", "escape": line.replace("/", "\\/", 1), "cr": line + "\r"}.get(odd, line)
    return (raw + "}" if odd == "junk" else raw).encode()


@settings(max_examples=600, deadline=None)
@given(
    drawn=st.lists(ndjson_lines(), min_size=1, max_size=12),
    points=st.lists(st.integers(0, 20), max_size=3),
    users=st.booleans(),
    ending=st.sampled_from([b"\n", b""]),
)
def test_ndjson_blocks_agree_with_the_per_line_parser(
    drawn: list[bytes], points: list[int], users: bool, ending: bytes
) -> None:
    data = b"\n".join(drawn) + ending
    check(cut(data, points), "ndjson", users)


@settings(max_examples=400, deadline=None)
@given(drawn=TS_TEXTS, quoted=st.booleans())
def test_ndjson_timestamps_the_scanner_reads_are_the_parsers(
    drawn: tuple[str, bool], quoted: bool
) -> None:
    """Every timestamp shape the parser accepts: ISO 8601 in strings, numbers either way."""
    ts, plain = drawn
    block = f'{{"endpoint": "/a", "ts": {chr(34) + ts + chr(34) if quoted else ts}}}\n'.encode()
    check([block], "ndjson", True)
    if plain and (quoted or ts.replace(".", "").isdigit()):
        assert scanned_whole(block, "ndjson"), block


# ---- access logs ----

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
TARGETS = st.sampled_from(
    ["/", "/a/b", "/a?x=1", "/p#frag", "/é", "/\xff", "http://h:8/x?q", "*", "h:443", "?x=1",
     "photo/", "/b c", "/" + "x" * 5000, "/s\"q"]
)  # fmt: skip


@st.composite
def access_lines(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A common or combined line with drawn fields, and whether the scanner should read it."""
    moment, east = draw(MOMENTS), draw(OFFSETS)
    minutes = int(east.total_seconds() // 60)
    zone = ("-" if minutes < 0 else "+") + "{:02d}{:02d}".format(*divmod(abs(minutes), 60))
    month = draw(st.sampled_from([MONTHS[moment.month - 1], MONTHS[moment.month - 1].upper(),
                                  "Foo", MONTHS[moment.month - 1].lower()]))  # fmt: skip
    second = draw(st.sampled_from([moment.strftime("%S"), "60", "61"]))
    stamp = f"{moment:%d}/{month}/{moment:%Y}:{moment:%H:%M}:{second} {zone}"
    host = draw(st.sampled_from(["10.0.0.1", "::1", "h.example", "hé", "x" * 1025]))
    method = draw(st.sampled_from(["GET", "post", "CONNECT", "OPTIONS", "GET!not"]))
    target = draw(TARGETS)
    request = draw(
        st.sampled_from(
            [f"{method} {target} HTTP/1.1", f"{method} {target}",
             f"{method}  {target}   http/1.0", "-", "", method]
        )
    )  # fmt: skip
    size = draw(st.sampled_from(["512", "-", "0", "x"]))
    tail = draw(st.sampled_from(["", ' "-" "Mozilla/5.0"', ' "ref" "UA', ' "a" "b" "c"']))
    who = draw(st.sampled_from(["-", "frank", "a b"]))
    line = f'{host} - {who} [{stamp}] "{request}" 200 {size}{tail}'
    raw = line.encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff")
    raw += draw(st.sampled_from([b"", b"", b"\r", b"\r\r"]))
    utc = moment.replace(tzinfo=timezone.utc) - east
    plain = (
        host in ("10.0.0.1", "::1", "h.example") and month != "Foo" and second != "61"
        and method != "CONNECT"
        and target.startswith("/") and len(target) < 4096 and '"' not in target
        and "\xff" not in target and request not in ("-", "", method) and size != "x"
        and utc.timestamp() >= 0 and not raw.endswith(b"\r\r")
        and -12 * 3600 <= east.total_seconds() <= 14 * 3600  # an offset some place uses
    )  # fmt: skip
    return raw, plain


@settings(max_examples=800, deadline=None)
@given(
    drawn=st.lists(access_lines(), min_size=1, max_size=12),
    points=st.lists(st.integers(0, 20), max_size=3),
    users=st.booleans(),
    fmt=st.sampled_from(["combined", "common"]),
)
def test_access_log_blocks_agree_with_the_per_line_parser(
    drawn: list[tuple[bytes, bool]], points: list[int], users: bool, fmt: str
) -> None:
    data = b"\n".join(line for line, _ in drawn) + b"\n"
    check(cut(data, points), fmt, users)
    for line, plain in drawn:
        if plain:
            assert scanned_whole(line + b"\n", "combined"), line


# ---- CSV ----


@st.composite
def csv_data(draw: st.DrawFn) -> bytes:
    """CSV text with a drawn header (or none) and rows, some odd."""
    order = draw(st.permutations(["endpoint", "ts", "user", "extra"]))
    header = draw(st.sampled_from(["names", "none", "blank first"]))
    rows = []
    if header != "none":
        rows.append(",".join(order) if header == "names" else "")
    for _ in range(draw(st.integers(1, 10))):
        ts, _ = draw(TS_TEXTS)
        values = {"endpoint": draw(ENDPOINTS), "ts": ts, "user": draw(USERS), "extra": "x"}
        if header == "none":
            order = ["endpoint", "ts", "user", "extra"]
        odd = draw(st.sampled_from(["", "", "", "quoted", "open", "close", "short", "blank"]))
        row = ",".join(values[name] for name in order)
        row = {
            "quoted": f'"{row}"', "open": row + ',"a', "close": 'b",' + row,
            "short": values["endpoint"], "blank": "   ",
        }.get(odd, row)  # fmt: skip
        rows.append(row)
    return ("\n".join(rows) + "\n").encode()


@settings(max_examples=800, deadline=None)
@given(
    drawn=csv_data(),
    points=st.lists(st.integers(0, 20), max_size=4),
    users=st.booleans(),
)
def test_csv_blocks_agree_with_the_per_line_parser(
    drawn: bytes, points: list[int], users: bool
) -> None:
    """Headers in any column order, quoted fields left open across blocks, blank lines."""
    check(cut(drawn, points), "csv", users)


def test_csv_rows_after_a_header_take_the_scanner() -> None:
    data = b"user,ts,path\nu1,1700000000,/a\nu2,2023-11-14T22:13:21Z,/b\n"
    parser = make_parser("csv")
    result = fast.decode_block(data, 1, parser)
    assert result is not None and result.bad == []
    columns = result.columns
    assert columns.names == ["/a", "/b"] and columns.ts.tolist() == [1700000000.0, 1700000001.0]
    assert columns.user_list() == ["u1", "u2"]
    found = fast.native.scan_lines(data[len(b"user,ts,path\n") :], 2, True, 1e12, 7, 2, 1, 0)
    assert len(found[5]) == 0  # both rows read by the C scanner
