"""`sliding`: every timestamp kept in a sorted array, pruned past `max_window_s`."""

from __future__ import annotations

from array import array
from bisect import bisect_right, insort
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from hitcount.errors import StateError
from hitcount.model.answers import EMPTY_ANSWER, WindowAnswer
from hitcount.model.hits import MAX_TS
from hitcount.model.packed import from_little_endian, little_endian
from hitcount.strategies.base import Param, Strategy, decode_state, same_kind
from hitcount.strategies.capabilities import KeepsTimestamps
from hitcount.strategies.reductions import RunReducer, SortedRuns

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: Rough bytes of bookkeeping per endpoint besides its timestamps.
_ENDPOINT_OVERHEAD_BYTES = 64


class _SlidingState(msgspec.Struct, forbid_unknown_fields=True):
    timestamps: dict[str, list[float]] | None = None
    timestamps_f8: dict[str, bytes] | None = None


def _arrays(state: _SlidingState) -> Iterator[tuple[str, array[float]]]:
    for endpoint, values in (state.timestamps or {}).items():
        yield endpoint, array("d", sorted(values))
    for endpoint, data in (state.timestamps_f8 or {}).items():
        if len(data) % 8:
            raise StateError(f"invalid sliding state: truncated timestamps for {endpoint!r}")
        yield endpoint, from_little_endian("d", data)


#: Arrays longer than this are checked with numpy (one vectorized pass).
_VECTOR_CHECK_MIN = 100_000


def _sorted_in_range(times: array[float]) -> bool:
    """All finite, within 1970..9999, in ascending order."""
    if len(times) >= _VECTOR_CHECK_MIN:
        import numpy as np

        values = np.frombuffer(times, dtype=np.float64)
        in_range = bool(np.all((values >= 0) & (values <= MAX_TS)))
        return in_range and bool(np.all(values[1:] >= values[:-1]))
    previous = 0.0
    for ts in times:
        if not (previous <= ts <= MAX_TS):  # also false for NaN
            return False
        previous = ts
    return True


class SlidingWindow(Strategy, KeepsTimestamps):
    """Exact sliding window: each endpoint keeps its hit timestamps, sorted (8 bytes each).

    Queries are two binary searches, O(log n). Timestamps at or before the horizon
    (latest hit - max_window_s - lateness allowance) are pruned, so memory stays bounded.
    """

    name = "sliding"
    summary = "exact: every timestamp kept, pruned past --max-window"
    is_exact = True
    retention_param = "max_window_s"
    params_spec = (
        Param(
            "max_window_s",
            float,
            3600.0,
            "longest window queries can ask for, in seconds",
            "--max-window",
            minimum=0,
            exclusive_minimum=True,
            maximum=MAX_TS,
        ),
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self._times: dict[str, array[float]] = {}

    def retention_s(self) -> float:
        """Queries up to `max_window_s` back from the latest hit are complete."""
        return float(self.params["max_window_s"])

    def record(self, endpoint: str, ts: float) -> bool:
        """Insert one timestamp in order (O(1) when it is the newest)."""
        if ts <= self.horizon:
            return False
        times = self._times.get(endpoint)
        if times is None:
            times = self._times[endpoint] = array("d")
        if not times or ts >= times[-1]:
            times.append(ts)
        else:
            insort(times, ts)
        return True

    def record_many(self, endpoint: str, timestamps: Sequence[float]) -> int:
        """Merge a batch of timestamps into the endpoint's sorted array."""
        fresh = sorted(ts for ts in timestamps if ts > self.horizon)
        if not fresh:
            return 0
        times = self._times.get(endpoint)
        if times is None or not times or fresh[0] >= times[-1]:
            if times is None:
                times = self._times[endpoint] = array("d")
            times.extend(fresh)
        else:
            merged = sorted([*times, *fresh])
            self._times[endpoint] = array("d", merged)
        return len(fresh)

    def record_array(self, endpoint: str, timestamps: npt.NDArray[np.float64]) -> int:
        """Merge a numpy batch into the endpoint's sorted array (8 bytes per timestamp)."""
        import numpy as np

        fresh = np.sort(timestamps[timestamps > self.horizon], kind="stable")  # ~sorted: fast
        return self._merge_sorted(endpoint, fresh)

    def reducer(self) -> RunReducer:
        """Workers sort each endpoint's timestamps."""
        return RunReducer()

    def record_reduced(self, names: Sequence[str], reduced: object) -> int | None:
        """Merge a worker's sorted runs (every hit on time); None if not `SortedRuns`."""
        if not isinstance(reduced, SortedRuns) or reduced.made_by != self.reducer():
            return None
        return sum(self._merge_sorted(names[code], run) for code, run in reduced.runs())

    def _merge_sorted(self, endpoint: str, fresh: npt.NDArray[np.float64]) -> int:
        """Merge sorted on-time timestamps into the endpoint's sorted array."""
        import numpy as np

        if not len(fresh):
            return 0
        times = self._times.get(endpoint)
        if times is None:
            times = self._times[endpoint] = array("d")
        if not times or fresh[0] >= times[-1]:
            times.frombytes(fresh.tobytes())
        else:  # only the tail newer than the batch's oldest hit is merged and rewritten
            cut = bisect_right(times, float(fresh[0]))
            tail = np.frombuffer(times, dtype=np.float64)[cut:].copy()
            del times[cut:]
            times.frombytes(np.sort(np.concatenate((tail, fresh)), kind="stable").tobytes())
        return len(fresh)

    def prune(self, horizon: float) -> dict[str, int]:
        """Drop timestamps `<= horizon` from every endpoint."""
        if horizon <= self.horizon:
            return {}
        self.horizon = horizon
        removed: dict[str, int] = {}
        for endpoint in list(self._times):
            times = self._times[endpoint]
            cut = bisect_right(times, horizon)
            if cut:
                removed[endpoint] = cut
                if cut == len(times):
                    del self._times[endpoint]
                else:
                    del times[:cut]
        return removed

    def query(self, endpoint: str, start: float, end: float, clock: float) -> WindowAnswer:
        """Exact count of `start < ts <= end`, by binary search."""
        complete = start >= self.horizon
        times = self._times.get(endpoint)
        if times is None:
            return EMPTY_ANSWER if complete else WindowAnswer.exactly(0, complete=False)
        count = bisect_right(times, end) - bisect_right(times, start)
        return WindowAnswer.exactly(count, complete=complete)

    def endpoints(self) -> Iterable[str]:
        """Endpoints with at least one retained timestamp."""
        return self._times.keys()

    def totals(self) -> dict[str, int]:
        """Retained timestamps per endpoint."""
        return {endpoint: len(times) for endpoint, times in self._times.items()}

    def data_times(self) -> tuple[float, float] | None:
        """The oldest and the newest retained timestamp."""
        arrays = [times for times in self._times.values() if times]
        if not arrays:
            return None
        return min(times[0] for times in arrays), max(times[-1] for times in arrays)

    def timestamps(self, endpoint: str) -> Sequence[float]:
        """The retained timestamps of one endpoint, sorted."""
        return self._times.get(endpoint, array("d"))

    def set_timestamps(self, endpoint: str, timestamps: Sequence[float]) -> None:
        """Replace one endpoint's timestamps (sorted; checked by `load_state`, not here)."""
        if timestamps:
            self._times[endpoint] = array("d", timestamps)
        else:
            self._times.pop(endpoint, None)

    def memory_entries(self) -> int:
        """Number of retained timestamps."""
        return sum(len(times) for times in self._times.values())

    def state_bytes(self) -> int:
        """8 bytes per timestamp plus the endpoint names."""
        return sum(
            8 * len(times) + len(endpoint) + _ENDPOINT_OVERHEAD_BYTES
            for endpoint, times in self._times.items()
        )

    def to_state(self) -> dict[str, Any]:
        """`{"timestamps": {endpoint: [ts, ...]}}`, sorted."""
        return {"timestamps": {ep: times.tolist() for ep, times in self._times.items()}}

    def to_compact_state(self) -> dict[str, Any]:
        """`{"timestamps_f8": {endpoint: base64 of little-endian float64s}}`: 8 bytes a hit."""
        return {"timestamps_f8": {ep: little_endian(times) for ep, times in self._times.items()}}

    def load_state(self, raw: bytes) -> None:
        """Load either form of `to_state` / `to_compact_state`, checking every value."""
        decoded: _SlidingState = decode_state(raw, _SlidingState, self.name)
        if (decoded.timestamps is None) == (decoded.timestamps_f8 is None):
            raise StateError("invalid sliding state: needs 'timestamps' or 'timestamps_f8'")
        loaded: dict[str, array[float]] = {}
        for endpoint, times in _arrays(decoded):
            if not endpoint:
                raise StateError("invalid sliding state: empty endpoint")
            if not _sorted_in_range(times):
                raise StateError(f"invalid sliding state: bad timestamps for {endpoint!r}")
            if times:
                loaded[endpoint] = times
        self._times = loaded

    @classmethod
    def convert(
        cls, source: Strategy, params: Mapping[str, object], lateness_s: float = 0.0
    ) -> Strategy:
        """From any strategy that keeps every timestamp (another sliding window); anything
        else is refused."""  # noqa: D205, D209
        if not isinstance(source, KeepsTimestamps):
            return super().convert(source, params, lateness_s)
        target = cls(**params)
        target.horizon = source.horizon
        for endpoint in source.endpoints():
            target.set_timestamps(endpoint, source.timestamps(endpoint))
        return target

    @classmethod
    def merged(cls, parts: Sequence[Strategy]) -> Strategy:
        """Each endpoint's sorted arrays merged into one: exactly the union of the hits.

        The horizon is the earliest part's; the caller prunes to the latest.
        """
        import numpy as np

        sliding = same_kind(cls, parts)
        target = cls(**sliding[0].params)
        target.horizon = min(part.horizon for part in sliding)
        endpoints = {endpoint for part in sliding for endpoint in part._times}
        for endpoint in sorted(endpoints):
            arrays = [
                np.frombuffer(part._times[endpoint], dtype=np.float64)
                for part in sliding
                if endpoint in part._times
            ]
            merged = np.sort(np.concatenate(arrays), kind="stable")
            times = target._times[endpoint] = array("d")
            times.frombytes(merged.tobytes())
        return target
