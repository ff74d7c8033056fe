"""Which window a command asks for: `--last`, `--since`, `--until` and `--now`, one rule.

Every window is half-open, `(start, end]`. `--now` (default: the state's clock, the latest
hit seen) is the reference: `--last N` alone is `(now - N, now]`; `--since S --until U` is
`(S, U]`; `--since S --last N` is `(S, S + N]`; `--until U --last N` is `(U - N, U]`; a
missing end is `now`, and no window at all is `--last 1h`. `--since` and `--until` take an
instant (epoch seconds, ISO 8601, `wall`) or a time relative to the reference such as `-2h`
(or `+5m`).
"""

from __future__ import annotations

import math
from datetime import datetime

import msgspec

from hitcount.errors import ConfigurationError
from hitcount.model.timeparse import (
    duration_text,
    is_duration,
    iso,
    parse_duration,
    parse_instant,
    parse_length,
)

#: The window when none is given: the last hour.
DEFAULT_LAST_S = 3600.0
#: Steps in a series (`plot`, the report) when no step is given: `last / DEFAULT_STEPS`.
DEFAULT_STEPS = 60


class Instant(msgspec.Struct, frozen=True):
    """An instant as given: absolute epoch seconds, or an offset from the reference clock."""

    value: float
    relative: bool = False

    def at(self, reference: float) -> float:
        """Epoch seconds, relative instants counted from `reference`."""
        return reference + self.value if self.relative else self.value


class Resolved(msgspec.Struct, frozen=True):
    """A window in the engine's terms: `(end - last_s, end]`; end None when nothing is known."""

    last_s: float
    end: float | None


class WindowSpec(msgspec.Struct, frozen=True):
    """The window options of one command, checked but not yet placed on a clock.

    Attributes:
        last_s: `--last` in seconds (None: not given).
        since: `--since` (None: not given).
        until: `--until` (None: not given).
        now: `--now` in epoch seconds (None: the state's clock).
    """

    last_s: float | None = None
    since: Instant | None = None
    until: Instant | None = None
    now: float | None = None

    def __post_init__(self) -> None:
        if self.last_s is not None and self.since is not None and self.until is not None:
            raise ConfigurationError(
                "--last cannot go with both --since and --until",
                hint="give --since and --until, or one of them with --last",
                param="last",
            )

    @property
    def ranged(self) -> bool:
        """Whether --since or --until shaped the window (not `--last` back from now)."""
        return self.since is not None or self.until is not None

    def resolve(self, clock: float | None) -> Resolved:
        """The window on `clock` (the state's latest hit), or on `--now` when given.

        Raises:
            ConfigurationError: the window would end at or before its start.
        """
        reference = self.now if self.now is not None else clock
        if reference is None:
            reference = math.nan  # only absolute instants can be placed
        start = math.nan if self.since is None else self.since.at(reference)
        end = math.nan if self.until is None else self.until.at(reference)
        if self.since is not None and self.until is None:
            end = reference if self.last_s is None else start + self.last_s
        elif self.until is None:
            end = reference
        last_s = (end - start) if self.since is not None else (self.last_s or DEFAULT_LAST_S)
        if math.isnan(end) or math.isnan(last_s):  # placed on a clock the state has not got
            return Resolved(self.last_s or DEFAULT_LAST_S, None)
        if not (last_s > 0 and math.isfinite(last_s)):
            raise ConfigurationError(
                f"the window must end after it starts: --since {iso(end - last_s)} is not"
                f" before its end {iso(end)}",
                hint="give a --since before --until (or before the state's clock, or --now)",
                param="since",
            )
        if iso(end - last_s) is None:  # before year 1: no instant to show or compare
            raise self._before_year_one(end, last_s)
        return Resolved(last_s, end)

    def _before_year_one(self, end: float, last_s: float) -> ConfigurationError:
        """The error for a window reaching before year 1, naming the option that put it there."""
        hint = "give a later time, or a date"
        if self.until is not None and iso(end) is None:
            return ConfigurationError("--until is before year 1", hint=hint, param="until")
        if self.since is not None:
            return ConfigurationError("--since is before year 1", hint=hint, param="since")
        return ConfigurationError(
            f"the window would start before year 1: --last {duration_text(last_s)} before"
            f" {iso(end)}",
            hint="give a shorter --last, or --since with a date",
            param="last",
        )

    def length(self) -> float | None:
        """The window's length when no clock is needed to know it (None: it depends on one)."""
        if self.since is None:
            return self.last_s or DEFAULT_LAST_S
        if self.until is None:
            return self.last_s if self.last_s is not None or self.since.relative else None
        if self.since.relative == self.until.relative:
            return self.until.value - self.since.value
        return None

    def reach(self) -> tuple[float, float | None]:
        """How far back from an end (None: the clock) a store must read; inf when unknown."""
        if self.now is not None:
            resolved = self.resolve(None)  # --now places every instant
            end = self.now if resolved.end is None else resolved.end
            reach_end = max(self.now, end)  # an absolute --until may lie after --now
            return reach_end - (end - resolved.last_s), reach_end
        if self.since is not None:
            return (-self.since.value if self.since.relative else math.inf), None
        if self.until is not None and not self.until.relative:
            return math.inf, None
        back = 0.0 if self.until is None else -self.until.value
        return back + (self.last_s or DEFAULT_LAST_S), None


def parse_relative_or_instant(text: str, option: str) -> Instant:
    """`-2h` (before the reference clock; `+5m` after it, `-0s` is the clock) or an instant
    as `--now` takes it.

    Raises:
        ConfigurationError: neither.
    """  # noqa: D205
    stripped = text.strip()
    if stripped[:1] in ("-", "+") and is_duration(stripped[1:]):
        sign = -1.0 if stripped[0] == "-" else 1.0
        return Instant(sign * parse_length(stripped[1:], option), relative=True)
    return Instant(parse_instant(text, option))


def naive_instant(text: str | None) -> bool:
    """Whether `text` is an ISO 8601 date-time without a UTC offset (read as UTC)."""
    if text is None:
        return False
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        return False
    try:
        float(candidate)
    except ValueError:
        pass
    else:
        return False
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return False
    return moment.tzinfo is None


def window_spec(
    last: str | None, since: str | None, until: str | None, now: str | None
) -> WindowSpec:
    """The window options as typed, parsed and checked.

    Raises:
        ConfigurationError: a bad duration or instant, or options that contradict.
    """
    return WindowSpec(
        last_s=None if last is None else parse_duration(last),
        since=None if since is None else parse_relative_or_instant(since, "--since"),
        until=None if until is None else parse_relative_or_instant(until, "--until"),
        now=None if now is None else parse_instant(now, "--now"),
    )
