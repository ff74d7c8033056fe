"""`auto`: exact timestamps per endpoint while cheap, an exponential histogram once hot.

Every endpoint has an exponential histogram (`ehist`, with this strategy's `max_window_s`,
`epsilon` and `buffer_s`). An endpoint that is still *exact* also keeps every timestamp
(as `sliding` does), and its answers come from them. The endpoint *switches* (for good)
when some window of `max_window_s` seconds holds more than `memory_budget` of its hits:
its timestamps are dropped, and from then on its answers are the histogram's, whose `low`
and `high` are certain bounds within `epsilon` of the true count.

Why a histogram rather than fixed buckets: its relative error stays below `epsilon` for
*every* window up to `max_window_s`, at any rate of hits, in O((1/epsilon) log^2 N) bits;
fixed buckets would need a bucket width chosen in advance and give wide bounds to windows
shorter than a bucket.

Why the histogram is kept from the first hit, not built at the switch: the switched state
is then exactly the state `ehist` would have for the same hits, so it does not depend on
*when* the switch happened; and the switch condition ("some window of `max_window_s`
holds more than `memory_budget` kept hits") only grows as hits arrive and is evaluated,
for every window a new hit falls in, while all of that window is still retained. Together
with one rule for which hits are kept (the histogram's, for every endpoint), the state
depends only on the hits kept and the horizon: not on their batching nor on when pruning
ran. The histogram costs an exact endpoint only `buffer_s` seconds of duplicated recent
timestamps plus O((1/epsilon) log N) buckets.

A hit is kept as `ehist` keeps it: not older than its late edge (`horizon + max_window_s`,
the lateness allowance: `ExponentialHistogram.late_edge`) nor than the endpoint's newest hit
already moved into the histogram.
An exact endpoint retains at most `memory_budget` hits per `max_window_s`, i.e. at most
`memory_budget * ceil((max_window_s + lateness + prune grid) / max_window_s)` timestamps
(twice the budget with the defaults); a switched one keeps only its histogram.

Switches are not events here (strategies do not own the event bus): `drain_switches()`
returns the endpoints switched since the last call, for the engine to announce.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import msgspec

from hitcount.errors import StateError
from hitcount.model.answers import WindowAnswer
from hitcount.strategies.base import Param, Strategy, decode_state
from hitcount.strategies.capabilities import KeepsTimestamps, replayed_into
from hitcount.strategies.ehist import ExponentialHistogram
from hitcount.strategies.sliding import SlidingWindow

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: Windows to check one by one (bisect) before a vectorized numpy pass is worth it.
_SCALAR_CHECKS = 16
#: Largest memory budget accepted.
_MAX_BUDGET = 2**62


class _ExactPart(SlidingWindow):
    """The exact timestamps of the endpoints that have not switched."""

    def forget(self, endpoint: str) -> None:
        """Drop every timestamp of `endpoint`."""
        self._times.pop(endpoint, None)

    def array_of(self, endpoint: str) -> array[float] | None:
        """The sorted timestamps of `endpoint` (the live array), or None."""
        return self._times.get(endpoint)


class _AutoState(msgspec.Struct, forbid_unknown_fields=True):
    switched: list[str]
    sliding: msgspec.Raw
    ehist: msgspec.Raw


class AutoStrategy(Strategy):
    """Exact per endpoint until a window of `max_window_s` holds `memory_budget` hits, then ehist.

    Time is epoch seconds; a window is `(start, end]`. Answers for exact endpoints are exact;
    for switched endpoints they are the exponential histogram's certain bounds (midpoint
    within `epsilon` of the truth for windows ending at the replay clock).
    """

    name = "auto"
    summary = (
        "adaptive: exact per endpoint until a --max-window holds --memory-budget hits, then ehist"
    )
    is_exact = False
    refuses_inside_retention = True
    retention_param = "max_window_s"
    params_spec = (
        *ExponentialHistogram.params_spec,
        Param(
            "memory_budget",
            int,
            10_000,
            "hits per --max-window an endpoint keeps exactly before it switches to ehist",
            "--memory-budget",
            minimum=1,
            maximum=_MAX_BUDGET,
        ),
    )

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.max_window_s = float(self.params["max_window_s"])
        self.memory_budget = int(self.params["memory_budget"])
        self._hist = ExponentialHistogram(
            max_window_s=self.params["max_window_s"],
            epsilon=self.params["epsilon"],
            buffer_s=self.params["buffer_s"],
        )
        self._exact = _ExactPart(max_window_s=self.params["max_window_s"])
        #: Endpoints that switched to the histogram (for good).
        self._switched: set[str] = set()
        #: Switched since the last `drain_switches`, with the time of the hit that did it.
        self._pending: list[tuple[str, float]] = []
        self.horizon = self._horizon

    # The horizon is shared with the two parts: the engine and snapshots set it directly.
    @property
    def horizon(self) -> float:
        """Hits with `ts > horizon` are all retained."""
        return self._horizon

    @horizon.setter
    def horizon(self, value: float) -> None:
        self._horizon = value
        if "_exact" in self.__dict__:
            self._exact.horizon = value
            self._hist.horizon = value

    def note_clock(self, clock: float) -> None:
        """The histogram's late edge follows the replay clock."""
        self._hist.note_clock(clock)

    def allow_lateness(self, lateness_s: float) -> str | None:
        """The histogram keeps the lateness allowance exact (see `ExponentialHistogram`)."""
        return self._hist.allow_lateness(lateness_s)

    def retention_s(self) -> float:
        """Queries up to `max_window_s` back from the latest hit are complete."""
        return self.max_window_s

    # -- recording -------------------------------------------------------------------

    def record(self, endpoint: str, ts: float) -> bool:
        """Count one hit; False (late) when the histogram's rule refuses it (see module doc)."""
        if not self._hist.record(endpoint, ts):
            return False
        if endpoint not in self._switched:
            stamp = float(ts) + 0.0
            self._exact.record(endpoint, stamp)
            self._check(endpoint, stamp, stamp)
        return True

    def record_many(self, endpoint: str, timestamps: Sequence[float]) -> int:
        """Count a batch of one endpoint's hits: the same state as `record` one by one."""
        stamps = [float(ts) + 0.0 for ts in timestamps]
        if all(a <= b for a, b in pairwise(stamps)):
            # A sorted batch loses only a prefix: hits before the lateness floor.
            kept_count = self._hist.record_many(endpoint, stamps)
            kept = stamps[len(stamps) - kept_count :]
        else:
            kept = [ts for ts in stamps if self._hist.record(endpoint, ts)]
        if kept and endpoint not in self._switched:
            self._exact.record_many(endpoint, kept)
            self._check(endpoint, min(kept), max(kept))
        return len(kept)

    def record_array(self, endpoint: str, timestamps: npt.NDArray[np.float64]) -> int:
        """`record_many` for a numpy batch; returns how many were kept (the rest are late)."""
        return self.record_many(endpoint, timestamps.tolist())

    def late_mask(
        self, timestamps: npt.NDArray[np.float64], horizons: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        """The histogram's rule for every endpoint: `ts < horizon + max_window_s` is late.

        (A hit older than an endpoint's newest bucketed hit is refused by `record_array`,
        which then returns fewer kept hits.)
        """
        return self._hist.late_mask(timestamps, horizons)

    def _check(self, endpoint: str, low: float, high: float) -> None:
        """Switch `endpoint` if a window `(y - max_window_s, y]` with `low <= y < high +
        max_window_s` (every window holding a new hit) has more than `memory_budget` hits."""  # noqa: D205, D209
        times = self._exact.array_of(endpoint)
        if times is None or len(times) <= self.memory_budget:
            return
        width, budget = self.max_window_s, self.memory_budget
        first, last = bisect_left(times, low), bisect_left(times, high + width)
        if last - first <= _SCALAR_CHECKS:
            at = next(
                (
                    times[i]
                    for i in range(first, last)
                    if bisect_right(times, times[i], i)
                    - bisect_right(times, times[i] - width, 0, i + 1)
                    > budget
                ),
                None,
            )
        else:
            import numpy as np

            values = np.frombuffer(times, dtype=np.float64)
            ends = values[first:last]
            counts = np.searchsorted(values, ends, "right") - np.searchsorted(
                values, ends - width, "right"
            )
            over = np.flatnonzero(counts > budget)
            at = float(ends[over[0]]) if len(over) else None
        if at is not None:  # the first hit whose window holds more than the budget
            self._switch(endpoint, at)

    def _switch(self, endpoint: str, at: float) -> None:
        self._exact.forget(endpoint)
        self._switched.add(endpoint)
        self._pending.append((endpoint, at))

    def drain_switches(self) -> list[tuple[str, float]]:
        """The endpoints switched to the histogram since the last call, in order, each with
        the time of the hit that passed the budget (the switch's time, not the batch's)."""  # noqa: D205, D209
        drained, self._pending = self._pending, []
        return drained

    def prune(self, horizon: float) -> dict[str, int]:
        """Drop what is at or before `horizon` from both parts.

        Returns the histogram's removals (buckets, as `ehist` reports them) for every
        endpoint: every endpoint has a histogram, so the counts do not depend on when an
        endpoint switched (the exact timestamps are dropped alongside).
        """
        if horizon <= self.horizon:
            return {}
        self._exact.prune(horizon)
        removed = self._hist.prune(horizon)
        self.horizon = horizon
        return removed

    # -- answering -------------------------------------------------------------------

    def is_switched(self, endpoint: str) -> bool:
        """Whether `endpoint` is answered by its histogram rather than exactly."""
        return endpoint in self._switched

    def switched(self) -> list[str]:
        """Every switched endpoint, sorted."""
        return sorted(self._switched)

    def query(self, endpoint: str, start: float, end: float, clock: float) -> WindowAnswer:
        """Exact for an exact endpoint; the histogram's certain bounds for a switched one."""
        part: Strategy = self._hist if endpoint in self._switched else self._exact
        return part.query(endpoint, start, end, clock)

    def endpoints(self) -> Iterable[str]:
        """Endpoints with retained hits (every one has a histogram)."""
        return self._hist.endpoints()

    def totals(self) -> dict[str, int]:
        """Retained hits per endpoint: exact counts, or the histogram's for switched ones."""
        exact = self._exact.totals()
        hist = self._hist.totals()
        return {ep: hist[ep] if ep in self._switched else exact.get(ep, 0) for ep in hist}

    def data_times(self) -> tuple[float, float] | None:
        """The histogram's: every retained hit of every endpoint is in it."""
        return self._hist.data_times()

    def memory_entries(self) -> int:
        """Exact timestamps plus histogram entries (buckets and buffered hits)."""
        return self._exact.memory_entries() + self._hist.memory_entries()

    def state_bytes(self) -> int:
        """Both parts' bytes plus the names of the switched endpoints."""
        names = sum(len(ep) + 8 for ep in self._switched)
        return self._exact.state_bytes() + self._hist.state_bytes() + names

    # -- persistence and swaps -----------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """`{"switched": [sorted names], "sliding": <sliding state>, "ehist": <ehist state>}`."""
        return {
            "switched": sorted(self._switched),
            "sliding": self._exact.to_state(),
            "ehist": self._hist.to_state(),
        }

    def to_compact_state(self) -> dict[str, Any]:
        """As `to_state`, with the exact timestamps packed (`sliding`'s compact form)."""
        return {
            "switched": sorted(self._switched),
            "sliding": self._exact.to_compact_state(),
            "ehist": self._hist.to_compact_state(),
        }

    def load_state(self, raw: bytes) -> None:
        """Load either form, each part checked by its own strategy, then their agreement.

        Raises:
            StateError: a bad part; an empty or repeated switched endpoint; an endpoint both
                exact and switched, or exact without a histogram; an exact timestamp at or
                before the horizon; an exact endpoint over its budget (it would have switched).
        """
        decoded: _AutoState = decode_state(raw, _AutoState, self.name)
        exact = _ExactPart(max_window_s=self.params["max_window_s"])
        exact.horizon = self.horizon
        exact.load_state(bytes(decoded.sliding))
        hist = ExponentialHistogram(
            max_window_s=self.params["max_window_s"],
            epsilon=self.params["epsilon"],
            buffer_s=self.params["buffer_s"],
        )
        hist.horizon = self.horizon
        hist.allow_lateness(self._hist.lateness_s)
        hist.load_state(bytes(decoded.ehist))
        switched = set(decoded.switched)
        if len(switched) != len(decoded.switched) or "" in switched:
            raise StateError("invalid auto state: empty or repeated switched endpoint")
        has_hist = set(hist.endpoints())
        for endpoint in exact.endpoints():
            if endpoint in switched:
                raise StateError(f"invalid auto state: {endpoint!r} is both exact and switched")
            if endpoint not in has_hist:
                raise StateError(f"invalid auto state: exact {endpoint!r} has no histogram")
            times = exact.timestamps(endpoint)
            if times[0] <= self.horizon:
                raise StateError(f"invalid auto state: {endpoint!r} has pruned timestamps")
            if self._over_budget(times):
                raise StateError(
                    f"invalid auto state: {endpoint!r} is over its budget but did not switch"
                )
        self._exact, self._hist, self._switched = exact, hist, switched
        self._pending = []

    def _over_budget(self, times: Sequence[float]) -> bool:
        """Whether some window of `max_window_s` holds more than `memory_budget` of `times`."""
        if len(times) <= self.memory_budget:
            return False
        import numpy as np

        values = np.asarray(times, dtype=np.float64)
        counts = np.searchsorted(values, values, "right") - np.searchsorted(
            values, values - self.max_window_s, "right"
        )
        return bool(counts.max() > self.memory_budget)

    @classmethod
    def convert(
        cls, source: Strategy, params: Mapping[str, object], lateness_s: float = 0.0
    ) -> Strategy:
        """From sliding, feed every timestamp in order (no loss); refuse anything else.

        Endpoints over the budget switch on the way (`drain_switches` lists them).

        Raises:
            SwapRefusedError: the source has no individual timestamps.
        """
        if not isinstance(source, KeepsTimestamps):
            return super().convert(source, params, lateness_s)
        target = cls(**params)
        target.allow_lateness(lateness_s)  # the hits inside the allowance stay exact
        return replayed_into(target, source, source.endpoints(), source.horizon)


__all__ = ["AutoStrategy"]
