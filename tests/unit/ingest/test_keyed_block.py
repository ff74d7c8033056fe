"""`--key`, `--where` and `--decode-paths` on the fast path equal the keyed per-line parser.

The oracle is the per-line path of the same keying (`KeyedParser.parse` on each line): the
same hits under the same keys in the same order, the same bad lines with their numbers and
reasons, the same lines dropped by a filter. Hypothesis draws the keying as well as the
lines; the nine real logs are compared whole; the workers are compared with a serial
per-line replay.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, replay
from hitcount.ingest import keyed_block, lines, parallel, workers
from hitcount.ingest.formats import make_parser
from hitcount.ingest.formats.keyed import Fields, KeyedParser, keyed
from hitcount.ingest.formats.ndjson import NdjsonParser
from hitcount.ingest.reader import split_block
from hitcount.model.hits import BadLine
from hitcount.model.keys import Keying
from tests.conftest import REAL_LOGS
from tests.unit.ingest.test_lines import access_lines, cut

if keyed_block.native is None:
    pytest.skip("the C extensions are not built (no compiler at install)", allow_module_level=True)

Seen = tuple[list[tuple[str, float, str | None]], list[tuple[int, str]], int]

TEMPLATES = ["{path}", "{method} {path}", "{status_class}", "{status}", "{user}", "{host}",
             "{request.path}", "{ts}", "{method}:{status}", "{nothere}",
             "{status_class} {user}"]  # fmt: skip
FILTERS = ["status>=500", "status<400", "status=404", "status!=200", "method=GET",
           "method!=POST", "path=/a*", "path=/b/*", "user=u1", "status_class=5xx", "ts>1700000100",
           "host=10.*", "method=get", "status=x", "nothere=1"]  # fmt: skip


@st.composite
def keyings(draw: st.DrawFn) -> Keying:
    """One to three keys, up to three filters, paths decoded or not."""
    keys = draw(st.lists(st.sampled_from(TEMPLATES), min_size=1, max_size=3, unique=True))
    where = draw(st.lists(st.sampled_from(FILTERS), max_size=3))
    keying = Keying.parse(keys, where, None, draw(st.booleans()))
    return keying if not keying.counts_path else Keying.parse(keys, where, None, True)


def per_line(blocks: list[bytes], fmt: str, keying: Keying) -> Seen:
    """The keyed per-line path over the blocks."""
    parser, hits, bad, number = keyed(make_parser(fmt), keying), [], [], 1
    for block in blocks:
        for n, line in split_block(number, block):
            assert line is not None
            try:
                hit = parser.parse(line)
            except BadLine as err:
                bad.append((n, err.reason))
                continue
            if hit is not None:
                hits += [(h.endpoint, h.ts, h.user) for h in (hit, *parser.also)]
        number += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    return hits, bad, parser.skipped


def fast(blocks: list[bytes], fmt: str, keying: Keying) -> Seen:
    """The keyed block path over the blocks, one parser throughout."""
    parser, hits, bad, number = keyed(make_parser(fmt), keying), [], [], 1
    assert keyed_block.keyed_fast(parser)
    for block in blocks:
        result = keyed_block.decode_keyed_block(block, number, parser)
        columns = result.columns
        names = [columns.names[code] for code in columns.codes.tolist()]
        hits += zip(names, columns.ts.tolist(), columns.user_list(), strict=True)
        bad += result.bad
        number += result.lines
    return hits, bad, parser.skipped


# ---- NDJSON ----

PATHS = ["/a", "/a/b", "/b/%41%42", "//a//b", "/%zz", "/%C3%A9t%C3%A9", "/%ff", "/b/x"]
VALUES = ["200", "404", "503", '"404"', "404.0", "null", "true", "1", "false", "0", '"x"', "-1",
          "1e3", '""']  # fmt: skip


@st.composite
def ndjson_lines(draw: st.DrawFn) -> bytes:
    """A line with an endpoint, a time, maybe a user, status, method, nested or odd parts."""
    ts = draw(st.sampled_from(["1700000000", "1700000200.5", '"2023-11-14T22:15:00Z"']))
    fields = [f'"endpoint": "{draw(st.sampled_from(PATHS))}"', f'"ts": {ts}']
    for name, values in (
        ("user", ['"u1"', '"u2"', "null", "5"]),
        ("status", VALUES),
        ("method", ['"GET"', '"POST"', '"get"', '"G\\u0045T"', "null"]),
        ("status_class", ['"5xx"', "7"]),
        ("request", ['{"path": "/n"}', '"/flat"']),
        ("request.path", ['"/dotted"']),
    ):
        if draw(st.booleans()):
            fields.append(f'"{name}": {draw(st.sampled_from(values))}')
    if draw(st.integers(0, 9)) == 0:
        fields.append(f'"status": {draw(st.sampled_from(VALUES))}')  # perhaps twice
    line = "{" + ", ".join(draw(st.permutations(fields))) + "}"
    odd = draw(st.sampled_from(["", "", "", "", "blank", "cr", "junk", "array", "escape"]))
    return {"blank": "  ", "cr": line + "\r", "junk": line + "}", "array": "[1]",
            "escape": line.replace("/", "\\/", 1)}.get(odd, line).encode()  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(
    drawn=st.lists(ndjson_lines(), min_size=1, max_size=14),
    points=st.lists(st.integers(0, 20), max_size=3),
    keying=keyings(),
)
def test_ndjson_blocks_under_keys_agree_with_the_per_line_path(
    drawn: list[bytes], points: list[int], keying: Keying
) -> None:
    blocks = cut(b"\n".join(drawn) + b"\n", points)
    assert fast(blocks, "ndjson", keying) == per_line(blocks, "ndjson", keying)


# ---- access logs ----


@st.composite
def keyed_access_lines(draw: st.DrawFn) -> bytes:
    """test_lines' access lines with the status drawn too."""
    line, _ = draw(access_lines())
    status = draw(st.sampled_from([b"200", b"404", b"503", b"301", b"999", b"100"]))
    return line.replace(b'" 200 ', b'" ' + status + b" ", 1)


@settings(max_examples=500, deadline=None)
@given(
    drawn=st.lists(keyed_access_lines(), min_size=1, max_size=12),
    points=st.lists(st.integers(0, 20), max_size=3),
    keying=keyings(),
    fmt=st.sampled_from(["combined", "common"]),
)
def test_access_log_blocks_under_keys_agree_with_the_per_line_path(
    drawn: list[bytes], points: list[int], keying: Keying, fmt: str
) -> None:
    blocks = cut(b"\n".join(drawn) + b"\n", points)
    assert fast(blocks, fmt, keying) == per_line(blocks, fmt, keying)


def test_clean_lines_never_reach_the_per_line_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of it all: a key and a filter leave the C scanner every clean line."""
    calls: list[bytes] = []
    real = KeyedParser.parse

    def spy(self: KeyedParser, line: bytes) -> object:
        calls.append(line)
        return real(self, line)

    monkeypatch.setattr(KeyedParser, "parse", spy)
    keying = Keying.parse(["{method} {path}", "{status_class}"], ["status>=300"], None, True)
    access = b'1.2.3.4 - - [14/Nov/2023:22:13:20 +0000] "POST /a%41?x HTTP/1.1" 503 9\n' * 50
    found = fast([access], "combined", keying)
    assert calls == []
    assert found[0][:2] == [("POST /aA", 1700000000.0, "1.2.3.4"), ("5xx", 1700000000.0, "1.2.3.4")]
    ndjson = b'{"endpoint": "/a", "ts": 1700000000, "method": "GET", "status": 404}\n' * 50
    assert fast([ndjson], "ndjson", keying)[0][:2] == [("GET /a", 1700000000.0, None),
                                                        ("4xx", 1700000000.0, None)]  # fmt: skip
    assert calls == []


# ---- the real logs ----

REAL = sorted(REAL_LOGS.glob("*.log.gz"))
REAL_KEYINGS = [
    (["{method} {path}"], [], False),
    (["{status_class}", "{path}"], ["method=GET"], True),
    (["{host}"], ["status>=400", "path=/*.php"], False),
    (["{path}"], [], True),
]


@pytest.mark.skipif(not REAL, reason="the real logs are not here")
@pytest.mark.parametrize("log", REAL, ids=lambda path: path.name.split("_")[0])
def test_every_real_log_under_keys_equals_the_per_line_path(log: Path) -> None:
    data = gzip.decompress(log.read_bytes())
    blocks = cut(data, [len(data) // 3])
    for keys, where, decode in REAL_KEYINGS:
        keying = Keying.parse(keys, where, None, decode)
        expected = per_line(blocks, "combined", keying)
        assert fast(blocks, "combined", keying) == expected
        assert expected[0] or where  # every real log counts something


# ---- the workers ----


def traffic(fmt: str, rows: int, seed: int) -> bytes:
    """NDJSON or combined lines with statuses, methods, a few odd lines."""
    rng = random.Random(seed)
    out = []
    for i in range(rows):
        path, status = f"/p{rng.randrange(9)}/%41", rng.choice([200, 200, 301, 404, 503])
        method, ts = rng.choice(["GET", "POST"]), 1_700_000_000 + i
        if fmt == "ndjson":
            out.append(json.dumps({"endpoint": path, "ts": ts, "user": f"u{rng.randrange(30)}",
                                   "status": status, "method": method}))  # fmt: skip
        else:
            out.append(f'10.0.0.{rng.randrange(30)} - - [14/Nov/2023:22:{i // 60 % 60:02d}:'
                       f'{i % 60:02d} +0000] "{method} {path}?q HTTP/1.1" {status} 12')  # fmt: skip
        if rng.random() < 0.02:
            out.append(rng.choice(["junk", "", '{"endpoint": "\\/e", "ts": 1700000000}']))
    return ("\n".join(out) + "\n").encode()


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10**6), rows=st.integers(100, 2000), step=st.integers(300, 6000),
       fmt=st.sampled_from(["ndjson", "combined"]), keying=keyings())  # fmt: skip
def test_workers_under_keys_equal_the_serial_per_line_replay(
    seed: int, rows: int, step: int, fmt: str, keying: Keying,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:  # fmt: skip
    path = tmp_path_factory.mktemp("keys") / ("hits.ndjson" if fmt == "ndjson" else "access.log")
    path.write_bytes(traffic(fmt, rows, seed))
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(parallel, "RANGE_BYTES", step)
        ranges: list[int] = []
        real = parallel.decode_in_parallel

        def counted(*args: object, **kwargs: object) -> object:
            for item in real(*args, **kwargs):  # type: ignore[arg-type]
                ranges.append(1)
                yield item

        monkeypatch.setattr(parallel, "decode_in_parallel", counted)
        with_workers = replayed(path, keying, "2", monkeypatch)
        assert ranges  # the workers did read it
        monkeypatch.setattr(lines, "native", None)
        monkeypatch.setattr(keyed_block, "native", None)
        serial = replayed(path, keying, "0", monkeypatch)
    assert with_workers == serial


def replayed(
    path: Path, keying: Keying, workers: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[object, object, list[tuple[int, str]], int]:
    monkeypatch.setenv("HITCOUNT_WORKERS", workers)
    bad: list[tuple[int, str]] = []
    counter = HitCounter("sliding", max_window_s=10**9, distinct_precision=8)
    counter.keying = keying
    try:
        report = replay(counter, [str(path)], on_bad_line=lambda b: bad.append((b.line, b.reason)))
    except Exception as err:  # every line bad or filtered: the same error either way
        return type(err).__name__, str(err), bad, 0
    assert counter.distinct is not None
    return counter.strategy.to_state(), counter.distinct.to_state(), bad, report.lines_read


def test_values_python_calls_equal_keep_their_own_keys() -> None:
    """JSON true and 1, false and 0 are equal in Python, not as keys: each keeps its own."""
    values = ["true", "1", "1.0", "false", "0", "-0.0", '"1"']
    block = "".join(f'{{"endpoint": "/a", "ts": 1700000000, "status": {v}}}\n' for v in values)
    keying = Keying.parse(["{status}"], [], None, False)
    found = fast([block.encode()], "ndjson", keying)
    assert [key for key, _, _ in found[0]] == ["true", "1", "1", "false", "0", "0", "1"]
    assert found == per_line([block.encode()], "ndjson", keying)


# ---- the per-line path: one decode per NDJSON line ----


def two_decodes(keying: Keying, line: bytes) -> object:
    """What the keyed per-line path gave before: the parser's hit, then the line decoded again."""
    parser = keyed(make_parser("ndjson"), keying)
    assert isinstance(parser, KeyedParser)
    try:
        hit = parser.inner.parse(line)
        if hit is None:
            return None
        try:
            record = msgspec.json.decode(line)
        except msgspec.DecodeError as err:
            raise BadLine(f"invalid JSON ({err})") from err
        fields = Fields(record if isinstance(record, dict) else {},
                        {"path": hit.endpoint, "ts": hit.ts, "user": hit.user})  # fmt: skip
        found = parser.endpoints(fields)
    except BadLine as bad:
        return bad.reason
    return None if found is None else [(key, hit.ts, hit.user) for key in found]


def one_decode(keying: Keying, line: bytes) -> object:
    parser = keyed(make_parser("ndjson"), keying)
    try:
        hit = parser.parse(line)
    except BadLine as bad:
        return bad.reason
    return None if hit is None else [(h.endpoint, h.ts, h.user) for h in (hit, *parser.also)]


@settings(max_examples=400, deadline=None)
@given(line=ndjson_lines(), keying=keyings())
def test_the_per_line_path_decodes_each_ndjson_line_once_with_the_same_outcome(
    line: bytes, keying: Keying
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        calls: list[bytes] = []
        real = NdjsonParser.parse
        monkeypatch.setattr(NdjsonParser, "parse", lambda self, b: calls.append(b) or real(self, b))
        got = one_decode(keying, line)
    assert got == two_decodes(keying, line)
    if not isinstance(got, str):  # a line read: the parser's own decode was not needed
        assert calls == []


@pytest.mark.parametrize("path", [per_line, fast])
def test_booleans_and_objects_read_as_json_writes_them(path: Callable[..., Seen]) -> None:
    """`true` is `true`, not Python's `True`, and an object is compact JSON: `cached!=true`
    let every line through (QA R2). Expected values written by hand."""  # noqa: D205, D209
    rows = [{"endpoint": "/a", "ts": 1_700_000_000 + i, "cached": c, "req": {"x": i % 2}}
            for i, c in enumerate([True, True, False, None])]  # fmt: skip
    block = "".join(json.dumps(row) + "\n" for row in rows).encode()

    def endpoints(keys: list[str], where: list[str]) -> list[str]:
        hits, bad, _ = path([block], "ndjson", Keying.parse(keys, where, None, False))
        assert not bad or keys == ["{cached}"]  # the null one: no value for a key
        return [endpoint for endpoint, _, _ in hits]

    assert endpoints(["{path}"], ["cached=true"]) == ["/a", "/a"]
    assert endpoints(["{path}"], ["cached!=true"]) == ["/a"]  # null: no value, skipped
    assert endpoints(["{path}"], ["cached=false"]) == ["/a"]
    assert endpoints(["{cached}"], []) == ["true", "true", "false"]
    assert endpoints(["{req}"], []) == ['{"x":0}', '{"x":1}', '{"x":0}', '{"x":1}']
