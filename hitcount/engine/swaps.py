"""Strategy swaps: convert what a state holds into another strategy, downhill only."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec

from hitcount.engine.batches import horizon_at
from hitcount.errors import SwapRefusedError
from hitcount.model import events as ev
from hitcount.strategies import Strategy, get_strategy


class Swap(msgspec.Struct, frozen=True):
    """A planned swap: the new strategy, the event that tells of it, and what it loses.

    Attributes:
        strategy: the new strategy, converted (not yet pruned to its own retention).
        event: `strategy_swapped` or `strategy_reset`.
        payload: the event's fields.
        unchanged: the new strategy is the current one, with the same parameters.
        dropped_hits: hits the old strategy holds (an estimate for approximate ones) that
            the new one will not keep: older than its retention allows at the clock.
        dropped_before: the time those hits are at or before (None: nothing dropped).
    """

    strategy: Strategy
    event: str
    payload: dict[str, Any]
    unchanged: bool = False
    dropped_hits: float = 0.0
    dropped_before: float | None = None


def swap(
    old: Strategy,
    name: str,
    params: Mapping[str, object],
    *,
    reset: bool,
    clock: float | None,
    lateness: float = 0.0,
) -> Swap:
    """`old` converted into strategy `name` with `params` (see `Strategy.convert`).

    Args:
        old: the current strategy (left unchanged).
        name: the new strategy's registered name.
        params: its parameters.
        reset: when the conversion would need information the state no longer has, start
            the new strategy empty (event `strategy_reset`) instead of refusing.
        clock: the replay clock; a reset strategy knows nothing before it.
        lateness: the counter's lateness allowance (pruning waits this much longer).

    Raises:
        SwapRefusedError: the conversion is impossible and `reset` is False.
        UnknownStrategyError, ConfigurationError: bad name or parameters.
    """
    target = get_strategy(name)
    try:
        new = target.convert(old, params, lateness)
    except SwapRefusedError as refusal:
        if not reset:
            raise
        new = target(**params)
        # It knows nothing of what came before: windows reaching back past now are
        # incomplete, not an exact zero.
        known_from = clock if clock is not None else -math.inf
        new.horizon = max(old.horizon, new.horizon, known_from)
        payload = {"from": old.describe(), "to": new.describe(), "reason": refusal.message}
        return Swap(new, ev.STRATEGY_RESET, payload)
    unchanged = new.name == old.name and new.params == old.params
    payload = {"old": old.describe(), "new": new.describe()}
    return Swap(new, ev.STRATEGY_SWAPPED, payload, unchanged, *_dropped(old, new, clock, lateness))


def _dropped(
    old: Strategy, new: Strategy, clock: float | None, lateness: float
) -> tuple[float, float | None]:
    """Hits of `old` at or before the horizon `new` will prune to at `clock` (and it)."""
    retention = new.retention_s()
    if clock is None or not math.isfinite(retention):
        return 0.0, None
    horizon = horizon_at(clock, retention, lateness, new.prune_grid_s())
    if horizon <= old.horizon:
        return 0.0, None
    held = sum(old.query(ep, -math.inf, horizon, clock).count for ep in old.endpoints())
    held = round(held)  # an estimate's fraction of a hit is not a hit to warn about
    return (float(held), horizon) if held >= 1 else (0.0, None)
