"""Types of the C scanner (`_scan.c`)."""

from typing import Any

Buffer = Any  # numpy arrays or bytes: anything with the buffer protocol

def scan(
    block: bytes, users: bool, latest: float, seed: int, /
) -> (
    tuple[list[bytes], bytearray, bytearray, list[bytes] | None, bytearray | None, bool] | None
): ...
def reduce(
    codes: Buffer,
    ts: Buffer,
    user_codes: Buffer,
    user_registers: Buffer,
    bucket_s: float,
    precision: int,
    /,
) -> tuple[bytearray, bytearray, bytearray, bytearray, bytearray] | None: ...
