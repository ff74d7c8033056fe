"""The strategy interface and its parameters (`WindowAnswer` lives in `model/answers`)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import msgspec

from hitcount.errors import ConfigurationError, MergeRefusedError, StateError, SwapRefusedError
from hitcount.model.answers import WindowAnswer
from hitcount.model.metrics import plain
from hitcount.model.timeparse import is_duration, parse_length

if TYPE_CHECKING:  # numpy is imported only on the batch ingest path
    import numpy as np
    import numpy.typing as npt

    from hitcount.strategies.reductions import Reducer


def answer_from_buckets(pieces: Iterable[tuple[int, float]], *, complete: bool) -> WindowAnswer:
    """Sum `(count, share)` buckets into an answer with certain bounds.

    A share of 1 means every hit of the bucket is in the window (it adds to `low`), 0 that
    none is, anything between that the window cuts the bucket: its hits add to `high`, and
    to `count` in proportion to the share of the bucket's span the window covers.
    """
    low = partial = 0
    estimate = 0.0
    for count, share in pieces:
        if share >= 1.0:
            low += count
        elif share > 0.0:
            partial += count
            estimate += count * share
    if not partial:
        return WindowAnswer.exactly(low, complete=complete)
    return WindowAnswer(low + estimate, low, low + partial, False, complete=complete)


class Param(msgspec.Struct, frozen=True):
    """One strategy parameter: its name, type, default, CLI flag and valid range."""

    name: str
    kind: type[float] | type[int]
    default: float | int
    help: str
    flag: str
    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None
    exclusive_maximum: bool = False

    @property
    def in_seconds(self) -> bool:
        """Whether the parameter is a length of time (its name ends in `_s`)."""
        return self.kind is float and self.name.endswith("_s")

    def coerce(self, value: object) -> float | int:
        """Check and convert one value of this parameter.

        Raises:
            ConfigurationError: wrong type or out of range.
        """
        if isinstance(value, str) and self.in_seconds and is_duration(value):
            value = parse_length(value, self.name)  # `1d`, `1h30m`, `90s` as well as `86400`
        try:
            if isinstance(value, bool):
                raise TypeError
            number = self.kind(value)  # type: ignore[arg-type,call-overload]
        except (TypeError, ValueError) as err:
            raise ConfigurationError(
                f"{self.name} must be {self._kind_text()}, got {value!r}",
                param=self.name,
            ) from err
        if self.kind is int and isinstance(value, float) and not value.is_integer():
            raise ConfigurationError(
                f"{self.name} must be an integer, got {value!r}", param=self.name
            )
        if isinstance(number, float) and not math.isfinite(number):
            raise ConfigurationError(f"{self.name} must be finite, got {value!r}", param=self.name)
        self._check_range(number)
        return number

    def _kind_text(self) -> str:
        if self.in_seconds:
            return "seconds or a duration such as 90s, 5m, 1h30m or 1d"
        return "an integer" if self.kind is int else "a number"

    def _check_range(self, number: float) -> None:
        low = self.minimum
        if low is not None and (number < low or (self.exclusive_minimum and number == low)):
            relation = ">" if self.exclusive_minimum else ">="
            raise ConfigurationError(
                f"{self.name} must be {relation} {plain(low)}, got {plain(number)}", param=self.name
            )
        high = self.maximum
        if high is not None and (number > high or (self.exclusive_maximum and number == high)):
            relation = "<" if self.exclusive_maximum else "<="
            raise ConfigurationError(
                f"{self.name} must be {relation} {plain(high)}, got {plain(number)}",
                param=self.name,
            )


class Strategy(ABC):
    """A way of counting hits per endpoint; one instance holds every endpoint's state.

    Time is epoch seconds. Every window is left-open, right-closed: `(start, end]`, i.e.
    `now - N < ts <= now`. A strategy keeps a `horizon`: hits with `ts > horizon` are all
    retained, older ones may have been pruned; a query whose `start` is before the horizon
    is marked incomplete.
    """

    name: ClassVar[str]
    summary: ClassVar[str]
    params_spec: ClassVar[tuple[Param, ...]]
    #: Whether answers inside the retained window are exact.
    is_exact: ClassVar[bool]
    #: Parameters that may differ between states being merged (see `merged`).
    merge_ignores: ClassVar[tuple[str, ...]] = ()
    #: The parameter that sets `retention_s()` (None: the strategy keeps all time).
    retention_param: ClassVar[str | None] = None
    #: Whether recording draws random numbers: then hits recorded one by one and in a batch
    #: give different (equally valid) states, so a replay keeps to one way.
    draws_at_random: ClassVar[bool] = False
    #: Whether a hit may be refused as late inside the retained window (more than the
    #: lateness allowance behind the clock, not only behind the horizon): then an answer is
    #: over the hits taken, and those refused are in none (`ehist`, `auto`).
    refuses_inside_retention: ClassVar[bool] = False

    def __init__(self, **params: object) -> None:
        self.params: dict[str, float | int] = self.resolve_params(params)
        self.horizon = -math.inf

    @classmethod
    def resolve_params(cls, given: Mapping[str, object]) -> dict[str, float | int]:
        """Defaults updated with `given`, each checked.

        Raises:
            ConfigurationError: an unknown parameter or a bad value.
        """
        spec = {param.name: param for param in cls.params_spec}
        unknown = sorted(set(given) - set(spec))
        if unknown:
            valid = ", ".join(f"{p.flag} ({p.name})" for p in cls.params_spec) or "none"
            raise ConfigurationError(
                f"strategy {cls.name!r} has no parameter {unknown[0]!r}; its parameters: {valid}"
            )
        resolved = {name: param.default for name, param in spec.items()}
        for name, value in given.items():
            resolved[name] = spec[name].coerce(value)
        return resolved

    def allow_lateness(self, lateness_s: float) -> str | None:
        """Keep every hit up to `lateness_s` behind the clock; a note if that adjusts a param."""
        return None

    def note_clock(self, clock: float) -> None:  # noqa: B027 - most strategies need no clock
        """The replay clock is at `clock` (set by a load, a swap or a hit): `ehist` keeps it."""

    def describe(self) -> str:
        """`name(param=value, ...)`, for humans."""
        inner = ", ".join(f"{k}={plain(v)}" for k, v in self.params.items())
        return f"{self.name}({inner})"

    # -- recording -------------------------------------------------------------------

    @abstractmethod
    def record(self, endpoint: str, ts: float) -> bool:
        """Count one hit; return False if it is older than the horizon and was dropped."""

    def record_many(self, endpoint: str, timestamps: Sequence[float]) -> int:
        """Count several hits of one endpoint; return how many were kept (not too late)."""
        return sum(1 for ts in timestamps if self.record(endpoint, ts))

    def late_mask(
        self, timestamps: npt.NDArray[np.float64], horizons: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        """Which timestamps `record` would refuse against these horizons (`ts <= horizon`)."""
        return timestamps <= horizons

    def record_array(self, endpoint: str, timestamps: npt.NDArray[np.float64]) -> int:
        """`record_many` for a numpy array of one endpoint's timestamps (override to vectorize)."""
        return self.record_many(endpoint, timestamps.tolist())

    def record_columns(
        self,
        names: Sequence[str],
        codes: npt.NDArray[np.int32],
        stamps: npt.NDArray[np.float64],
        order: npt.NDArray[np.int32] | None = None,
    ) -> int:
        """Count a batch of on-time hits, `names[codes[i]]` at `stamps[i]`, in arrival order.

        By default each endpoint's hits go to `record_array`, endpoints in code order;
        `order` (a stable argsort of `codes`, when the caller has one) spares the sort.
        """
        import numpy as np

        if not len(codes):
            return 0
        if order is None:
            order = np.argsort(codes, kind="stable").astype(np.int32)
        grouped, stamps = codes[order], stamps[order]
        boundary = np.ones(len(grouped), dtype=bool)
        np.not_equal(grouped[1:], grouped[:-1], out=boundary[1:])
        starts = np.flatnonzero(boundary).tolist()
        ends = [*starts[1:], len(grouped)]
        return sum(
            self.record_array(names[int(grouped[start])], stamps[start:end])
            for start, end in zip(starts, ends, strict=True)
        )

    def reducer(self) -> Reducer | None:
        """What a worker process may reduce a batch to for this strategy (None: columns)."""
        return None

    def record_reduced(self, names: Sequence[str], reduced: object) -> int | None:
        """Count a batch reduced by `reducer()` in a worker, all of its hits on time.

        Returns:
            The hits kept, or None when `reduced` is not what this strategy's reducer
            makes now (the caller then records the columns).
        """
        return None

    def groups_batches(self) -> bool:
        """Whether `record_columns` sorts a batch by endpoint (`order` then spares it)."""
        return type(self).record_columns is Strategy.record_columns

    @abstractmethod
    def prune(self, horizon: float) -> dict[str, int]:
        """Drop what is older than `horizon`; return entries removed per endpoint."""

    @abstractmethod
    def retention_s(self) -> float:
        """How far back from the latest hit queries stay complete (inf: forever)."""

    def prune_grid_s(self) -> float:
        """Pruning horizons are multiples of this, so the result does not depend on batching."""
        return max(self.retention_s() / 16, 1.0)

    # -- answering -------------------------------------------------------------------

    @abstractmethod
    def query(self, endpoint: str, start: float, end: float, clock: float) -> WindowAnswer:
        """Hits of `endpoint` with `start < ts <= end`; `clock` is the latest ts seen."""

    @abstractmethod
    def endpoints(self) -> Iterable[str]:
        """The endpoints that have state."""

    @abstractmethod
    def totals(self) -> dict[str, int]:
        """Retained hits per endpoint (estimates for approximate strategies)."""

    def hits_held_at_least(self) -> dict[str, int]:
        """Per endpoint, a certain lower bound on the hits the state took to build.

        A loaded state whose bounds add up to more than the hits ever recorded cannot be
        true. Default: `totals()`, exact for every strategy that keeps counts.
        """
        return self.totals()

    def data_times(self) -> tuple[float, float] | None:
        """`(t_old, t_new)`: the oldest retained hit is at or before `t_old`, the newest at or
        after `t_new` (bucket edges bound them). None: no hits, or no time kept.

        A loaded state with `t_new` after its clock, or `t_old` before its horizon, cannot
        be true.
        """  # noqa: D205
        return None

    @abstractmethod
    def memory_entries(self) -> int:
        """Stored entries: timestamps, buckets or counters."""

    @abstractmethod
    def state_bytes(self) -> int:
        """Estimated bytes of a compact encoding of the state."""

    # -- persistence and swaps -----------------------------------------------------------

    @abstractmethod
    def to_state(self) -> dict[str, Any]:
        """The state as JSON-ready builtins (without parameters or horizon)."""

    def to_compact_state(self) -> dict[str, Any]:
        """The state for the live state store, where size and load time matter more than
        readability (`load_state` accepts both forms). Default: `to_state()`."""  # noqa: D205, D209
        return self.to_state()

    @abstractmethod
    def load_state(self, raw: bytes) -> None:
        """Replace the state with a JSON document made by `to_state`.

        Raises:
            StateError: the document is malformed or out of range.
        """

    @classmethod
    def convert(
        cls, source: Strategy, params: Mapping[str, object], lateness_s: float = 0.0
    ) -> Strategy:
        """A new instance of this strategy holding what `source` knows.

        The default converts only from this very strategy with the same parameters (a copy);
        strategies override it for the downhill conversions they support. `lateness_s` is
        the counter's lateness allowance, applied before any hit is fed in
        (`allow_lateness`): a strategy that keeps recent hits exact keeps those inside it.

        Raises:
            SwapRefusedError: `source` lacks information this strategy would need.
        """
        if type(source) is cls and source.params == cls.resolve_params(params):
            copy = cls(**params)
            copy.allow_lateness(lateness_s)
            copy.load_state(msgspec.json.encode(source.to_state()))
            copy.horizon = source.horizon
            return copy
        raise SwapRefusedError(
            f"cannot swap {source.name} -> {cls.name} without losing the guarantee of"
            f" {cls.name}: {source.name} no longer has the information it needs",
            hint="use --reset to start the new strategy empty",
        )

    @classmethod
    def merged(cls, parts: Sequence[Strategy]) -> Strategy:
        """One strategy holding the hits of all `parts` (shards of one stream).

        `parts` have this class and the same parameters (`merge.merge_counters` checks it,
        `merge_ignores` aside). The result may still hold entries at or before the latest
        part's horizon and have an earlier horizon of its own: the caller prunes it to that
        horizon. The default merges a single part (a copy) and refuses more.

        Raises:
            MergeRefusedError: this strategy's states cannot be combined soundly.
        """
        if len(parts) == 1:
            return cls.convert(parts[0], parts[0].params)
        raise MergeRefusedError(
            f"{cls.name} states cannot be merged: each one summarises its own stream, and"
            " combining the summaries would break the guarantee of its answers",
            hint="replay the shards with --strategy sliding (or fixed), merge those, then"
            f" `hitcount swap {cls.name}`",
        )


_S = TypeVar("_S", bound=Strategy)


def same_kind(cls: type[_S], parts: Sequence[Strategy]) -> list[_S]:
    """`parts`, checked to be at least one instance of exactly `cls` with equal parameters
    (those in `merge_ignores` aside).

    Raises:
        MergeRefusedError: an empty list, another class or other parameters.
    """  # noqa: D205
    if not parts:
        raise MergeRefusedError("nothing to merge")

    def key(part: Strategy) -> dict[str, float | int]:
        return {k: v for k, v in part.params.items() if k not in cls.merge_ignores}

    checked: list[_S] = []
    for part in parts:
        if type(part) is not cls or key(part) != key(parts[0]):
            raise MergeRefusedError(
                f"cannot merge {part.describe()} into {parts[0].describe()}",
                hint="use `hitcount swap` on the shards first so they share one strategy",
            )
        checked.append(part)  # type(part) is cls, so mypy narrows it
    return checked


def decode_state(raw: bytes, kind: type[Any], strategy: str) -> Any:
    """Decode a strategy's JSON state into `kind`, turning problems into StateError."""
    try:
        return msgspec.json.decode(raw, type=kind, strict=True)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as err:
        raise StateError(f"invalid {strategy} state: {err}") from err
