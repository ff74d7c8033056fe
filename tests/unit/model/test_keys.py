"""Key templates and `--where` filters on plain dicts of fields."""

from __future__ import annotations

import operator
from contextlib import suppress
from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitcount.errors import ConfigurationError
from hitcount.ingest.formats import make_parser
from hitcount.ingest.formats.keyed import keyed
from hitcount.model.hits import BadLine
from hitcount.model.keys import Keying, Where, decode_path, status_class

COMPARE = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
           "=": operator.eq, "!=": operator.ne}  # fmt: skip


@given(status=st.integers(100, 599), bound=st.integers(100, 599), op=st.sampled_from(list(COMPARE)))
def test_numeric_filters_compare_as_numbers(status: int, bound: int, op: str) -> None:
    rule = Where.parse(f"status{op}{bound}")
    assert rule.holds({"status": status}) is COMPARE[op](status, bound)
    assert rule.holds({"status": str(status)}) is COMPARE[op](status, bound)  # CSV text
    assert rule.holds({}) is False  # a line without the field never passes


@pytest.mark.parametrize(
    ("text", "fields", "holds"),
    [
        ("method=POST", {"method": "POST"}, True), ("method=POST", {"method": "post"}, False),
        ("path=/api/*", {"path": "/api/x/y"}, True), ("path=/api/*", {"path": "/apix"}, False),
        ("path!=/api/*", {"path": "/apix"}, True), (" status >= 500 ", {"status": 503}, True),
        ("host=10.0.0.?", {"host": "10.0.0.7"}, True), ("status=5xx", {"status": 503}, False),
        # a number bound holds only for numbers: text, true or a nested value never passes
        ("status>=500", {"status": "abc"}, False), ("status<500", {"status": "abc"}, False),
        ("status>=500", {"status": True}, False), ("status<600", {"status": [503]}, False),
        ("status>=500", {"status": "-"}, False), ("size<10", {"size": "-"}, False),
        # a text bound compares the text: versions, dates, names
        ("day>=2026-01-02", {"day": "2026-01-10"}, True), ("v<b", {"v": "a7"}, True),
        ("day>=2026-01-02", {"day": "2025-12-31"}, False),
    ],
)  # fmt: skip
def test_filters_by_hand(text: str, fields: dict[str, object], holds: bool) -> None:
    assert Where.parse(text).holds(fields) is holds


def test_templates_fill_every_field_and_refuse_a_missing_one() -> None:
    keying = Keying.parse("{method} {path} [{status_class}]", ["status>=400"])
    fields = {"method": "GET", "path": "/a", "status": 404, "status_class": "4xx"}
    assert keying.apply(fields) == "GET /a [4xx]"
    assert keying.apply({**fields, "status": 200}) is None
    with pytest.raises(BadLine, match="no field 'method'"):
        keying.apply({"path": "/a", "status": 500, "status_class": "5xx"})
    assert Keying.from_dict(keying.to_dict()) == keying
    assert Keying.parse(None, None).default


@pytest.mark.parametrize("status", [200, "404", 599.0])
def test_status_class(status: object) -> None:
    assert status_class(status) == f"{str(status)[0]}xx"


@pytest.mark.parametrize("text", ["status", "=5", "status>=", "5>x y"])
def test_malformed_filters(text: str) -> None:
    with pytest.raises(ConfigurationError):
        Where.parse(text)


_PIECES = st.one_of(
    st.text(alphabet="/ab%+ é", max_size=4),  # literal text, stray `%`, `//`
    st.text(max_size=3).map(lambda t: quote(t, safe="")),  # escapes of any character
    st.binary(max_size=3).map(lambda b: "".join(f"%{x:02X}" for x in b)),  # any bytes
    st.sampled_from(["%2F", "%2f", "%zz", "%4", "%C3", "%E9", "%C3%A9"]),
)


@given(pieces=st.lists(_PIECES, max_size=8))
def test_decode_path_is_unquote_then_slashes_collapsed(pieces: list[str]) -> None:
    path = "/" + "".join(pieces)
    expected = path
    with suppress(UnicodeDecodeError):  # not UTF-8 once decoded: as written
        expected = unquote(path, errors="strict")
    while "//" in expected:
        expected = expected.replace("//", "/")
    assert decode_path(path) == expected


def test_several_keys_are_remembered_in_order_and_agreeing_keys_count_once() -> None:
    several = Keying.parse(["{status_class}", "{path}", "{user}"], ["status>=500"])
    assert Keying.from_dict(several.to_dict()) == several
    assert several != Keying.parse(["{path}", "{status_class}", "{user}"], ["status>=500"])
    fields = {"path": "/a", "status": 503, "status_class": "5xx", "user": "/a"}
    assert several.apply_all(fields) == ["5xx", "/a"]
    assert several.apply_all({**fields, "status": 200}) is None
    assert Keying.parse("{path}", None) == Keying.parse(["{path}"], None) == Keying()


def test_decoding_is_remembered_and_off_keeps_the_plain_parser() -> None:
    decoding = Keying.parse(None, None, None, decode_paths=True)
    assert Keying.from_dict(decoding.to_dict()) == decoding != Keying()
    assert "paths decoded" in decoding.describe()
    assert Keying.from_dict(Keying().to_dict()) == Keying()
    parser = make_parser("combined")
    assert keyed(parser, Keying()) is parser  # off: the format's own (fast) parser
    assert keyed(parser, decoding) is not parser


def test_keys_count_alike_in_any_order_and_with_an_unknown_layout() -> None:
    """Order never changes a count (QA R5); a layout compares only when both are known: a
    state saved before layouts were kept merges with one that keeps it (QA S2)."""  # noqa: D205, D209
    one = Keying.parse(["{a}", "{b}"], ["x=1", "y>2"], None, False, "$a $b")
    other = Keying.parse(["{b}", "{a}"], ["y>2", "x=1"], None, False, None)
    assert one.counts_like(other) and other.counts_like(one)
    assert not one.counts_like(Keying.parse(["{a}", "{b}"], ["x=1", "y>2"], None, False, "$b $a"))
    assert not one.counts_like(Keying.parse(["{a}"], ["x=1", "y>2"], None, False, "$a $b"))
