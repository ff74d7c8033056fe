"""The strategy registry: every counting strategy by name."""

from __future__ import annotations

from hitcount.errors import UnknownStrategyError
from hitcount.model.answers import EMPTY_ANSWER, WindowAnswer
from hitcount.strategies.auto import AutoStrategy
from hitcount.strategies.base import Param, Strategy
from hitcount.strategies.ehist import ExponentialHistogram
from hitcount.strategies.fixed import FixedWindow
from hitcount.strategies.morris import MorrisCounter
from hitcount.strategies.sliding import SlidingWindow
from hitcount.strategies.tiered import TieredRollups

_REGISTRY: dict[str, type[Strategy]] = {
    cls.name: cls
    for cls in (
        FixedWindow,
        SlidingWindow,
        MorrisCounter,
        ExponentialHistogram,
        TieredRollups,
        AutoStrategy,
    )
}


def available_strategies() -> list[str]:
    """Names of every registered strategy."""
    return list(_REGISTRY)


def get_strategy(name: str) -> type[Strategy]:
    """The strategy class registered under `name`.

    Raises:
        UnknownStrategyError: no strategy has that name (the message lists the valid ones).
    """
    try:
        return _REGISTRY[name]
    except KeyError as err:
        valid = ", ".join(_REGISTRY)
        raise UnknownStrategyError(
            f"unknown strategy {name!r}", hint=f"choose one of: {valid}"
        ) from err


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
