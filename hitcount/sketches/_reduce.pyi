"""Types of the C reduction (`sketches/_reduce.c`)."""

from collections.abc import Sequence
from typing import Any

Buffer = Any  # numpy arrays or bytes: anything with the buffer protocol

def reduce(
    codes: Buffer,
    ts: Buffer,
    user_codes: Buffer,
    user_registers: Buffer,
    bucket_s: float,
    precision: int,
    closed_right: bool,
    /,
) -> tuple[bytearray, bytearray, bytearray, bytearray, bytearray] | None: ...
def user_registers(names: Sequence[str], precision: int, /) -> bytes: ...
def last_per_register(keys: Buffer, /) -> int: ...
def low_words(keys: Buffer, starts: Buffer, sizes: Buffer, /) -> bytes: ...
