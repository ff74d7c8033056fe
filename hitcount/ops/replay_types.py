"""What a replay is told and what it tells: its settings, its hooks, its outcome.

`ReplaySettings` are the options of `hitcount replay`; `ReplayHooks` how a caller observes a
replay (notes, bad lines, progress, the live view), since the service itself prints
nothing; `ReplayOutcome` what it did. `hitcount.ops.replaying` runs replays with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import msgspec

from hitcount.engine import DEFAULT_MAX_LATENESS_S, HitCounter
from hitcount.engine.capping import ENDPOINTS_WARNING, checked_cap
from hitcount.ingest.progress import ProgressHandler
from hitcount.ingest.replay import BadLineInfo, ReplayReport
from hitcount.model.keys import Keying
from hitcount.sketches.hll import DEFAULT_PRECISION

if TYPE_CHECKING:
    from hitcount.live.follow import FollowResult, FollowView


class ReplaySettings(msgspec.Struct, frozen=True):
    """What to replay and how (the options of `hitcount replay`).

    Attributes:
        strategy: the strategy's name (None: `fixed`, or the saved one under `append`).
        params: the strategy's parameters given.
        max_lateness_s: seconds a hit may arrive late and still count (None: the default,
            or the saved value under `append`).
        append: add to the saved state instead of replacing it.
        strict: stop at the first bad line and save nothing.
        distinct: keep distinct-users sketches.
        distinct_precision: their HyperLogLog precision (None: the default, or the saved one).
        resume: with `append`, skip the lines of each file already in the state.
        again: count files the state already holds (or named twice) again.
        fmt: the input format (None: from each file name, else sniffed).
        commit_every_s: follow the inputs as they grow, committing this often (None: no).
        traced: every event is observed (refused on a shared store's append).
        keying: `--key`/`--where` (None: the default, or the saved one under `append`).
        max_endpoints: at most this many endpoints by name, the rest counted under
            `(other endpoints)` (None: no cap, or the saved one under `append`).
    """

    strategy: str | None = None
    params: Mapping[str, object] = msgspec.field(default_factory=dict)
    max_lateness_s: float | None = None
    append: bool = False
    strict: bool = False
    distinct: bool = True
    distinct_precision: int | None = None
    resume: bool = False
    again: bool = False
    fmt: str | None = None
    commit_every_s: float | None = None
    traced: bool = False
    keying: Keying | None = None
    max_endpoints: int | None = None

    def create(self) -> HitCounter:
        """A new, empty counter with these settings.

        Raises:
            ConfigurationError: a bad strategy, parameter, lateness or precision.
        """
        lateness = DEFAULT_MAX_LATENESS_S if self.max_lateness_s is None else self.max_lateness_s
        precision = (
            DEFAULT_PRECISION if self.distinct_precision is None else self.distinct_precision
        )
        counter = HitCounter(
            self.strategy or "fixed",
            max_lateness_s=lateness,
            distinct=self.distinct,
            distinct_precision=precision,
            **self.params,
        )
        counter.keying = self.keying or Keying()
        counter.max_endpoints = checked_cap(self.max_endpoints)
        return counter


def _ignore(_: object) -> None:
    """A hook that does nothing."""


@contextmanager
def _no_progress() -> Iterator[ProgressHandler]:
    yield _ignore


class ReplayHooks(msgspec.Struct):
    """How the caller observes a replay; each hook is optional.

    Attributes:
        on_note: an informational line (the slow-scanner note, resume offsets, follow notes).
        on_bad_line: each of the first `FIRST_BAD_LINES` bad lines, as it is met.
        on_saved: the state has been saved (from then on, an interrupt leaves it saved).
        on_counter: the counter, before its first hit: subscribe observers (traces, alerts).
        should_stop: polled between batches; True ends the replay early (the state is saved).
        progress: a context giving a callback for how far the replay has got.
        follow_view: a context giving the live view, for `ReplaySettings.commit_every_s`.
    """

    on_note: Callable[[str], None] = _ignore
    on_bad_line: Callable[[BadLineInfo], None] = _ignore
    on_saved: Callable[[], None] = lambda: None
    on_counter: Callable[[HitCounter], None] = _ignore
    should_stop: Callable[[], bool] = lambda: False
    progress: Callable[[], AbstractContextManager[ProgressHandler]] = _no_progress
    follow_view: Callable[[], AbstractContextManager[FollowView]] | None = None


class ReplayOutcome(msgspec.Struct, frozen=True):
    """What a replay did: its report, the state's metrics after it, where it was saved."""

    report: ReplayReport
    metrics: dict[str, Any]
    saved_to: str
    followed: FollowResult | None = None

    def warnings(self) -> list[str]:
        """What the caller should warn about: a state grown past `ENDPOINTS_WARNING` endpoints
        with no cap (memory and the time of every `*` query grow with them)."""  # noqa: D205, D209
        count = self.metrics.get("endpoints_count") or 0
        if count <= ENDPOINTS_WARNING or self.metrics.get("max_endpoints") is not None:
            return []
        return [
            f"the state holds {count:,} endpoints (more than {ENDPOINTS_WARNING:,}): it takes"
            " memory and slows every query of many endpoints; cap it with --max-endpoints N"
            " (the rest counted under (other endpoints))"
        ]
