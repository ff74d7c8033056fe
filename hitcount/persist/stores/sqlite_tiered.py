"""`tiered` in SQLite: `fixed`'s bucket rows and chunks, one tier per row (0 fine, 1 mid,
2 coarse), the tiers' cuts in meta.

Its own module so that a state of another strategy never imports `tiered` (start-up time of
`query`); `sqlite_documents.layout_for` imports it for a tiered state only.
"""  # noqa: D205

from __future__ import annotations

import math
import sqlite3
from typing import Any

from hitcount.persist.stores.sqlite_bucket_chunks import write_bucket_chunks
from hitcount.persist.stores.sqlite_bulk import damaged_row
from hitcount.persist.stores.sqlite_layouts import BucketLayout
from hitcount.persist.stores.sqlite_versions import is_time
from hitcount.strategies.base import Strategy
from hitcount.strategies.tiered import TieredRollups
from hitcount.strategies.tiered_grid import TIERS, TierCuts


class TieredLayout(BucketLayout):
    """`tiered`: `(endpoint, tier, bucket) -> count`, changed row by row."""

    def part(self, strategy: Strategy, endpoint: str) -> dict[tuple[int, int], int]:
        """`{(tier, bucket): count}` of one endpoint, every tier."""
        tiered = _tiered(strategy)
        return {
            (k, bucket): count
            for k, tier in enumerate(TIERS)
            for bucket, count in tiered.bucket_counts(endpoint, tier).items()
        }

    def _first_needed(self, strategy: Strategy, since: float) -> int | None:
        """Every bucket: the tiers' widths differ (a tiered state is read whole)."""
        return None

    def _restore(self, strategy: Strategy, extras: Any) -> None:
        """The tiers' cuts and `closed_until` (None where unset)."""
        if not extras:
            return
        times = extras if isinstance(extras, list) else []
        if len(times) != len(TierCuts._fields) or not all(is_time(value) for value in times):
            raise damaged_row(f"damaged meta row 'extras': {extras!r} is not tiered's cuts")
        _tiered(strategy).restore_cuts(TierCuts(*(_time(value) for value in times)))

    def _put(self, strategy: Strategy, endpoint: str, part: dict[tuple[int, int], int]) -> None:
        for k, tier in enumerate(TIERS):
            tier_part = {bucket: count for (t, bucket), count in part.items() if t == k}
            if tier_part:
                _tiered(strategy).set_bucket_counts(endpoint, tier, tier_part)

    def write_whole(self, db: sqlite3.Connection, strategy: Strategy) -> None:
        """Write every bucket in chunks, endpoint by endpoint and tier by tier."""
        tiered = _tiered(strategy)
        write_bucket_chunks(
            db,
            (
                (endpoint, k, tiered.bucket_counts(endpoint, tier))
                for endpoint in sorted(strategy.endpoints())
                for k, tier in enumerate(TIERS)
            ),
        )

    def extras(self, strategy: Strategy) -> Any:
        """Meta values: the cuts and `closed_until` (None where unset)."""
        return [value if math.isfinite(value) else None for value in _tiered(strategy).cuts()]


def _tiered(strategy: Strategy) -> TieredRollups:
    assert isinstance(strategy, TieredRollups)  # the layout of a tiered state
    return strategy


def _time(value: Any) -> float:
    return -math.inf if value is None else float(value)
