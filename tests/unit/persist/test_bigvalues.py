"""Large values streamed in pieces give the same document as encoding them whole."""

from __future__ import annotations

import os
from array import array

import msgspec
import pytest

from hitcount.model.packed import Base64Value
from hitcount.persist.bigvalues import encode_chunks
from hitcount.persist.stores import store_from_url

PIECE = 3 * 128 * 1024


@pytest.mark.parametrize("size", [0, 1, 2, 3, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 2])
def test_streamed_document_equals_msgspec_encoding_bytes(size: int) -> None:
    blob = os.urandom(size)
    other = os.urandom(7)
    document = {"a": [1, "x"], "big": Base64Value(blob), "nested": {"k": Base64Value(other)}}
    expected = msgspec.json.encode({"a": [1, "x"], "big": blob, "nested": {"k": other}})
    chunks = list(encode_chunks(document))
    assert b"".join(chunks) == expected
    if size > PIECE:
        assert max(map(len, chunks)) < 4 * PIECE // 3 + 8  # never the whole text at once


def test_a_key_that_looks_like_a_placeholder_stays_text() -> None:
    document = {'"x:0"': Base64Value(b"abc"), "x:0": "x:0"}
    assert b"".join(encode_chunks(document)) == msgspec.json.encode({'"x:0"': b"abc", "x:0": "x:0"})


def test_other_objects_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot encode"):
        b"".join(encode_chunks({"a": object()}))


def test_the_array_can_grow_while_or_after_its_value_is_written() -> None:
    times = array("d", [1.0, 2.0])
    value = Base64Value(times)
    times.append(3.0)  # no buffer held between pieces
    pieces = value.pieces()
    assert next(pieces) == b"AAAAAAAA8D8AAAAAAAAAQAAAAAAAAAhA"
    times.append(4.0)  # a write abandoned half-way pins nothing either


def test_file_store_writes_the_pieces(tmp_path: os.PathLike[str]) -> None:
    store = store_from_url(str(tmp_path) + "/state.json")
    store.save_chunks([b'{"a":', b"1}"])
    assert store.load() == b'{"a":1}'
