"""Durations (`300`, `90s`, `5m`, `1h30m`, `2d`) and instants (epoch, ISO 8601, `wall`)."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timezone
from itertools import pairwise

from hitcount.errors import ConfigurationError
from hitcount.model.hits import BadLine, epoch_from_value

_UNITS = {
    "": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0,
    "w": 604800.0,
}  # fmt: skip
_NUMBER = r"(?:\d+(?:\.\d+)?|\.\d+)"
#: One number and its unit (a bare number is seconds, and only alone).
_PART = rf"(?ai)({_NUMBER})\s*(ms|min|s|m|h|d|w)"  # ASCII digits only
_DURATION = rf"(?ai)^\s*(?:{_NUMBER}|(?:{_NUMBER}\s*(?:ms|min|s|m|h|d|w)\s*)+)\s*$"


def parse_duration(text: str, option: str = "last") -> float:
    """Seconds from `300`, `1.5`, `90s`, `5m`, `2h`, `1d`, `1w`, `250ms`, or a sum of
    parts from the largest unit down, such as `1h30m` or `1d12h`.

    Raises:
        ConfigurationError: not a positive duration.
    """  # noqa: D205
    seconds = parse_length(text, option)
    if not seconds > 0:
        raise ConfigurationError(f"{option} must be greater than 0, got {text!r}", param=option)
    return seconds


def is_duration(text: str) -> bool:
    """Whether `text` is shaped like a duration (`300`, `1h30m`; zero included)."""
    return _is_number(text) or re.match(_DURATION, text) is not None


def parse_length(text: str, option: str = "last") -> float:
    """Seconds from a duration as `parse_duration` reads it, zero allowed.

    Raises:
        ConfigurationError: not a duration, or not finite.
    """
    if _is_number(text):  # `300`: no pattern compiled (a query's start-up)
        parts = []
    elif re.match(_DURATION, text) is None:
        raise ConfigurationError(
            f"{option} must be a duration such as 300, 90s, 5m, 1h30m or 1d; got {text!r}",
            param=option,
        )
    else:
        parts = re.findall(_PART, text)
    if not parts:  # a bare number of seconds
        seconds = float(text)
    else:
        scales = [_UNITS[unit.lower()] for _, unit in parts]
        if any(later >= earlier for earlier, later in pairwise(scales)):
            raise ConfigurationError(
                f"{option}: give the units of {text!r} from the largest down, each once"
                " (1h30m, not 30m1h)",
                param=option,
            )
        seconds = sum(
            float(number) * scale for (number, _), scale in zip(parts, scales, strict=True)
        )
    if not math.isfinite(seconds):
        raise ConfigurationError(f"{option} must be finite, got {text!r}", param=option)
    return seconds


def _is_number(text: str) -> bool:
    """Whether `text` is a bare number of seconds as `_NUMBER` reads it (`300`, `1.5`, `.5`),
    with whitespace around."""  # noqa: D205, D209
    if not text.isascii():  # isdecimal() also takes other scripts' digits
        return False
    head, dot, tail = text.strip().partition(".")
    return (head.isdecimal() or (bool(dot) and not head)) and (not dot or tail.isdecimal())


def parse_instant(text: str, option: str = "now") -> float:
    """Epoch seconds from epoch seconds/milliseconds, ISO 8601, or `wall` (the wall clock).

    Raises:
        ConfigurationError: none of those.
    """
    if text.strip().lower() == "wall":
        return time.time()
    try:
        return epoch_from_value(text)
    except BadLine as bad:
        given = "" if text.strip() in bad.reason else f" (given {text.strip()!r})"
        raise ConfigurationError(
            f"{option}: {bad.reason}{given}",
            hint="give epoch seconds, ISO 8601 or 'wall'",
            param=option,
        ) from bad


def iso(ts: float | None) -> str | None:
    """`2026-11-28T00:00:00Z` (with fractions of a second when there are some)."""
    if ts is None or not math.isfinite(ts):
        return None
    try:
        moment = datetime.fromtimestamp(ts, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    text = moment.isoformat(timespec="milliseconds" if ts % 1 else "seconds")
    return text.replace("+00:00", "Z")


def duration_text(seconds: float) -> str:
    """`5m`, `2h`, `1d`, `90s`, `0.5s`: a window length as `--last` would take it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:.12g}s"
