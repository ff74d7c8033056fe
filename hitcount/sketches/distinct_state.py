"""The saved form of distinct-user sketches: decoding, checking and encoding per sketch.

Each (endpoint, bucket) sketch is saved as the base64 of `HyperLogLog.to_bytes`; the state
store may instead pack them all into a few arrays (`sketchlog.RegisterLog.packed`).
Everything read is checked: a damaged state raises ValueError, never loads half.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from hitcount.model.hits import MAX_TS
from hitcount.sketches.hll import HyperLogLog

if TYPE_CHECKING:
    from hitcount.sketches.sketchlog import RegisterLog

#: Bucket indexes beyond this are refused (they could not be exact as floats).
MAX_BUCKET = 2**53
#: The two bucket conventions: `(lo, hi]` like windows (saved since), `[lo, hi)` (before).
RIGHT_CLOSED, LEFT_CLOSED = "(lo, hi]", "[lo, hi)"


class DistinctState(msgspec.Struct, forbid_unknown_fields=True):
    """The tracker's saved fields (`DistinctTracker.to_state`)."""

    bucket_s: float
    precision: int
    retention_s: float
    horizon: float | None
    #: The bucket convention; absent in states saved before it was `(lo, hi]`.
    edges: str = LEFT_CLOSED
    endpoints: dict[str, dict[str, str]] = {}
    #: The compact form instead (`RegisterLog.packed`), written by the state store.
    packed: dict[str, str | list[str]] | None = None


def decode_state(raw: bytes | Mapping[str, Any]) -> DistinctState:
    """The fields of a saved tracker (JSON bytes or a dict), strictly typed.

    Raises:
        ValueError: a missing, unknown or mistyped field.
    """
    try:
        if isinstance(raw, (bytes, bytearray)):
            state = msgspec.json.decode(raw, type=DistinctState, strict=True)
        else:
            state = msgspec.convert(raw, type=DistinctState, strict=True)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as err:
        raise ValueError(f"invalid distinct-users state: {err}") from err
    if state.edges not in (RIGHT_CLOSED, LEFT_CLOSED):
        raise ValueError(
            f"invalid distinct-users state: edges {state.edges!r} is neither"
            f" {RIGHT_CLOSED!r} nor {LEFT_CLOSED!r}"
        )
    return state


def checked_horizon(horizon: float | None) -> float:
    """A saved horizon (None: none yet, -inf), refused when not a plausible time."""
    if horizon is None:
        return -math.inf
    if not (math.isfinite(horizon) and abs(horizon) <= 3 * MAX_TS):
        raise ValueError(f"distinct-users horizon out of range: {horizon!r}")
    return horizon


def decoded_sketches(
    endpoints: Mapping[str, Mapping[str, str]], precision: int, keeps: Callable[[int], bool]
) -> dict[str, dict[int, HyperLogLog]]:
    """The per-sketch form read back: every bucket an integer `keeps` accepts.

    Raises:
        ValueError: an empty entry, a bad bucket or sketch, or another precision.
    """
    sketches: dict[str, dict[int, HyperLogLog]] = {}
    for endpoint, buckets in endpoints.items():
        if not endpoint or not buckets:
            raise ValueError("distinct-users state has an empty endpoint entry")
        kept: dict[int, HyperLogLog] = {}
        for key, text in buckets.items():
            try:
                bucket = int(key)
            except ValueError as err:
                raise ValueError(f"distinct-users bucket {key!r} is not an integer") from err
            if str(bucket) != key or abs(bucket) > MAX_BUCKET:
                raise ValueError(f"distinct-users bucket {key!r} is invalid")
            sketch = HyperLogLog.from_base64(text)
            if sketch.precision != precision:
                raise ValueError("distinct-users sketch precision differs from the tracker's")
            if not keeps(bucket):
                raise ValueError(f"distinct-users bucket {key} lies before the horizon")
            kept[bucket] = sketch
        sketches[endpoint] = kept
    return sketches


def encoded_sketches(
    sketches: Mapping[str, Mapping[int, HyperLogLog]],
) -> dict[str, dict[str, str]]:
    """The per-sketch form: endpoint -> bucket (as text) -> base64, in sorted order."""
    return {
        endpoint: {str(b): buckets[b].to_base64() for b in sorted(buckets)}
        for endpoint, buckets in sorted(sketches.items())
    }


def packed_log(
    precision: int, packed: Mapping[str, object], keeps: Callable[[int], bool]
) -> RegisterLog | None:
    """The register log of a packed state (None: empty): every bucket one `keeps` accepts.

    Raises:
        ValueError: bad arrays, or a bucket out of range or before the horizon.
    """
    from hitcount.sketches.sketchlog import RegisterLog  # loads numpy

    log = RegisterLog.from_packed(precision, packed)
    for endpoint, bucket in log.pairs():
        if abs(bucket) > MAX_BUCKET or not keeps(bucket):
            raise ValueError(f"distinct-users bucket {bucket} of {endpoint} is invalid")
    return log if log else None
