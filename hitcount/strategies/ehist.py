"""`ehist`: an exponential histogram per endpoint (Datar, Gionis, Indyk, Motwani 2002).

M. Datar, A. Gionis, P. Indyk, R. Motwani, "Maintaining Stream Statistics over Sliding
Windows", SIAM Journal on Computing 31(6), 2002. Each endpoint keeps *buckets*
`(newest timestamp, size)` whose sizes are powers of two, at most `k // 2 + 2` of each size
(`k = ceil(1 / epsilon)`); when a size has one more, its two oldest buckets merge into one of
twice the size (which keeps the newer timestamp). Sizes never decrease from newest to oldest,
and every size below the largest keeps at least `k // 2 + 1` buckets. A window ending at or
after the newest bucket then cuts at most one bucket, at its left edge, and everything newer
is far larger than it: the count of such a window (any window up to `max_window_s` ending
now) has relative error below `epsilon`; earlier windows get certain bounds only. All in
O((1/epsilon) log^2 N) bits per endpoint (O((1/epsilon) log N) buckets of O(log N) bits).

The histogram needs its input in timestamp order, and real logs arrive out of order. So
each endpoint's recent hits (`kept_s` behind its newest: `buffer_s`, or the engine's lateness
allowance if longer, so that no hit inside the allowance is lost) stay exact in a sorted
buffer and move into the histogram in order once older. A hit older than what has moved, or
than the late edge (outside the allowance: `horizon + max_window_s`, or the lateness
allowance behind the newest hit kept when that is earlier, as after a swap or reset set the
horizon), is refused (late). Buckets expire as hits are inserted, so the state depends only
on the hits kept and the horizon.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from hitcount.errors import StateError
from hitcount.model.answers import EMPTY_ANSWER, WindowAnswer
from hitcount.model.hits import MAX_TS
from hitcount.model.metrics import plain
from hitcount.strategies.base import Param, Strategy, decode_state
from hitcount.strategies.capabilities import KeepsTimestamps, replayed_into
from hitcount.strategies.ehist_parts import EHistState, Endpoint, checked_endpoint

if TYPE_CHECKING:  # numpy is imported only on the batch ingest path
    import numpy as np
    import numpy.typing as npt

_ENDPOINT_OVERHEAD_BYTES = 64
#: A compact bucket: an 8-byte timestamp and a 1-byte size exponent.
_BUCKET_BYTES = 9
_TS_BYTES = 8
#: Largest bucket size accepted from a saved state.
_MAX_SIZE = 2**62
#: Compact the buffer's consumed prefix once it is this long (and half the list).
_COMPACT_AT = 64


class ExponentialHistogram(Strategy):
    """Counts within `epsilon` for windows up to `max_window_s` ending now, in little memory.

    Time is epoch seconds; a window is `(start, end]`, i.e. `now - N < ts <= now`. Every
    answer's `low` and `high` are certain bounds. When the window ends at or after the
    histogram's newest bucket (any window ending at the replay clock), the bounds are within
    `(true - 1) / (k // 2 + 1)` of each other (`k = ceil(1 / epsilon)`), so their midpoint,
    `count`, is within `epsilon * true` of the true count. Older ("historical") windows get
    certain but possibly wider bounds.
    """

    name = "ehist"
    summary = "approximate: exponential histogram, windows ending now within --epsilon"
    is_exact = False
    refuses_inside_retention = True
    retention_param = "max_window_s"
    params_spec = (
        Param("max_window_s", float, 3600.0, "longest window queries can ask for, in seconds",
              "--max-window", minimum=0, exclusive_minimum=True, maximum=MAX_TS),
        Param("epsilon", float, 0.05, "relative error bound, 0 < epsilon < 1", "--epsilon",
              minimum=1e-9, maximum=1.0, exclusive_maximum=True),
        Param("buffer_s", float, 60.0, "recent seconds kept exact (at least --max-lateness,"
              " which alone says how late a line may be)", "--buffer", minimum=0, maximum=MAX_TS),
    )  # fmt: skip

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.max_window_s = float(self.params["max_window_s"])
        self.epsilon = float(self.params["epsilon"])
        self.buffer_s = float(self.params["buffer_s"])
        #: Seconds kept exact: `buffer_s`, or the engine's lateness allowance if longer.
        self.kept_s = self.buffer_s
        self.lateness_s = 0.0  # the engine's allowance (`allow_lateness`)
        self._newest = -math.inf  # the replay clock, as far as it is known (`note_clock`)
        self.k = math.ceil(1.0 / self.epsilon)
        #: Most buckets of one size; a merge leaves `per_size - 1` of that size.
        self.per_size = self.k // 2 + 2
        self._endpoints: dict[str, Endpoint] = {}
        #: Per endpoint, timestamps of expired buckets that no `prune` has reported yet.
        self._expired: dict[str, list[float]] = {}

    def _new_endpoint(self, endpoint: str) -> Endpoint:
        return Endpoint(self._expired.setdefault(endpoint, []))

    def allow_lateness(self, lateness_s: float) -> str | None:
        """Keep at least the last `lateness_s` seconds exact: no hit inside it is refused."""
        self.kept_s, self.lateness_s = max(self.buffer_s, lateness_s), lateness_s
        return (
            None
            if self.kept_s == self.buffer_s
            else (
                f"note: --buffer {plain(self.buffer_s)} is shorter than --max-lateness"
                f" {plain(lateness_s)}: the last {plain(lateness_s)} s of each endpoint stay exact,"
                " so that no hit inside the lateness allowance is lost"
            )
        )

    def retention_s(self) -> float:
        """Queries up to `max_window_s` back from the latest hit are complete."""
        return self.max_window_s

    # -- recording -------------------------------------------------------------------

    def record(self, endpoint: str, ts: float) -> bool:
        """Count one hit at `ts` (epoch seconds).

        Returns:
            False (a late hit) when `ts` is older than the late edge (`late_edge`), or than
            the newest hit already moved into the histogram (it cannot be inserted in order).
        """
        if not (ts > self.horizon and ts >= self.late_edge()):  # NaN too
            return False
        state = self._endpoints.get(endpoint)
        if state is None:
            state = self._endpoints[endpoint] = self._new_endpoint(endpoint)
        else:
            frontier = state.frontier()
            if frontier is not None and ts < frontier:
                return False
        self._buffer_one(state, float(ts) + 0.0)  # + 0.0 turns -0.0 into 0.0
        return True

    def note_clock(self, clock: float) -> None:
        """The replay clock (the engine's, set after each hit or batch it recorded: within a
        batch, grouped by endpoint, the edge stays where the batch found it)."""  # noqa: D205, D209
        self._newest = max(self._newest, clock)

    def late_edge(self) -> float:
        """Hits older than this are refused: the lateness allowance behind the newest hit
        kept, or `horizon + max_window_s` when earlier (as pruning sets the horizon, it is
        that allowance on the prune grid; a horizon a swap or `--reset` set may be later)."""  # noqa: D205, D209
        return min(self.horizon + self.max_window_s, self._newest - self.lateness_s)

    def record_many(self, endpoint: str, timestamps: Sequence[float]) -> int:
        """Count a batch of one endpoint's hits: the same state as `record` one by one.

        A batch in timestamp order is merged into the buffer at once; any other batch is
        recorded hit by hit, so that the same hits are refused.
        """
        stamps = [float(ts) + 0.0 for ts in timestamps]
        if not all(a <= b for a, b in pairwise(stamps)):
            return sum(1 for ts in stamps if self.record(endpoint, ts))
        state = self._endpoints.get(endpoint) or self._new_endpoint(endpoint)
        frontier = state.frontier()
        floor = max(self.late_edge(), -math.inf if frontier is None else frontier)
        first = 0
        while first < len(stamps) and (stamps[first] <= self.horizon or stamps[first] < floor):
            first += 1
        fresh = stamps[first:]
        if not fresh:
            return 0
        self._endpoints[endpoint] = state
        live = state.live()
        state.buffer = live + fresh if not live or fresh[0] >= live[-1] else sorted(live + fresh)
        state.head = 0
        self._flush(state, state.buffer[-1] - self.kept_s)
        return len(fresh)

    def late_mask(
        self, timestamps: npt.NDArray[np.float64], horizons: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        """The hits `record` refuses at these horizons, older than the late edge each meets
        (hits older than the histogram's newest are refused later, by `record_many`)."""  # noqa: D205, D209
        import numpy as np

        newest = np.maximum(np.maximum.accumulate(timestamps), self._newest)
        edge = np.minimum(horizons + self.max_window_s, newest - self.lateness_s)
        return (timestamps <= horizons) | (timestamps < edge)

    def _buffer_one(self, state: Endpoint, ts: float) -> None:
        """Insert `ts` into the buffer, then move what fell `kept_s` behind the newest."""
        buffer = state.buffer
        if state.head == len(buffer) or ts >= buffer[-1]:
            buffer.append(ts)
        else:
            insort(buffer, ts, lo=state.head)
        self._flush(state, buffer[-1] - self.kept_s)

    def _flush(self, state: Endpoint, before: float) -> None:
        """Move the buffered timestamps `< before` into the histogram, oldest first."""
        buffer, head = state.buffer, state.head
        while head < len(buffer) and buffer[head] < before:
            self._insert(state, buffer[head])
            head += 1
        if head == len(buffer):
            buffer.clear()
            head = 0
        elif head >= _COMPACT_AT and 2 * head >= len(buffer):
            del buffer[:head]
            head = 0
        state.head = head

    def _insert(self, state: Endpoint, ts: float) -> None:
        """DGIM insertion of the newest hit: expire, add a bucket of size 1, merge upward."""
        self._drop_oldest(state, ts, self.max_window_s, state.expired)
        classes = state.classes
        if not classes:
            classes.append(deque())
        classes[0].append(ts)
        size_log = 0
        while len(classes[size_log]) > self.per_size:
            same = classes[size_log]
            same.popleft()
            newer = same.popleft()
            if size_log + 1 == len(classes):
                classes.append(deque())
            classes[size_log + 1].append(newer)
            size_log += 1

    @staticmethod
    def _drop_oldest(
        state: Endpoint, cut: float, shift: float, into: list[float] | None = None
    ) -> int:
        """Drop the oldest buckets while `bucket ts + shift <= cut` (their ts go `into`)."""
        classes = state.classes
        dropped = 0
        while classes:
            oldest = classes[-1]
            while oldest and oldest[0] + shift <= cut:
                ts = oldest.popleft()
                dropped += 1
                if into is not None:
                    into.append(ts)
            if oldest:
                break
            classes.pop()
        return dropped

    def prune(self, horizon: float) -> dict[str, int]:
        """Drop the buckets whose newest hit is at or before `horizon` (epoch seconds).

        Buffered hits older than `horizon + max_window_s` first move into the histogram
        (no hit can be recorded before them any more). Buckets that expired while recording
        are reported by the first prune whose horizon reaches them, so the counts do not
        depend on how often prune runs.
        """
        if horizon <= self.horizon:
            return {}
        self.horizon = horizon
        removed: dict[str, int] = {}
        for endpoint, state in list(self._endpoints.items()):
            self._flush(state, horizon + self.max_window_s)
            if count := self._drop_oldest(state, horizon, 0.0):
                removed[endpoint] = count
            if state.is_empty():
                del self._endpoints[endpoint]
        for endpoint, expired in list(self._expired.items()):
            if cut := bisect_right(expired, horizon):
                removed[endpoint] = removed.get(endpoint, 0) + cut
                del expired[:cut]
            if not expired and endpoint not in self._endpoints:
                del self._expired[endpoint]
        return removed

    # -- answering -------------------------------------------------------------------

    def query(self, endpoint: str, start: float, end: float, clock: float) -> WindowAnswer:
        """Hits with `start < ts <= end`: exact over the buffer, bounded over the buckets.

        A bucket `(ts, size)` holds hits between the previous bucket's timestamp and `ts`,
        one of them at `ts`. It counts fully when that span lies inside the window; when it
        straddles an edge it adds 1 to `low` if `ts` is inside (else 0) and `size` to `high`
        (`size - 1` if `ts` is past `end`). `count` is the midpoint of the bounds: the
        paper's "all buckets inside plus half the straddling one", plus the half hit known
        to be inside. The answer is incomplete when `start` is before the horizon or more
        than `max_window_s` before the newest bucket (older buckets may have expired).
        """
        complete = start >= self.horizon
        state = self._endpoints.get(endpoint)
        if state is None or not start < end:
            return EMPTY_ANSWER if complete else WindowAnswer.exactly(0, complete=False)
        frontier = state.frontier()
        if frontier is not None and start + self.max_window_s < frontier:
            complete = False
        buffer, head = state.buffer, state.head
        exact = max(bisect_right(buffer, end, head) - bisect_right(buffer, start, head), 0)
        low, high = self._bucket_bounds(state, start, end)
        if low == high:
            return WindowAnswer.exactly(exact + low, complete=complete)
        low, high = exact + low, exact + high
        return WindowAnswer((low + high) / 2, low, high, False, complete=complete)

    @staticmethod
    def _bucket_bounds(state: Endpoint, start: float, end: float) -> tuple[int, int]:
        """Certain bounds on the histogram's hits in `(start, end]`."""
        low = high = 0
        previous = -math.inf  # the oldest bucket's span has no known beginning
        for size_log in range(len(state.classes) - 1, -1, -1):
            size = 1 << size_log
            for ts in state.classes[size_log]:
                if start < ts <= end:
                    low += size if previous > start else 1
                    high += size
                elif ts > end and previous <= end:
                    high += size - 1
                previous = ts
        return low, high

    def endpoints(self) -> Iterable[str]:
        """Endpoints with buffered hits or buckets."""
        return self._endpoints.keys()

    def data_times(self) -> tuple[float, float] | None:
        """The newest hit of the oldest bucket (or buffer), and the newest hit of all."""
        ends = [state.ends() for state in self._endpoints.values() if not state.is_empty()]
        return (min(e[0] for e in ends), max(e[1] for e in ends)) if ends else None

    def totals(self) -> dict[str, int]:
        """Retained hits per endpoint: bucket sizes plus buffered hits."""
        return {
            endpoint: sum(len(ts) << j for j, ts in enumerate(state.classes))
            + len(state.buffer)
            - state.head
            for endpoint, state in self._endpoints.items()
        }

    def buckets(self, endpoint: str) -> list[tuple[float, int]]:
        """`(newest timestamp, size)` of one endpoint's buckets, oldest first."""
        state = self._endpoints.get(endpoint)
        return state.buckets() if state else []

    def buffered(self, endpoint: str) -> list[float]:
        """One endpoint's exact, not yet bucketed timestamps, sorted."""
        state = self._endpoints.get(endpoint)
        return state.live() if state else []

    def memory_entries(self) -> int:
        """Buckets plus buffered timestamps."""
        return sum(
            sum(map(len, state.classes)) + len(state.buffer) - state.head
            for state in self._endpoints.values()
        )

    def state_bytes(self) -> int:
        """9 bytes per bucket (timestamp, size exponent), 8 per buffered hit, plus names."""
        return sum(
            _BUCKET_BYTES * sum(map(len, state.classes))
            + _TS_BYTES * (len(state.buffer) - state.head)
            + len(endpoint)
            + _ENDPOINT_OVERHEAD_BYTES
            for endpoint, state in self._endpoints.items()
        )

    # -- persistence and swaps -----------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """`{"endpoints": {ep: {"buckets": [[ts, size], ...], "buffer": [ts, ...]}}}`, sorted."""
        return {
            "endpoints": {
                endpoint: {"buckets": [list(b) for b in state.buckets()], "buffer": state.live()}
                for endpoint, state in self._endpoints.items()
            }
        }

    def load_state(self, raw: bytes) -> None:
        """Load a document made by `to_state`, checking every value and the DGIM invariant.

        Raises:
            StateError: unknown fields, bad timestamps or sizes, unsorted or misordered
                buckets, too many (or, below the largest size, too few) buckets of a size,
                or an unsorted buffer.
        """
        decoded: EHistState = decode_state(raw, EHistState, self.name)
        loaded: dict[str, Endpoint] = {}
        for endpoint, entry in decoded.endpoints.items():
            if not endpoint:
                raise StateError("invalid ehist state: empty endpoint")
            state = checked_endpoint(entry, endpoint, self.per_size)
            if not state.is_empty():
                loaded[endpoint] = state
        self._endpoints = loaded
        self._expired = {endpoint: state.expired for endpoint, state in loaded.items()}
        self._newest = max((state.ends()[1] for state in loaded.values()), default=-math.inf)

    @classmethod
    def convert(
        cls, source: Strategy, params: Mapping[str, object], lateness_s: float = 0.0
    ) -> Strategy:
        """From sliding, feed every timestamp in order (no loss); refuse anything else.

        Raises:
            SwapRefusedError: the source has no individual timestamps (fixed, morris...).
        """
        if not isinstance(source, KeepsTimestamps):
            return super().convert(source, params, lateness_s)
        target = cls(**params)
        target.allow_lateness(lateness_s)  # the hits inside the allowance stay exact
        return replayed_into(target, source, source.endpoints(), source.horizon)
