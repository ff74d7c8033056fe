"""Checks of what a library caller passes in: a wrong type is a ConfigurationError naming
the parameter (its flag on the command line), never a bare TypeError from deep inside."""  # noqa: D205, D209

from __future__ import annotations

import math
from typing import Any

from hitcount.errors import ConfigurationError


def finite_number(value: object, name: str, what: str) -> float:
    """`value` as a float: a real number (not text, not a bool), finite.

    Raises:
        ConfigurationError: `name must be WHAT, got VALUE` otherwise.
    """
    if not isinstance(value, str | bytes | bool) and value is not None:
        try:
            number = float(value)  # type: ignore[arg-type]  # anything with __float__
        except (TypeError, ValueError, OverflowError):
            pass
        else:
            if math.isfinite(number):
                return number
    raise ConfigurationError(f"{name} must be {what}, got {value!r:.60}", param=name)


def of_type(value: Any, kind: type | tuple[type, ...], name: str, what: str) -> Any:
    """`value` itself when it is a `kind`.

    Raises:
        ConfigurationError: `name must be WHAT, got TYPE` otherwise.
    """
    if not isinstance(value, kind):
        raise ConfigurationError(f"{name} must be {what}, got {type(value).__name__}", param=name)
    return value
