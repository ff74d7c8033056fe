"""Arrays a state document holds as base64 text, encoded lazily a piece at a time.

A strategy's compact state puts `Base64Value`s where a document holds the base64 text of
large arrays (sliding's timestamps, fixed's bucket pairs, the packed distinct-users
registers); the persistence layer streams their text into the file (`persist/bigvalues`).
"""

from __future__ import annotations

import sys
from array import array
from binascii import b2a_base64
from collections.abc import Iterator
from typing import Any

#: Bytes encoded per piece (a multiple of 3, so the pieces' texts join without padding).
_PIECE_BYTES = 3 * 128 * 1024


class Base64Value:
    """Bytes (anything with the buffer protocol) that a document holds as base64 text."""

    __slots__ = ("_data",)

    def __init__(self, data: Any) -> None:
        """Keep `data` (a bytes-like object or a contiguous array); no copy."""
        self._data = data

    def __len__(self) -> int:
        with memoryview(self._data) as view:
            return view.nbytes

    def pieces(self) -> Iterator[bytes]:
        """The base64 text of the bytes as they are when the write starts, a piece at a time.

        No buffer stays exported between pieces, so the array may grow again as soon as
        the write is over, or abandoned (an exported buffer pins an array's size).
        """
        for start in range(0, len(self), _PIECE_BYTES):
            with memoryview(self._data) as view, view.cast("B") as flat:
                piece = b2a_base64(flat[start : start + _PIECE_BYTES], newline=False)
            yield piece


def little_endian(values: array[Any]) -> Base64Value:
    """An array's little-endian bytes as a base64 value (a copy only on big-endian machines)."""
    if sys.byteorder == "little":
        return Base64Value(values)
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return Base64Value(swapped)


def from_little_endian(typecode: str, data: bytes) -> array[Any]:
    """The array of `typecode` items whose little-endian bytes are `data` (whole items)."""
    values = array(typecode)
    values.frombytes(data)
    if sys.byteorder != "little":
        values.byteswap()
    return values
