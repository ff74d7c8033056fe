"""Some sketches of a tracker as `DistinctTracker.sketch_rows` writes them, the others left.

A store that knows which (endpoint, bucket) sketches changed encodes only those.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hitcount.sketches.distinct import DistinctTracker

Key = tuple[str, int]


def texts_of(tracker: DistinctTracker, keys: Iterable[Key]) -> dict[Key, str | None] | None:
    """Each key's sketch in base64 (None: no such sketch), or None when registers wait in
    the bulk log (only `sketch_rows` encodes those: the caller encodes them all)."""  # noqa: D205, D209
    if tracker._log is not None:
        return None
    held = tracker._sketches
    texts: dict[Key, str | None] = {}
    for endpoint, bucket in keys:
        sketch = held.get(endpoint, {}).get(bucket)
        texts[(endpoint, bucket)] = None if sketch is None else sketch.to_base64()
    return texts
