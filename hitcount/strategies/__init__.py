"""The strategy registry: every counting strategy by name."""

from __future__ import annotations

from importlib import import_module
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

#: Each strategy's name and where its class lives, imported when first asked for (a command
#: on a `fixed` state loads no other strategy's module: start-up time). A new strategy is one
#: module and one line here.
_REGISTRY: dict[str, str] = {
    "fixed": "hitcount.strategies.fixed:FixedWindow",
    "sliding": "hitcount.strategies.sliding:SlidingWindow",
    "morris": "hitcount.strategies.morris:MorrisCounter",
    "ehist": "hitcount.strategies.ehist:ExponentialHistogram",
    "tiered": "hitcount.strategies.tiered:TieredRollups",
    "auto": "hitcount.strategies.auto:AutoStrategy",
}
_CLASSES = {where.partition(":")[2]: name for name, where in _REGISTRY.items()}


def _load(name: str) -> type[Strategy]:
    module, _, attribute = _REGISTRY[name].partition(":")
    found: type[Strategy] = getattr(import_module(module), attribute)
    return found


def __getattr__(attribute: str) -> Any:  # PEP 562: `from hitcount.strategies import FixedWindow`
    if attribute in _CLASSES:
        return _load(_CLASSES[attribute])
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


def available_strategies() -> list[str]:
    """Names of every registered strategy."""
    return list(_REGISTRY)


def get_strategy(name: str) -> type[Strategy]:
    """The strategy class registered under `name`.

    Raises:
        UnknownStrategyError: no strategy has that name (the message lists the valid ones).
    """
    try:
        return _load(name)
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
