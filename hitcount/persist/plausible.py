"""Cross-checks of a loaded state: values that each pass validation but cannot be true together.

Every field of a document is checked on its own when it is decoded (types, ranges). These
checks compare the parts with one another, so that a hand-edited or forged snapshot is
refused (exit 4, naming what is wrong) instead of giving wrong answers:

- no endpoint is longer than any hit can have (`MAX_ENDPOINT_CHARS`);
- the state holds no more hits than were ever recorded (`metrics.total_hits`), per endpoint
  and in all (for `morris`, a level needs hits to reach it);
- no retained hit is after the clock (the newest timestamp seen), nor before the horizon
  (everything before it was pruned).

Strategy-specific invariants (the tiers of `tiered` nest, an exponential histogram's bucket
sizes) are checked by each strategy's `load_state`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from hitcount.errors import StateError
from hitcount.model.hits import MAX_ENDPOINT_CHARS
from hitcount.model.timeparse import iso

if TYPE_CHECKING:
    from hitcount.engine.queries import Answering

#: Relative slack on time comparisons: bucket edges are float products.
_TIME_SLACK = 1e-9


def check_plausible(counter: Answering) -> None:
    """Raise unless the counter's parts agree with one another.

    Raises:
        StateError: the first thing found that cannot be true, with the values involved.
    """
    endpoints = counter.strategy.endpoints()
    if max(map(len, endpoints), default=0) > MAX_ENDPOINT_CHARS:
        longest = max(endpoints, key=len)
        raise StateError(
            f"an endpoint of {len(longest):,} characters ({longest[:40]!r}...), longer"
            f" than any hit's ({MAX_ENDPOINT_CHARS})"
        )
    _check_hits(counter)
    _check_times(counter)


def _check_hits(counter: Answering) -> None:
    recorded = counter.metrics.total_hits
    held = counter.strategy.hits_held_at_least()
    if max(held.values(), default=0) > recorded:
        endpoint, hits = max(held.items(), key=lambda item: item[1])
        raise StateError(
            f"endpoint {endpoint!r} holds {hits:,} hits, more than the {recorded:,} ever"
            " recorded (metrics.total_hits)"
        )
    if (total := sum(held.values())) > recorded:
        raise StateError(
            f"the endpoints hold {total:,} hits together, more than the {recorded:,} ever"
            " recorded (metrics.total_hits)"
        )


def _check_times(counter: Answering) -> None:
    times = counter.strategy.data_times()
    if times is None or counter.clock is None:
        return
    oldest, newest = times
    clock, horizon = counter.clock, counter.strategy.horizon
    if newest > clock + _slack(clock):
        raise StateError(
            f"holds hits at {iso(newest)}, after its clock {iso(clock)} (the newest time seen)"
        )
    if math.isfinite(horizon) and oldest < horizon - _slack(horizon):
        raise StateError(
            f"holds hits at {iso(oldest)}, before its horizon {iso(horizon)} (all pruned)"
        )


def _slack(t: float) -> float:
    return _TIME_SLACK * max(1.0, abs(t))
