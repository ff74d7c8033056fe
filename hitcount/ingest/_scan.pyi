"""Types of the C scanner (`ingest/_scan.c`)."""

def scan(
    block: bytes, users: bool, latest: float, seed: int, /
) -> (
    tuple[list[bytes], bytearray, bytearray, list[bytes] | None, bytearray | None, bool] | None
): ...
