"""A tracker's sketches as a store's rows: `HyperLogLog.to_bytes` per (endpoint, bucket).

`sketch_blobs` encodes them all (from the bulk register log in one pass when registers wait
there); a store that knows which sketches changed encodes only those (`blobs_of`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hitcount.sketches.distinct import DistinctTracker

Key = tuple[str, int]


def sketch_blobs(tracker: DistinctTracker) -> list[tuple[str, int, bytearray]]:
    """`(endpoint, bucket, to_bytes())` of every sketch (bytearrays: sqlite3 binds them
    fastest)."""  # noqa: D205, D209
    log = tracker._bulk()
    if log is not None:
        return log.byte_rows()
    return [
        (endpoint, bucket, bytearray(sketch.to_bytes()))
        for endpoint, buckets in tracker._sketches.items()
        for bucket, sketch in buckets.items()
    ]


def blobs_of(tracker: DistinctTracker, keys: Iterable[Key]) -> dict[Key, bytes | None] | None:
    """Each key's sketch as `to_bytes()` (None: no such sketch), or None when registers wait
    in the bulk log (only `sketch_blobs` encodes those: the caller encodes them all)."""  # noqa: D205, D209
    if tracker._log is not None:
        return None
    held = tracker._sketches
    blobs: dict[Key, bytes | None] = {}
    for endpoint, bucket in keys:
        sketch = held.get(endpoint, {}).get(bucket)
        blobs[(endpoint, bucket)] = None if sketch is None else sketch.to_bytes()
    return blobs
