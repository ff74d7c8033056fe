"""Types of the C reduction (`sketches/_reduce.c`)."""

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
