"""The strategy registry: every counting strategy by name.

A strategy's module is imported when the strategy is first asked for: answering from a
sliding state loads neither Morris counters nor the auto strategy (start-up of `query`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hitcount.errors import UnknownStrategyError
from hitcount.model.answers import EMPTY_ANSWER, WindowAnswer
from hitcount.strategies.base import Param, Strategy

if TYPE_CHECKING:
    from hitcount.strategies.auto import AutoStrategy
    from hitcount.strategies.ehist import ExponentialHistogram
    from hitcount.strategies.fixed import FixedWindow
    from hitcount.strategies.morris import MorrisCounter
    from hitcount.strategies.sliding import SlidingWindow
    from hitcount.strategies.tiered import TieredRollups

#: Each strategy's name, module and class, in the order they are listed.
_HOMES: dict[str, tuple[str, str]] = {
    "fixed": ("fixed", "FixedWindow"),
    "sliding": ("sliding", "SlidingWindow"),
    "morris": ("morris", "MorrisCounter"),
    "ehist": ("ehist", "ExponentialHistogram"),
    "tiered": ("tiered", "TieredRollups"),
    "auto": ("auto", "AutoStrategy"),
}
_CLASSES = {cls: (module, name) for name, (module, cls) in _HOMES.items()}
_REGISTRY: dict[str, type[Strategy]] = {}


def _load(module: str, cls: str) -> Any:
    return getattr(importlib.import_module(f"hitcount.strategies.{module}"), cls)


def __getattr__(name: str) -> Any:
    """A strategy class by its class name (`from hitcount.strategies import SlidingWindow`)."""
    if name in _CLASSES:
        return get_strategy(_CLASSES[name][1])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def available_strategies() -> list[str]:
    """Names of every registered strategy."""
    return list(_HOMES)


def get_strategy(name: str) -> type[Strategy]:
    """The strategy class registered under `name`.

    Raises:
        UnknownStrategyError: no strategy has that name (the message lists the valid ones).
    """
    if name not in _REGISTRY:
        if name not in _HOMES:
            valid = ", ".join(_HOMES)
            raise UnknownStrategyError(f"unknown strategy {name!r}", hint=f"choose one of: {valid}")
        cls: type[Strategy] = _load(*_HOMES[name])
        _REGISTRY[name] = cls
    return _REGISTRY[name]


def create_strategy(name: str, **params: object) -> Strategy:
    """A new, empty strategy `name` with `params`.

    Raises:
        UnknownStrategyError: unknown name.
        ConfigurationError: unknown parameter or bad value.
    """
    return get_strategy(name)(**params)


__all__ = [
    "EMPTY_ANSWER",
    "AutoStrategy",
    "ExponentialHistogram",
    "FixedWindow",
    "MorrisCounter",
    "Param",
    "SlidingWindow",
    "Strategy",
    "TieredRollups",
    "WindowAnswer",
    "available_strategies",
    "create_strategy",
    "get_strategy",
]
