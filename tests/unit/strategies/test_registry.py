"""The registry loads a strategy's module on first use and lists every strategy in order."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys

import pytest

import hitcount.strategies as registry
from hitcount.errors import UnknownStrategyError
from hitcount.strategies.base import Strategy


def _strategy_classes() -> dict[str, type[Strategy]]:
    """Every concrete Strategy subclass defined in the strategies package, by its name."""
    found: dict[str, type[Strategy]] = {}
    for info in pkgutil.iter_modules(registry.__path__):
        module = importlib.import_module(f"hitcount.strategies.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, Strategy)
                and not inspect.isabstract(cls)
                and cls.__module__ == module.__name__
            ):
                found[cls.name] = cls
    return found


def test_every_strategy_is_registered_under_its_own_name() -> None:
    classes = _strategy_classes()
    assert sorted(registry.available_strategies()) == sorted(classes)
    for name, cls in classes.items():
        assert registry.get_strategy(name) is cls
        assert getattr(registry, cls.__name__) is cls


def test_an_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownStrategyError) as raised:
        registry.get_strategy("__class__")
    assert raised.value.hint == "choose one of: " + ", ".join(registry.available_strategies())
    with pytest.raises(AttributeError):
        _ = registry.NoSuchStrategy  # type: ignore[attr-defined]


def test_asking_for_one_strategy_loads_only_its_module() -> None:
    code = (
        "import sys\nfrom hitcount.strategies import get_strategy\nget_strategy('sliding')\n"
        "print(' '.join(m for m in sys.modules if m.startswith('hitcount.strategies.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(done.stdout.split())
    assert "hitcount.strategies.sliding" in loaded
    assert not loaded & {"hitcount.strategies.morris", "hitcount.strategies.auto"}
