"""Strategy swaps: convert what a state holds into another strategy, downhill only."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hitcount.errors import SwapRefusedError
from hitcount.model import events as ev
from hitcount.strategies import Strategy, get_strategy


@dataclass(frozen=True, slots=True)
class Swap:
    """The outcome of a swap: the new strategy and the event that tells of it."""

    strategy: Strategy
    event: str
    payload: dict[str, Any]


def swap(
    old: Strategy, name: str, params: Mapping[str, object], *, reset: bool, clock: float | None
) -> Swap:
    """`old` converted into strategy `name` with `params` (see `Strategy.convert`).

    Args:
        old: the current strategy (left unchanged).
        name: the new strategy's registered name.
        params: its parameters.
        reset: when the conversion would need information the state no longer has, start
            the new strategy empty (event `strategy_reset`) instead of refusing.
        clock: the replay clock; a reset strategy knows nothing before it.

    Raises:
        SwapRefusedError: the conversion is impossible and `reset` is False.
        UnknownStrategyError, ConfigurationError: bad name or parameters.
    """
    target = get_strategy(name)
    try:
        new = target.convert(old, params)
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
    return Swap(new, ev.STRATEGY_SWAPPED, {"old": old.describe(), "new": new.describe()})
