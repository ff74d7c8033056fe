"""`morris`: Morris's approximate counter (1978), `counters` of them averaged per endpoint.

A counter at value `c` increments with probability `base**-c`, and estimates the number of
hits as `(base**c - 1) / (base - 1)`, an unbiased estimate with variance
`(base - 1) * n * (n - 1) / 2`; averaging `k` independent counters divides it by `k`. A
counter needs only `log_base(n)` levels, i.e. O(log log n) bits. It has no notion of time:
every answer covers all hits ever recorded, and says so.

Batches (`record_columns`, a worker's hit counts) only add up each endpoint's hits; the
counters draw them when their levels are next read, endpoints in name order. A replay with
one `--seed` therefore leaves the same levels whether it was read serially, by worker
processes or from gzip blocks.

Merging shards (`merged`): counter `i` of the result takes the level whose estimate is the
sum `m` of the shards' counter-`i` estimates, rounded at random between the two levels
around it so that the expected estimate is exactly `m` (unbiased). With `f(c) <= m < f(c+1)`
and `f(c+1) - f(c) = base**c`, it goes up with probability `p = (m - f(c)) / base**c`; the
rounding adds a variance `p (1 - p) base**(2c)`. The shards' own variances add up to
`(base-1)/2 * sum n_s (n_s - 1)`, less than one counter's `(base-1)/2 * n (n - 1)` by
`(base - 1) * sum_{s<t} n_s n_t`, and the rounding is at most `(m - f(x)) * ((base-1) m + 1)`
for the largest shard's level `x`, i.e. of the order of that same cross term. Simulated
over 6000 runs (bases 1.1 to 2, 3 shards, balanced or not) the merged variance was 0.4 to
1.06 times one counter's fed all `n` hits, so the interval a query reports stays about
right. Shards should use different `--seed`s (merging allows it): with one seed they draw
the same random numbers, and their errors add up instead of partly cancelling.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from hitcount.errors import StateError
from hitcount.model.answers import WindowAnswer
from hitcount.model.digests import sha256
from hitcount.strategies.base import Param, Strategy, decode_state, same_kind
from hitcount.strategies.capabilities import KeepsLevels
from hitcount.strategies.morris_interval import exact_interval, small_levels
from hitcount.strategies.reductions import HitCounts, HitReducer

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_MASK64 = (1 << 64) - 1
_ENDPOINT_OVERHEAD_BYTES = 64
#: Two-sided confidence of the interval a query reports.
CONFIDENCE = 0.95
#: Its two-sided normal quantile, `statistics.NormalDist().inv_cdf(0.975)` (a constant: the
#: `statistics` module costs every command's start 2-3 ms, and replay loads every strategy).
_Z = 1.9599639845400536


class SplitMix64:
    """A tiny, fast, seedable generator whose whole state is one 64-bit integer."""

    def __init__(self, state: int) -> None:
        self.state = state & _MASK64

    def next_u64(self) -> int:
        """The next 64 random bits."""
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        """A float uniform in (0, 1], never 0 (safe for log)."""
        return ((self.next_u64() >> 11) + 1) * (1.0 / (1 << 53))


class _MorrisState(msgspec.Struct, forbid_unknown_fields=True):
    rng_state: int
    counters: dict[str, list[int]]


class MorrisCounter(Strategy, KeepsLevels):
    """Approximate all-time counts in a few bytes per endpoint."""

    name = "morris"
    summary = "approximate: probabilistic counters, all-time answers with a 95% interval"
    is_exact = False
    merge_ignores = ("seed",)
    draws_at_random = True
    params_spec = (
        Param("base", float, 2.0, "counter base a (increment w.p. a^-c)", "--base",
              minimum=1.0, exclusive_minimum=True, maximum=16.0),
        Param("counters", int, 4, "independent counters averaged per endpoint", "--counters",
              minimum=1, maximum=4096),
        Param("seed", int, 0, "random seed (runs with one seed are reproducible)", "--seed",
              minimum=0, maximum=2**63 - 1),
    )  # fmt: skip

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.base = float(self.params["base"])
        self.k = int(self.params["counters"])
        self.max_level = math.floor(700 / math.log(self.base))
        self.rng = SplitMix64(int(self.params["seed"]))
        self._levels: dict[str, list[int]] = {}
        #: Hits of batches not yet drawn, per endpoint (`_counters` draws them first).
        self._pending: dict[str, int] = {}

    @property
    def _counters(self) -> dict[str, list[int]]:
        """The levels per endpoint, after drawing the batches' pending hits."""
        if self._pending:
            self._settle()
        return self._levels

    @_counters.setter
    def _counters(self, levels: dict[str, list[int]]) -> None:
        self._levels, self._pending = levels, {}

    def _settle(self) -> None:
        """Advance the counters by the pending hits, endpoints in name order.

        Batches only add up hits; the draws happen here, once per endpoint, when something
        reads the levels (a query, a save). So one seed gives the same levels however the
        input was cut in batches (read serially, by workers, in gzip blocks).
        """
        pending, self._pending = self._pending, {}
        for endpoint in sorted(pending):
            counters = self._levels.setdefault(endpoint, [0] * self.k)
            counters[:] = self.advanced(counters, pending[endpoint])

    def _defer(self, endpoint: str, hits: int) -> None:
        self._pending[endpoint] = self._pending.get(endpoint, 0) + hits

    def retention_s(self) -> float:
        """Counters never expire."""
        return math.inf

    def late_mask(
        self, timestamps: npt.NDArray[np.float64], horizons: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        """None: counters keep no time, so no hit is late (`record` takes every one)."""
        import numpy as np

        return np.zeros(timestamps.shape, dtype=np.bool_)

    def record(self, endpoint: str, ts: float) -> bool:
        """One coin per counter: increment with probability `base**-c`."""
        counters = self._counters.get(endpoint)
        if counters is None:
            counters = self._counters[endpoint] = [0] * self.k
        for i, level in enumerate(counters):
            if level < self.max_level and self.rng.uniform() <= self.base**-level:
                counters[i] = level + 1
        return True

    def record_many(self, endpoint: str, timestamps: Sequence[float]) -> int:
        """Add `len(timestamps)` hits (each counter advances by geometric jumps when read)."""
        hits = len(timestamps)
        if hits:
            self._defer(endpoint, hits)
        return hits

    def record_array(self, endpoint: str, timestamps: npt.NDArray[np.float64]) -> int:
        """A numpy batch only needs its length."""
        hits = len(timestamps)
        if hits:
            self._defer(endpoint, hits)
        return hits

    def record_columns(
        self,
        names: Sequence[str],
        codes: npt.NDArray[np.int32],
        stamps: npt.NDArray[np.float64],
        order: npt.NDArray[np.int32] | None = None,
    ) -> int:
        """A batch only needs each endpoint's count (drawn when the levels are read)."""
        import numpy as np

        counts = np.bincount(codes, minlength=len(names))
        for code in np.flatnonzero(counts).tolist():
            self._defer(names[code], int(counts[code]))
        return len(codes)

    def reducer(self) -> HitReducer:
        """Workers count each endpoint's hits."""
        return HitReducer()

    def record_reduced(self, names: Sequence[str], reduced: object) -> int | None:
        """Add a worker's hit counts (drawn when the levels are read, as `record_columns`)."""
        if not isinstance(reduced, HitCounts) or reduced.made_by != self.reducer():
            return None
        kept = 0
        for code, hits in reduced.pairs():
            self._defer(names[code], hits)
            kept += hits
        return kept

    def add_hits(self, endpoint: str, hits: int) -> None:
        """Advance each counter of `endpoint` as if `hits` hits arrived (`advanced`)."""
        counters = self._counters.setdefault(endpoint, [0] * self.k)
        counters[:] = self.advanced(counters, hits)

    def advanced(self, levels: Sequence[int], hits: int) -> list[int]:
        """The levels `levels` reach after `hits` more hits, drawn from this generator.

        The update rule of every Morris counter, wherever its levels live (a Redis store
        applies its result atomically). The number of hits until a counter at level c
        next increments is geometric with p = base**-c; drawing it costs one random number
        per increment, not per hit, and gives exactly the distribution of `hits` coin flips.
        """
        result = list(levels)
        for i, level in enumerate(result):
            remaining = hits
            while level < self.max_level:
                skip = self._hits_to_next_increment(level)
                if skip > remaining:
                    break
                remaining -= skip
                level += 1
            result[i] = level
        return result

    def use_stream(self, number: int) -> None:
        """Draw from now on from the `number`-th stream of this seed: one per writer, so
        writers that share a state never draw the same numbers, and stay reproducible."""  # noqa: D205, D209
        if self._pending:  # hits recorded before draw from the stream they were recorded on
            self._settle()
        digest = sha256(f"{self.params['seed']}:{number}".encode()).digest()
        self.rng = SplitMix64(int.from_bytes(digest[:8], "big"))

    def levels(self, endpoint: str) -> list[int]:
        """A copy of `endpoint`'s counter levels (empty when it has none)."""
        return list(self._counters.get(endpoint, ()))

    def set_levels(self, endpoint: str, levels: Sequence[int]) -> None:
        """Replace `endpoint`'s levels (`counters` of them; checked by `load_state`)."""
        if levels:
            self._counters[endpoint] = list(levels)
        else:
            self._counters.pop(endpoint, None)

    def _hits_to_next_increment(self, level: int) -> int:
        """A geometric draw: hits until a counter at `level` increments (>= 1)."""
        p = self.base**-level
        if p >= 1.0:
            return 1
        return math.floor(math.log(self.rng.uniform()) / math.log1p(-p)) + 1

    def prune(self, horizon: float) -> dict[str, int]:
        """Nothing to prune: counters carry no time."""
        return {}

    def estimate(self, counters: Sequence[int]) -> float:
        """The mean of the counters' estimates `(base**c - 1) / (base - 1)`."""
        a = self.base
        return sum((a**c - 1) / (a - 1) for c in counters) / len(counters)

    def query(self, endpoint: str, start: float, end: float, clock: float) -> WindowAnswer:
        """The all-time estimate with its 95% interval (`all_time=True`)."""
        counters = self._counters.get(endpoint)
        if not counters or max(counters) == 0:  # none since the counters started (`since`)
            return WindowAnswer(0, 0, 0, True, all_time=True, since=self.since())
        estimate = self.estimate(counters)
        low, high = self.interval(estimate)
        if small_levels(counters):  # the normal approximation misses down there
            exact = exact_interval(self.base, self.k, sum(counters))
            if exact is not None:  # both: never below what either covers
                low, high = min(low, exact[0]), max(high, exact[1])
        # Counts are whole: n >= low means n >= ceil(low). A counter at level c has seen at
        # least c hits, for certain.
        low = max(math.ceil(low - 1e-9), max(counters))
        high = max(math.floor(high + 1e-9), low) if math.isfinite(high) else high
        return WindowAnswer(
            min(max(estimate, low), high),
            low,
            high,
            False,
            confidence=CONFIDENCE,
            all_time=True,
            since=self.since(),
        )

    def since(self) -> float | None:
        """When the counters started, for a state swapped into `morris`: its source's
        horizon (None: they count every hit ever recorded)."""  # noqa: D205, D209
        return self.horizon if math.isfinite(self.horizon) else None

    def interval(self, estimate: float) -> tuple[float, float]:
        """The n with `|estimate - n| <= z * sd(n)`, `sd(n)**2 = (a-1) n (n-1) / (2k)`.

        When the variance is too large for a finite upper bound (few counters, large base),
        returns `(low, inf)` with `low` from Cantelli's one-sided inequality, which holds
        at the stated confidence whatever the estimate's distribution.
        """
        q = _Z * _Z * (self.base - 1) / (2 * self.k)
        m = estimate
        if q >= 1.0:
            t = math.sqrt(CONFIDENCE / (1 - CONFIDENCE))
            return m / (1 + t * math.sqrt((self.base - 1) / (2 * self.k))), math.inf
        root = math.sqrt(max(q * (q - 4 * m + 4 * m * m), 0.0))
        return ((2 * m - q) - root) / (2 * (1 - q)), ((2 * m - q) + root) / (2 * (1 - q))

    def endpoints(self) -> Iterable[str]:
        """Endpoints with counters."""
        return self._counters.keys()

    def totals(self) -> dict[str, int]:
        """Estimated hits per endpoint, rounded."""
        return {ep: round(self.estimate(c)) for ep, c in self._counters.items()}

    def hits_held_at_least(self) -> dict[str, int]:
        """Per endpoint, half its highest level: a level rises at most once per hit (a merge
        can round one level up), so a counter at level `c` took at least `(c - 1) / 2` hits
        even after merges; the margin keeps any state hitcount itself made loadable."""  # noqa: D205, D209
        return {ep: max(levels) // 2 for ep, levels in self._counters.items()}

    def memory_entries(self) -> int:
        """Number of counters."""
        return self.k * len(self._counters)

    def state_bytes(self) -> int:
        """One byte per counter (levels stay below 256 for base >= 1.01) plus names."""
        return sum(self.k + len(ep) + _ENDPOINT_OVERHEAD_BYTES for ep in self._counters)

    def generator_state(self) -> int:
        """The 64-bit state the next draws start from."""
        return self.rng.state

    def set_generator_state(self, state: int) -> None:
        """Continue the draws from `state`."""
        self.rng = SplitMix64(state)

    def to_state(self) -> dict[str, Any]:
        """`{"rng_state": int, "counters": {endpoint: [level, ...]}}`."""
        counters = dict(self._counters)  # draws the pending hits first
        return {"rng_state": self.rng.state, "counters": counters}

    def load_state(self, raw: bytes) -> None:
        """Load counters and the generator state, checking lengths and levels."""
        decoded: _MorrisState = decode_state(raw, _MorrisState, self.name)
        if not 0 <= decoded.rng_state <= _MASK64:
            raise StateError("invalid morris state: rng_state out of range")
        for endpoint, counters in decoded.counters.items():
            if not endpoint or len(counters) != self.k:
                raise StateError(f"invalid morris state: {endpoint!r} needs {self.k} counters")
            if any(not 0 <= level <= self.max_level for level in counters):
                raise StateError(f"invalid morris state: counter level out of range ({endpoint!r})")
        self.rng = SplitMix64(decoded.rng_state)
        self._counters = decoded.counters

    @classmethod
    def convert(
        cls, source: Strategy, params: Mapping[str, object], lateness_s: float = 0.0
    ) -> Strategy:
        """Feed each endpoint's retained total into fresh counters.

        The counters then cover the hits after the source's horizon (`since` in answers).
        From another Morris counter only the very same parameters are accepted: re-encoding
        an estimate into new counters would claim a precision the estimate never had.

        Raises:
            SwapRefusedError: from Morris counters with other parameters.
        """
        target = cls(**params)
        target.horizon = source.horizon
        if isinstance(source, MorrisCounter):
            if source.params != target.params:
                return super().convert(source, params, lateness_s)
            target._counters = {ep: list(c) for ep, c in source._counters.items()}
            target.rng = SplitMix64(source.rng.state)
            return target
        totals = source.totals()
        for endpoint in sorted(totals):  # one order, whatever store the source came from
            if totals[endpoint] > 0:
                target.add_hits(endpoint, totals[endpoint])
        return target

    @classmethod
    def merged(cls, parts: Sequence[Strategy]) -> Strategy:
        """Each counter set to a level whose estimate is the sum of the parts', in
        expectation (see the module docstring for the error). Seeds may differ.

        The result's generator continues from a mix of the parts' generator states, and its
        horizon (`since`) is the latest part's.
        """  # noqa: D205
        morris = same_kind(cls, parts)
        target = cls(**morris[0].params)
        target.horizon = max(part.horizon for part in morris)
        mixer = SplitMix64(len(morris))
        for part in morris:
            part._settle()
            mixer = SplitMix64(mixer.next_u64() ^ part.rng.state)
        target.rng = mixer
        endpoints = {endpoint for part in morris for endpoint in part._counters}
        for endpoint in sorted(endpoints):
            shards = [part._counters[endpoint] for part in morris if endpoint in part._counters]
            sums = [sum(target.estimate([levels[i]]) for levels in shards) for i in range(target.k)]
            target._counters[endpoint] = [target._level_for(total) for total in sums]
        return target

    def _level_for(self, total: float) -> int:
        """A level whose estimate is `total` in expectation: the level `c` with
        `f(c) <= total < f(c+1)`, or `c + 1` with probability `(total - f(c)) / base**c`."""  # noqa: D205, D209
        a = self.base
        level = math.floor(math.log1p((a - 1) * total) / math.log(a))
        while level > 0 and self.estimate([level]) > total:  # float rounding of the log
            level -= 1
        while self.estimate([level + 1]) <= total:
            level += 1
        if level >= self.max_level:
            return self.max_level
        up = (total - self.estimate([level])) / a**level
        return level + 1 if self.rng.uniform() <= up else level
