"""Alerts: exact windowed counts of endpoints against limits, with hysteresis.

A rule such as `/login>100/60s` watches every endpoint it matches (an endpoint, or a glob
such as `/api/*`), each on its own. Time is the replay clock `c`: the latest timestamp seen
so far, whatever its endpoint (hits are taken in arrival order; a late hit counts if it is
still inside the window). The count of an endpoint at `c` is its hits with
`c - window < ts <= c` (a hit leaves the window at exactly `ts + window`).

- `threshold_exceeded` fires when the count goes above the limit while the rule is quiet
  for that endpoint; its `ts` is the clock at that hit.
- The alert then stays active until the count has stayed at or below the limit for one full
  window: `threshold_cleared` fires, with `ts` the exact log time that window ended. It is
  noticed as soon as the clock reaches that time (a hit of any endpoint), or `advance()`.

So one burst gives one alert, and an endpoint alerts at most once per window length.
The tracks (recent timestamps, firing, quiet since) are saved with the state (`to_state`,
`restore`), so a replay with `--append` continues a burst instead of announcing it again.

The counts are exact whatever the counting strategy: each watched endpoint keeps its
`limit + 1` latest timestamps, all that is needed to know whether the count is above the
limit. Endpoints idle for a window are forgotten.
"""

from __future__ import annotations

import math
import re
from bisect import insort
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from hitcount.engine.alert_tracks import checked_tracks as checked_tracks  # re-exported
from hitcount.errors import ConfigurationError
from hitcount.model import events as ev
from hitcount.model.arguments import finite_number, of_type
from hitcount.model.globs import matches
from hitcount.model.metrics import plain
from hitcount.model.timeparse import parse_duration

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: `emit(name, payload, clock)`, e.g. `EventBus.emit`.
Emit = Callable[[str, dict[str, Any], float], None]
#: The form of an `--alert` rule, shown when one is wrong.
RULE_FORM = "ENDPOINT>LIMIT/WINDOW, e.g. '/login>100/60s' or '/api/*>500/1m'"
_RULE = re.compile(r"^(?P<pattern>.+)>\s*(?P<limit>[^/>]*?)\s*/(?P<window>[^/>]*)$", re.S)
#: Endpoints whose matching rules are remembered (the memo is emptied when it grows past).
_MEMO_SIZE = 65536
#: Watched endpoints kept before idle ones are swept out.
_SWEEP_FLOOR = 1024


class HitObserver(Protocol):
    """Something shown every hit a counter records (alerts are one)."""

    def observe(self, endpoint: str, ts: float) -> None:
        """One hit, as `record` takes it."""

    def observe_columns(
        self, names: list[str], codes: npt.NDArray[np.int32], stamps: npt.NDArray[np.float64]
    ) -> None:
        """A batch (`names[codes[i]]` at `stamps[i]`), as `record_columns` takes it."""


class AlertRule(msgspec.Struct, frozen=True):
    """Alert when an endpoint gets more than `limit` hits in `window_s` seconds.

    Attributes:
        pattern: an endpoint, or a glob (`*`, `?`, `[...]`) whose endpoints are each watched.
        limit: hits allowed in the window (the alert fires at `limit + 1`).
        window_s: window length in seconds.
    """

    pattern: str
    limit: int
    window_s: float

    def __post_init__(self) -> None:
        """Check the fields.

        Raises:
            ConfigurationError: empty pattern, negative limit, window not > 0.
        """
        if not self.pattern:
            raise ConfigurationError(f"rule needs an endpoint; expected {RULE_FORM}", param="rule")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 0:
            raise ConfigurationError(
                f"rule limit must be a whole number >= 0, got {self.limit!r}", param="rule"
            )
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ConfigurationError(
                f"rule window must be > 0 seconds, got {self.window_s!r}", param="rule"
            )

    @classmethod
    def parse(cls, spec: str) -> AlertRule:
        """The rule written `ENDPOINT>LIMIT/WINDOW` (`/login>100/60s`, `/api/*>500/1m`).

        WINDOW is a duration as elsewhere: `60`, `90s`, `5m`, `2h`, `1d`.

        Raises:
            ConfigurationError: anything else, with the expected form.
        """
        match = _RULE.match(spec) if isinstance(spec, str) else None
        if match is None or not match.group("limit").isdigit():
            raise ConfigurationError(
                f"--alert must look like {RULE_FORM}; got {spec!r}",
                hint="LIMIT is a whole number of hits; quote the rule (the shell reads a bare '>')",
            )
        window_s = parse_duration(match.group("window"), option=f"--alert {spec!r}: the window")
        return cls(match.group("pattern").strip(), int(match.group("limit")), window_s)

    @property
    def text(self) -> str:
        """The rule as written on the command line, e.g. `/login>100/60s`."""
        return f"{self.pattern}>{self.limit}/{plain(self.window_s)}s"

    def matches(self, endpoint: str) -> bool:
        """Whether `endpoint` is the pattern, or matches it as a glob (`model.globs`)."""
        return matches(endpoint, self.pattern)


class _Track:
    """One rule on one endpoint: its latest `limit + 1` timestamps and whether it fires."""

    __slots__ = ("firing", "quiet_from", "recent")

    def __init__(self, limit: int) -> None:
        self.recent: deque[float] = deque(maxlen=limit + 1)  # sorted, oldest first
        self.firing = False
        #: While firing: since when the count has been at or below the limit (None: above).
        self.quiet_from: float | None = None

    def add(self, ts: float) -> None:
        recent = self.recent
        if not recent or ts >= recent[-1]:
            recent.append(ts)
        elif len(recent) < (recent.maxlen or 0) or ts > recent[0]:
            if len(recent) == recent.maxlen:
                recent.popleft()
            insort(recent, ts)

    def count(self, clock: float, window_s: float) -> int:
        """Hits in the window ending at `clock` (exact up to `limit + 1`)."""
        return sum(1 for ts in self.recent if ts <= clock < ts + window_s)

    def due(self, window_s: float) -> float:
        """When this firing track next needs a look: the count drops, or the quiet ends."""
        if self.quiet_from is None:
            return self.recent[0] + window_s
        return self.quiet_from + window_s

    def cleared_by(self, clock: float, window_s: float) -> float | None:
        """The time the alert clears if that is at or before `clock` (notes a quiet start)."""
        if self.quiet_from is None:
            drop = self.recent[0] + window_s
            if drop > clock:
                return None
            self.quiet_from = drop
        end = self.quiet_from + window_s
        return end if end <= clock else None

    def idle(self, clock: float, window_s: float) -> bool:
        return not self.firing and (not self.recent or self.recent[-1] + window_s <= clock)


class Alerts:
    """Evaluates alert rules on every hit, in arrival order, and emits their events.

    Example:
        alerts = Alerts([AlertRule.parse("/login>2/60s")], bus.emit)
        for ts in (0, 10, 20, 200):
            alerts.observe("/login", ts)
        # threshold_exceeded at ts 20 (3 hits > 2), threshold_cleared at ts 120
        # (the count fell to 2 at 60 and stayed <= 2 until 120; noticed at 200)
    """

    def __init__(self, rules: Iterable[AlertRule], emit: Emit, clock: float | None = None) -> None:
        """Watch `rules`; `emit(name, payload, clock)` receives each event; `clock` to start.

        Raises:
            ConfigurationError: `rules` not an iterable of rules, `emit` not callable, or
                `clock` neither None nor a finite number.
        """
        if not isinstance(rules, Iterable) or isinstance(rules, str | bytes):
            raise ConfigurationError(
                f"rules must be an iterable of alert rules, got {type(rules).__name__}",
                param="rules",
            )
        if not callable(emit):
            raise ConfigurationError(
                f"emit must be callable, got {type(emit).__name__}", param="emit"
            )
        if clock is not None:
            clock = finite_number(clock, "clock", "None or epoch seconds (a finite number)")
        self.rules: list[AlertRule] = []
        self.clock = clock
        self._emit = emit
        self._tracks: dict[tuple[int, str], _Track] = {}
        self._firing: dict[tuple[int, str], _Track] = {}
        self._next_due = math.inf  # never later than the earliest due of a firing track
        self._sweep_at = _SWEEP_FLOOR
        self._memo: dict[str, tuple[int, ...]] = {}
        for rule in rules:
            self.add(rule)

    def add(self, rule: AlertRule | str) -> None:
        """Watch one more rule (from the next hit on): an `AlertRule` or its text.

        Raises:
            ConfigurationError: a rule that does not parse, or neither a rule nor text.
        """
        if isinstance(rule, str):
            rule = AlertRule.parse(rule)
        self.rules.append(of_type(rule, AlertRule, "rule", "an AlertRule or its text"))
        self._memo.clear()

    def active(self) -> list[tuple[AlertRule, str]]:
        """The alerts firing now: (rule, endpoint) pairs."""
        return [(self.rules[index], endpoint) for index, endpoint in self._firing]

    def observe(self, endpoint: str, ts: float) -> None:
        """One hit, in arrival order: advance the clock, clear what is due, then count it."""
        clock = ts if self.clock is None else max(self.clock, ts)
        self.advance(clock)
        for index in self._rules_for(endpoint):
            self._count(index, endpoint, ts, clock)

    def observe_columns(
        self, names: list[str], codes: npt.NDArray[np.int32], stamps: npt.NDArray[np.float64]
    ) -> None:
        """A batch of hits (`names[codes[i]]` at `stamps[i]`, arrival order) at once.

        Emits exactly what `observe` would for each hit in turn, but loops in Python over
        the watched endpoints' hits only.
        """
        import numpy as np

        if not len(stamps):
            return
        running = np.maximum.accumulate(stamps)  # the clock after each hit
        if self.clock is not None:
            running = np.maximum(running, self.clock)

        def noticed(at: float) -> float:  # the clock at the first hit reaching `at`
            return float(running[min(int(np.searchsorted(running, at)), len(running) - 1)])

        rules_of = [self._rules_for(name) for name in names]
        watched = [code for code, found in enumerate(rules_of) if found]
        picked = np.flatnonzero(np.isin(codes, watched)) if watched else np.empty(0, np.intp)
        rows = zip(
            codes[picked].tolist(), stamps[picked].tolist(), running[picked].tolist(), strict=True
        )
        for code, ts, clock in rows:
            if self._next_due <= clock:
                self._advance(clock, noticed)
            for index in rules_of[code]:
                self._count(index, names[code], ts, clock)
        self._advance(float(running[-1]), noticed)

    def advance(self, clock: float) -> None:
        """Move the clock to `clock` (if later) and clear the alerts due by then."""
        self._advance(clock, lambda _at: clock)

    def _advance(self, clock: float, noticed: Callable[[float], float]) -> None:
        if self.clock is None or clock > self.clock:
            self.clock = clock
        if self._next_due <= clock:
            self._clear_due(clock, noticed)

    def _rules_for(self, endpoint: str) -> tuple[int, ...]:
        found = self._memo.get(endpoint)
        if found is None:
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            found = tuple(i for i, rule in enumerate(self.rules) if rule.matches(endpoint))
            self._memo[endpoint] = found
        return found

    def _count(self, index: int, endpoint: str, ts: float, clock: float) -> None:
        rule = self.rules[index]
        if ts + rule.window_s <= clock:
            return  # already out of its window: it can never count
        key = (index, endpoint)
        track = self._tracks.get(key)
        if track is None:
            track = self._tracks[key] = _Track(rule.limit)
            if len(self._tracks) > self._sweep_at:
                self._sweep(clock)
        recent = track.recent
        if recent and ts < recent[-1]:
            track.add(ts)
        else:
            recent.append(ts)  # in order: the common case, kept inline
        if len(recent) != recent.maxlen or recent[0] + rule.window_s <= clock:
            return  # not above the limit (see `_Track.above`)
        track.quiet_from = None
        if not track.firing:
            track.firing = True
            self._firing[key] = track
            self._send(ev.THRESHOLD_EXCEEDED, rule, endpoint, track, clock, clock)
        self._next_due = min(self._next_due, track.due(rule.window_s))

    def _clear_due(self, clock: float, noticed: Callable[[float], float]) -> None:
        cleared = []
        for key, track in self._firing.items():
            at = track.cleared_by(clock, self.rules[key[0]].window_s)
            if at is not None:
                cleared.append((at, key))
        for at, key in sorted(cleared):
            track = self._firing.pop(key)
            track.firing, track.quiet_from = False, None
            self._send(ev.THRESHOLD_CLEARED, self.rules[key[0]], key[1], track, at, noticed(at))
        dues = (track.due(self.rules[index].window_s) for (index, _), track in self._firing.items())
        self._next_due = min(dues, default=math.inf)

    def _send(
        self, name: str, rule: AlertRule, endpoint: str, track: _Track, ts: float, clock: float
    ) -> None:
        payload = {
            "endpoint": endpoint,
            "count": track.count(ts, rule.window_s),
            "limit": rule.limit,
            "window": rule.window_s,
            "ts": ts,
            "rule": rule.text,
        }
        self._emit(name, payload, clock)

    def to_state(self, saved: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The tracks worth keeping (firing, or with hits in their window), JSON-ready, with
        the `saved` ones of rules not watched now."""  # noqa: D205, D209
        watched = {rule.text for rule in self.rules}
        kept = [track for track in saved if track["rule"] not in watched]
        clock = -math.inf if self.clock is None else self.clock
        for (index, endpoint), track in self._tracks.items():
            rule = self.rules[index]
            if track.idle(clock, rule.window_s):
                continue
            kept.append({
                "rule": rule.text, "endpoint": endpoint, "recent": list(track.recent),
                "firing": track.firing, "quiet_from": track.quiet_from,
            })  # fmt: skip
        return kept

    def restore(self, saved: list[dict[str, Any]]) -> None:
        """Take back the saved tracks of the rules watched (checked by `checked_tracks`)."""
        index_of = {rule.text: index for index, rule in enumerate(self.rules)}
        for item in saved:
            index = index_of.get(item["rule"])
            if index is None or (index, item["endpoint"]) in self._tracks:
                continue
            track = _Track(self.rules[index].limit)
            track.recent.extend(sorted(item["recent"])[-(self.rules[index].limit + 1) :])
            track.firing, track.quiet_from = item["firing"], item["quiet_from"]
            self._tracks[(index, item["endpoint"])] = track
            if track.firing and track.recent:
                self._firing[(index, item["endpoint"])] = track
                self._next_due = min(self._next_due, track.due(self.rules[index].window_s))
            elif track.firing:
                track.firing = False

    def _sweep(self, clock: float) -> None:
        """Forget endpoints with no hit in their window and no alert active."""
        for key in [k for k, t in self._tracks.items() if t.idle(clock, self.rules[k[0]].window_s)]:
            del self._tracks[key]
        self._sweep_at = max(_SWEEP_FLOOR, 2 * len(self._tracks))
