"""Shard and merge: counters replayed on several machines combined into one.

Each machine replays its own part of the traffic into its own state, saves a snapshot (or
copies its state file), and `merge_counters` builds the counter one machine would have
built from all the traffic:

- the strategies merge through `Strategy.merged`: exact for `fixed`, `sliding` and
  `tiered` (bucket counts summed, timestamp arrays merged), unbiased for `morris` (see
  `strategies/morris.py`), refused for `ehist` and `auto`;
- distinct-users sketches merge register by register (exact), at the lowest precision
  of the shards (the others folded down to it, exactly);
- metrics are summed; the clock is the latest; `max_lateness_s` the largest;
- the horizon is the latest: a window reaching back before any shard's horizon is
  incomplete. What a lagging shard kept from before it is pruned, and the result is then
  pruned at the merged clock like any counter (both counted in `pruned_events`);
- the remembered events are concatenated, the last `RECENT_EVENTS` kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hitcount.engine import HitCounter
from hitcount.errors import ConfigurationError, MergeRefusedError, StateError
from hitcount.model.metrics import Metrics, plain
from hitcount.model.positions import InputPosition
from hitcount.persist.document import encode, to_document, write_file
from hitcount.persist.state import read_counter_file, refuse_future_clock
from hitcount.sketches.distinct import DistinctTracker
from hitcount.strategies.base import same_kind

_SWAP_HINT = "use `hitcount swap` on the shards first so they share one strategy and parameters"


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What `merge_files` made.

    Attributes:
        counter: the merged counter.
        sources: the files merged, in order.
        pruned: entries the merge itself pruned (older than the merged horizon).
        warnings: things the user should know about the result.
        notes: how the result was made, where it is not plain (precisions folded down).
    """

    counter: HitCounter
    sources: tuple[str, ...]
    pruned: int
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def merge_counters(
    counters: Sequence[HitCounter], sources: Sequence[str] | None = None
) -> HitCounter:
    """One counter holding what all `counters` (shards of one stream) hold.

    Args:
        counters: the shards (left unchanged).
        sources: a name per counter for error messages (default "input 1", ...).

    Raises:
        ConfigurationError: no counters.
        MergeRefusedError: different strategies, parameters or distinct-users settings
            (naming the first shard that differs), or a strategy that cannot merge.
    """
    if not counters:
        raise ConfigurationError("nothing to merge: give at least one snapshot")
    names = list(sources) if sources is not None else []
    names += [f"input {i + 1}" for i in range(len(names), len(counters))]
    _check_compatible(counters, names)
    strategies = [counter.strategy for counter in counters]
    strategy = type(strategies[0]).merged(strategies)
    latest = max(part.horizon for part in strategies)
    pruned = 0
    if math.isfinite(latest):
        pruned = sum(strategy.prune(latest).values())
        strategy.horizon = max(strategy.horizon, latest)
    merged = HitCounter(
        strategy, max_lateness_s=max(c.max_lateness_s for c in counters), distinct=False
    )
    merged.distinct = _merged_distinct(counters)
    merged.keying = next((c.keying for c in counters if c.keying.layout), counters[0].keying)
    clocks = [counter.clock for counter in counters if counter.clock is not None]
    merged.clock = max(clocks) if clocks else None
    merged.metrics = _summed_metrics(counters)
    merged.max_endpoints = counters[0].max_endpoints  # the same in every shard
    merged.metrics.pruned_events += pruned
    merged.recent_events.extend(event for c in counters for event in c.recent_events)
    merged.inputs = _merged_inputs(counters)
    merged.prune_all()
    return merged


def _merged_inputs(counters: Sequence[HitCounter]) -> dict[str, InputPosition]:
    """The input positions that hold for the merge: of a file one shard read, or that every
    shard reading it read as far (shards filtering one file, each to its part). A file
    shards read to different lines has none (`--append` of it is not refused then), and
    neither has a path that names different files in different shards (each machine's
    `access.log`): keeping one would pass the other off as read."""  # noqa: D205, D209
    found: dict[tuple[int, int, str], list[tuple[str, InputPosition]]] = {}
    for counter in counters:
        for path, position in counter.inputs.items():
            key = (position.device, position.inode, position.head_sha256)
            found.setdefault(key, []).append((path, position))
    files_at: dict[str, int] = {}
    for readers in found.values():
        for path in {path for path, _ in readers}:
            files_at[path] = files_at.get(path, 0) + 1
    return {
        readers[0][0]: readers[0][1]
        for readers in found.values()
        if len({position.lines for _, position in readers}) == 1
        and all(files_at[path] == 1 for path, _ in readers)
    }


def merge_files(paths: Sequence[str | Path]) -> MergeResult:
    """The merge of snapshot or state files, JSON or SQLite (see `merge_counters`).

    Raises:
        ConfigurationError: no files, or one file given twice (its hits would count twice).
        StateError: a missing, unreadable, damaged or foreign file (named), or files that
            cannot be merged (`MergeRefusedError`).
    """
    seen: dict[Path, str] = {}
    for path in paths:
        if str(path).startswith(("redis:/", "rediss:/")):  # a Path keeps one slash of `//`
            raise ConfigurationError(
                f"{str(path).replace(':/', '://', 1)}: merge reads snapshot or state files,"
                " not a Redis store",
                hint="save it to a file first: hitcount snapshot save FILE --store URL",
            )
        resolved = Path(path).resolve()
        if resolved in seen:
            raise ConfigurationError(
                f"{path}: given twice (as {seen[resolved]}); its hits would count twice"
            )
        seen[resolved] = str(path)
    counters = [refuse_future_clock(read_counter_file(Path(path)), str(path)) for path in paths]
    before = sum(counter.metrics.pruned_events for counter in counters)
    sources = tuple(str(path) for path in paths)
    merged = merge_counters(counters, sources)
    pruned = merged.metrics.pruned_events - before
    warnings = _shared_seed_warning(counters, sources) + _shared_input_warning(counters, sources)
    return MergeResult(merged, sources, pruned, warnings, _folded_note(counters, sources))


def write_snapshot(counter: HitCounter, path: str | Path) -> bytes:
    """Write `counter` as a pretty snapshot document to `path`, atomically.

    Returns:
        The bytes written.

    Raises:
        StateError: `path` exists and is not a hitcount snapshot or state (never overwritten).
        StoreUnavailableError: the file cannot be written.
    """
    data = snapshot_bytes(counter)
    write_file(Path(path), data, hint="choose another -o path")
    return data


def snapshot_bytes(counter: HitCounter) -> bytes:
    """`counter` as a pretty snapshot document."""
    return encode(to_document(counter), pretty=True)


def _check_compatible(counters: Sequence[HitCounter], names: Sequence[str]) -> None:
    first = counters[0]
    kind = type(first.strategy)
    for counter, name in zip(counters[1:], names[1:], strict=False):
        try:
            same_kind(kind, [first.strategy, counter.strategy])
        except MergeRefusedError as err:
            raise MergeRefusedError(
                f"{name} holds {counter.strategy.describe()}, but {names[0]} holds"
                f" {first.strategy.describe()}; they cannot be merged",
                hint=_SWAP_HINT,
            ) from err
        if _distinct_spec(counter) != _distinct_spec(first):
            raise MergeRefusedError(
                f"{name} keeps distinct users {_distinct_spec(counter)}, but {names[0]}"
                f" keeps them {_distinct_spec(first)}; they cannot be merged",
                hint="replay the shards all with distinct users (or all --no-distinct);"
                " [lo, hi) buckets come from a state saved by an older version: replay it again",
            )
        if not counter.keying.counts_like(first.keying):
            raise MergeRefusedError(
                f"{name} counts {counter.keying.describe()}, but {names[0]} counts"
                f" {first.keying.describe()}; their endpoints cannot be merged",
                hint="replay the shards with the same --key, --where, --field and --decode-paths",
            )
        if counter.max_endpoints != first.max_endpoints:
            raise MergeRefusedError(
                f"{name} has {_cap_text(counter)}, but {names[0]} has {_cap_text(first)};"
                " they cannot be merged",
                hint="replay the shards with one --max-endpoints (or none)",
            )


def _cap_text(counter: HitCounter) -> str:
    cap = counter.max_endpoints
    return "no endpoint cap" if cap is None else f"--max-endpoints {cap}"


def _shared_seed_warning(counters: Sequence[HitCounter], sources: Sequence[str]) -> tuple[str, ...]:
    """Morris shards with one seed drew the same random numbers: their errors add up."""
    seeds = [counter.strategy.params.get("seed") for counter in counters]
    if counters[0].strategy.name != "morris" or len(set(seeds)) == len(seeds):
        return ()
    first, second = next(
        (i, j) for j in range(len(seeds)) for i in range(j) if seeds[i] == seeds[j]
    )
    return (
        f"{sources[first]} and {sources[second]} were counted with the same --seed"
        f" {seeds[first]}: their errors are correlated, so the merged estimate is less"
        " precise than its interval says; replay the shards with different --seed values",
    )


def _shared_input_warning(
    counters: Sequence[HitCounter], sources: Sequence[str]
) -> tuple[str, ...]:
    """Two shards that read the same lines of one file (a state and its copy, say) count
    those hits twice, unless each kept its own part of them (`--where`)."""  # noqa: D205, D209
    seen: dict[tuple[int, int, str], int] = {}
    for index, counter in enumerate(counters):
        for position in counter.inputs.values():
            key = (position.device, position.inode, position.head_sha256)
            first = seen.setdefault(key, index)
            if first != index and position.lines:
                return (
                    f"{sources[first]} and {sources[index]} both read {position.path}: unless"
                    " each kept its own part of its lines (--where), its hits count twice"
                    " in the merge",
                )
    return ()


def _distinct_spec(counter: HitCounter) -> str:
    tracker = counter.distinct
    if tracker is None:
        return "off"
    return f"in {plain(tracker.bucket_s)} s buckets {tracker.edges}"  # precisions fold


def _folded_note(counters: Sequence[HitCounter], sources: Sequence[str]) -> tuple[str, ...]:
    """Sketches of several precisions merge at the lowest: say which were folded down."""
    precisions = [c.distinct.precision for c in counters if c.distinct is not None]
    if len(set(precisions)) < 2:
        return ()
    low = min(precisions)
    folded = ", ".join(f"{s} ({p})" for s, p in zip(sources, precisions, strict=True) if p > low)
    return (
        f"note: distinct users merged at precision {low}, the lowest; folded down to it"
        f" (exactly the registers of counting at {low}): {folded}",
    )


def _merged_distinct(counters: Sequence[HitCounter]) -> DistinctTracker | None:
    trackers = [counter.distinct for counter in counters]
    if trackers[0] is None:
        return None
    low = min(tracker.precision for tracker in trackers if tracker is not None)
    merged = DistinctTracker(trackers[0].bucket_s, low, trackers[0].retention_s)
    merged.closed_right = trackers[0].closed_right  # _check_compatible: all the same
    for tracker in trackers:
        assert tracker is not None  # _check_compatible: all on or all off
        merged.merge(tracker)
    return merged


def _summed_metrics(counters: Sequence[HitCounter]) -> Metrics:
    totals = {
        name: sum(getattr(counter.metrics, name) for counter in counters)
        for name in Metrics.__struct_fields__
    }
    metrics = Metrics(**totals)
    try:
        metrics.check()
    except ValueError as err:
        raise StateError(f"cannot merge: {err}") from err
    return metrics
