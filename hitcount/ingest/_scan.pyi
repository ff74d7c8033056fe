"""Types of the C scanner (`ingest/_scan.c`)."""

def scan(
    block: bytes, users: bool, latest: float, seed: int, /
) -> (
    tuple[list[bytes], bytearray, bytearray, list[bytes] | None, bytearray | None, bool] | None
): ...
def scan_lines(
    block: bytes | memoryview,
    format: int,
    users: bool,
    latest: float,
    seed: int,
    endpoint_col: int,
    ts_col: int,
    user_col: int,
    precision: int = 0,
    /,
) -> tuple[
    list[bytes], bytearray, bytearray, list[bytes] | bytes | None, bytearray | None, bytearray
]: ...
def scan_fields(
    block: bytes | memoryview,
    format: int,
    users: bool,
    latest: float,
    seed: int,
    names: tuple[bytes, ...],
    /,
) -> tuple[
    list[bytes],
    bytearray,
    bytearray,
    list[bytes] | None,
    bytearray | None,
    bytearray,
    list[tuple[list[bytes], bytearray]],
]: ...
