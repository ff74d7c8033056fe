"""Counters about the counting itself: hits, bad lines, pruning, lateness."""

from __future__ import annotations

import math
from typing import Any

import msgspec

from hitcount.model.timeparse import iso


class Metrics(msgspec.Struct, forbid_unknown_fields=True):
    """Running totals, saved with the state and restored with a snapshot.

    Attributes:
        total_hits: hits accepted (every strategy counts these exactly).
        bad_lines: input lines rejected as malformed.
        late_hits: hits that arrived after their time had been pruned; not counted.
        pruned_events: entries (timestamps, buckets) removed by pruning.
        lines_read: input lines read, good or bad.
    """

    total_hits: int = 0
    bad_lines: int = 0
    late_hits: int = 0
    pruned_events: int = 0
    lines_read: int = 0

    def check(self) -> None:
        """Raise ValueError when a counter is negative or absurd."""
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if not 0 <= value < 2**63:
                raise ValueError(f"metric {name} out of range: {value}")

    def as_dict(self) -> dict[str, Any]:
        """The counters as a plain dict."""
        return msgspec.structs.asdict(self)


def plain(value: float) -> str:
    """`2678400`, `0.05`, `88`: a number as people write it (no exponent, no float noise).

    Twelve significant digits at most, so `87.99999999999994` reads `88`; `inf` and `-inf`
    stay words, and beyond 1e21 (no count or time is) the exponent stays: `1e+308`.
    """
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e21:  # past any count or time: `1e+308`, not its 309 digits
        return f"{value:.12g}"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.12g}"
    if "e" in text:  # very small or very large: write the digits out
        text = f"{value:.12f}".rstrip("0").rstrip(".")
    return text


def four_digits(value: float) -> str:
    """`0.00001157`, `0.0125`: four significant digits, written out as `plain` writes numbers."""
    return plain(float(f"{value:.4g}"))


def number(value: float) -> str:
    """`42`, `41.5`, or `inf`: short, plain and copy-pasteable (as `top` prints counts)."""
    if not math.isfinite(value):
        return "inf"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}"


def upper_bound(high: float) -> str:
    """An answer's `high` in a table: `none` when it has no upper bound (as `query` says)."""
    return number(high) if math.isfinite(high) else "none"


def metric_text(name: str, value: Any) -> str:
    """A metric as `hitcount metrics` prints it (times also in ISO 8601, parameters inline)."""
    if name in ("clock", "horizon") and isinstance(value, (int, float)):
        return f"{value:.3f}".rstrip("0").rstrip(".") + f" ({iso(value)})"
    if isinstance(value, dict):
        return ", ".join(
            f"{k}={plain(v)}" if isinstance(v, float) else f"{k}={v}" for k, v in value.items()
        )
    if value is None:
        return "-"
    return number(value) if isinstance(value, float) else str(value)
