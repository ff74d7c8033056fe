"""The Redis layout of each strategy, by name: native structures, else one document each."""

from __future__ import annotations

from collections.abc import Mapping

from hitcount.persist.stores.redis_documents import DocumentLayout
from hitcount.persist.stores.redis_layout import Layout
from hitcount.persist.stores.redis_morris import MorrisLayout
from hitcount.persist.stores.redis_native import FixedLayout, SlidingLayout, TieredLayout
from hitcount.persist.stores.redis_scripts import Scripts
from hitcount.strategies import get_strategy

LAYOUTS: dict[str, type[FixedLayout | SlidingLayout | MorrisLayout | TieredLayout]] = {
    layout.strategy_name: layout
    for layout in (FixedLayout, SlidingLayout, MorrisLayout, TieredLayout)
}


def layout_for(
    strategy: str, params: Mapping[str, float | int], scripts: Scripts | None = None
) -> Layout:
    """The layout of a strategy: native structures, else one document per endpoint.

    `scripts` runs the layout's Lua scripts (None: the layout only reads).

    Raises:
        UnknownStrategyError: no strategy has that name.
    """
    layout = LAYOUTS.get(strategy)
    if layout is None:
        get_strategy(strategy)  # an unknown name is refused here
        return DocumentLayout(strategy, params, scripts)
    return layout(params, scripts)
