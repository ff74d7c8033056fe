"""NDJSON and CSV parsing, the reader (gzip, CRLF, long lines) and format choice."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitcount import HitCounter, InputError, replay
from hitcount.ingest import reader
from hitcount.ingest.formats import format_from_name, make_parser, sniff_format
from hitcount.ingest.formats.csv import CsvParser
from hitcount.ingest.formats.ndjson import NdjsonParser
from hitcount.model.hits import BadLine, Hit
from tests.conftest import SAMPLES

EPOCH = 1_700_000_000.0


@pytest.mark.parametrize(
    ("line", "ts"),
    [
        (b'{"endpoint": "/a", "ts": 1700000000}', EPOCH),
        (b'{"endpoint": "/a", "ts": 1700000000.25}', EPOCH + 0.25),
        (b'{"endpoint": "/a", "ts": 1700000000250}', EPOCH + 0.25),
        (b'{"endpoint": "/a", "timestamp": 1700000000}', EPOCH),
        (b'{"endpoint": "/a", "ts": "1700000000"}', EPOCH),
        (b'{"endpoint": "/a", "ts": "2023-11-14T22:13:20Z"}', EPOCH),
        (b'{"endpoint": "/a", "ts": "2023-11-14T23:13:20+01:00"}', EPOCH),
        (b'{"endpoint": "/a", "ts": "2023-11-14T22:13:20.500+00:00"}', EPOCH + 0.5),
        (b'{"endpoint": "/a", "ts": "2023-11-14T22:13:20"}', EPOCH),
        (b'{"endpoint": "/a", "ts": 0}', 0.0),
        (b'{"ts": 1700000000, "endpoint": "/a", "extra": [1, {"x": 2}]}', EPOCH),
    ],
)
def test_ndjson_timestamp_forms(line: bytes, ts: float) -> None:
    hit = NdjsonParser().parse(line)
    assert hit == Hit("/a", pytest.approx(ts), None)  # type: ignore[arg-type]


def test_ndjson_user_and_blank_line() -> None:
    parser = NdjsonParser()
    assert parser.parse(b'{"endpoint": "/a", "ts": 1, "user": 42}') == Hit("/a", 1.0, "42")
    assert parser.parse(b"   ") is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{not json", "invalid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b'{"ts": 1}', "missing field 'endpoint'"),
        (b'{"endpoint": "/a"}', "missing field 'ts'"),
        (b'{"endpoint": "", "ts": 1}', "empty endpoint"),
        (b'{"endpoint": 5, "ts": 1}', "endpoint must be a string"),
        (b'{"endpoint": "/a", "ts": "NaN"}', "not finite"),
        (b'{"endpoint": "/a", "ts": -5}', "before 1970"),
        (b'{"endpoint": "/a", "ts": 1e30}', "after year 9999"),
        (b'{"endpoint": "/a", "ts": true}', "got bool"),
        (b'{"endpoint": "/a", "ts": "yesterday"}', "not a number or ISO 8601"),
        (b'{"endpoint": "/a", "ts": null}', "missing field 'ts'"),
        (b'{"endpoint": "/a", "ts": 1, "user": {"id": 1}}', "user must be a string"),
        (b'{"endpoint": "/\xff", "ts": 1}', "invalid JSON"),
        (b'{"endpoint": "' + b"x" * 5000 + b'", "ts": 1}', "longer than"),
        (b'{"endpoint": "/a", "ts": 1, "user": "\\ud800"}', "without the low surrogate"),
        (b'{"endpoint": "/a", "ts": 1', "Input data was truncated"),  # truly cut short
    ],
)
def test_ndjson_bad_lines_say_why(line: bytes, reason: str) -> None:
    with pytest.raises(BadLine, match=reason):
        NdjsonParser().parse(line)


def test_csv_with_header_in_any_column_order() -> None:
    parser = CsvParser()
    assert parser.parse(b"user,timestamp,path") is None
    assert parser.parse(b"u1,1700000000,/a") == Hit("/a", EPOCH, "u1")


def test_csv_without_header_and_with_quoted_commas() -> None:
    parser = CsvParser()
    assert parser.parse(b'"/a,b",1700000000') == Hit("/a,b", EPOCH, None)
    assert parser.parse(b"/c,2023-11-14T22:13:20Z,u9") == Hit("/c", EPOCH, "u9")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"/only-one-field", "expected endpoint,timestamp"),
        (b"/a,notatime", "not a number or ISO 8601"),
        (b",1700000000", "empty endpoint"),
        (b"/a,\xff\xfe", "not UTF-8"),
        (b'"/a,1700000000', "invalid CSV"),
    ],
)
def test_csv_bad_lines_say_why(line: bytes, reason: str) -> None:
    parser = CsvParser()
    parser.parse(b"endpoint,timestamp")
    with pytest.raises(BadLine, match=reason):
        parser.parse(line)


@settings(max_examples=400, deadline=None)
@given(line=st.binary(max_size=300), name=st.sampled_from(["ndjson", "csv", "combined", "common"]))
def test_parsers_turn_any_bytes_into_a_hit_or_a_bad_line(line: bytes, name: str) -> None:
    try:
        hit = make_parser(name).parse(line)
    except BadLine as bad:
        assert bad.reason
        return
    if hit is not None:
        assert isinstance(hit.endpoint, str) and hit.endpoint
        assert 0 <= hit.ts < 1e12


def test_reader_numbers_lines_strips_crlf_and_flags_long_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 10)
    monkeypatch.setattr(reader, "_CHUNK_BYTES", 4)
    data = b"a\r\nbb\n" + b"x" * 30 + b"\nc\n\nlast-no-newline"
    lines = list(reader.iter_lines(io.BytesIO(data), "t"))
    assert lines == [(1, b"a"), (2, b"bb"), (3, None), (4, b"c"), (5, b""), (6, None)]


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "traffic.ndjson"  # gzip inside, no .gz suffix
    lines = [json.dumps({"endpoint": "/z", "ts": EPOCH + i}) for i in range(10)]
    path.write_bytes(gzip.compress("\n".join(lines).encode()))
    counter = HitCounter("sliding")
    report = replay(counter, [str(path)])
    assert report.hits_kept == 10 and report.bad_lines == 0


def test_corrupt_gzip_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.ndjson.gz"
    lines = b"".join(b'{"endpoint": "/a%d", "ts": %d}\n' % (i * 7919, i) for i in range(5000))
    data = gzip.compress(lines)
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"broken\.ndjson\.gz"):
        replay(HitCounter(), [str(path)])


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.ndjson", "ndjson"),
        ("a.jsonl.gz", "ndjson"),
        ("A.CSV", "csv"),
        ("access.log", None),
        ("x", None),
    ],
)
def test_format_from_name(name: str, fmt: str | None) -> None:
    assert format_from_name(name) == fmt


@pytest.mark.parametrize(
    ("line", "fmt"),
    [
        (b'{"endpoint": "/a", "ts": 1}', "ndjson"),
        (b"/a,1700000000", "csv"),
        (b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326', "common"),
        (
            b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326 "-" "ua"',
            "combined",
        ),
    ],
)
def test_sniffing_the_first_line(line: bytes, fmt: str) -> None:
    assert sniff_format(line, "x") == fmt


def test_unrecognisable_first_line_asks_for_format() -> None:
    with pytest.raises(InputError, match="cannot tell the input format") as info:
        sniff_format(b"hello world", "mystery.txt")
    assert "--format" in (info.value.hint or "")


def test_sample_traffic_replays_with_the_documented_bad_lines() -> None:
    counter = HitCounter("sliding", max_window_s=86400)
    report = replay(counter, [str(SAMPLES / "bad_lines.ndjson")])
    good = 0
    for raw in (SAMPLES / "bad_lines.ndjson").read_bytes().splitlines():
        try:
            record = json.loads(raw)
            ok = isinstance(record, dict) and isinstance(record.get("endpoint"), str)
            ok = ok and record["endpoint"] != "" and isinstance(record.get("ts"), (int, float))
            ok = ok and not isinstance(record["ts"], bool) and 0 <= record["ts"] < 1e11
            good += ok
        except (ValueError, OverflowError):
            pass
    assert report.hits_kept == good
    assert report.bad_lines == report.lines_read - good
    assert report.first_bad and report.first_bad[0].line >= 1


def test_a_line_dated_centuries_ahead_is_a_bad_line_not_a_new_clock(tmp_path: Path) -> None:
    path = tmp_path / "poison.ndjson"
    rows = [json.dumps({"endpoint": "/a", "ts": EPOCH + i}) for i in range(1000)]
    rows.insert(500, json.dumps({"endpoint": "/a", "ts": 17_000_000_000}))  # an extra digit
    path.write_text("\n".join(rows) + "\n")
    counter = HitCounter("sliding", max_window_s=86400)
    report = replay(counter, [str(path)])
    assert report.bad_lines == 1
    assert "more than a year in the future" in report.first_bad[0].reason
    assert report.first_bad[0].line == 501
    assert counter.query("/a", 86400).answer.count == 1000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the input is empty"),
        (b"\n\n", "2 lines read, none with a hit"),
        (b"{bad\n[1]\n", r"no hits: all 2 lines are bad \(line 1: "),
        (b"\n{bad\n", r"no hits: its one line is bad \(line 2: "),
    ],
)
def test_input_without_a_single_hit_is_refused(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "nothing.ndjson"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as info:
        replay(HitCounter(), [str(path)])
    assert "nothing was saved" in (info.value.hint or "")


def test_ndjson_values_nested_too_deeply_are_a_bad_line_not_a_crash() -> None:
    line = b'{"endpoint": "/n", "ts": 1767225601, "user": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    with pytest.raises(BadLine, match="nested too deeply"):
        NdjsonParser().parse(line)


def test_csv_record_spanning_lines_makes_every_line_of_it_bad(tmp_path: Path) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text(
        'endpoint,ts\n"/a\nmore ""quoted"" text\nline",1767225600\n'
        '/b,1767225601\n"/c ""x""",1767225602\n'
    )
    counter = HitCounter("sliding", max_window_s=10**6)
    report = replay(counter, [str(path)])
    assert [bad.line for bad in report.first_bad] == [2, 3, 4]
    assert "spanning lines" in report.first_bad[0].reason
    assert counter.endpoints() == ["/b", '/c "x"']


def test_a_lone_surrogate_escape_is_named_in_a_replay(tmp_path: Path) -> None:
    path = tmp_path / "s.ndjson"
    path.write_text(
        '{"endpoint": "/a", "ts": 1700000000, "user": "\\ud800"}\n'
        '{"endpoint": "/b", "ts": 1700000001}\n',
        encoding="utf-8",
    )
    reasons: list[str] = []
    replay(HitCounter("sliding"), [str(path)], on_bad_line=lambda bad: reasons.append(bad.reason))
    assert reasons == [
        "invalid JSON (a \\uD800-\\uDBFF escape without the low surrogate that must follow it)"
    ]
