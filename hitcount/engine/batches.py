"""Batch recording helpers: which hits of a batch are late, and their users into sketches.

`HitCounter.record_columns` uses these so that a batch leaves exactly the state that
recording its hits one by one would: a hit is late when it is older than the horizon the
hits before it left. numpy is imported inside the functions: `query` never loads it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from hitcount.model.columns import Columns
    from hitcount.sketches.distinct import DistinctTracker
    from hitcount.strategies import Strategy


def horizon_at(clock: float, retention_s: float, max_lateness_s: float, grid_s: float) -> float:
    """The pruning horizon at `clock`: `clock - retention - lateness`, down to the grid."""
    return math.floor((clock - retention_s - max_lateness_s) / grid_s) * grid_s


def late_mask(
    strategy: Strategy, clock: float | None, max_lateness_s: float, stamps: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Which hits `record` would refuse: older than the horizon the hits before them left.

    Args:
        strategy: the counter's strategy (its retention, grid and horizon).
        clock: the replay clock before the batch (None: no hit yet).
        max_lateness_s: the counter's lateness allowance, in seconds.
        stamps: the batch's timestamps, in arrival order.
    """
    import numpy as np  # heavy: only batch ingest needs it

    retention = strategy.retention_s()
    if not math.isfinite(retention):
        return np.zeros(len(stamps), dtype=bool)
    before_batch = -math.inf if clock is None else clock
    grid = strategy.prune_grid_s()
    # The usual batch: even its oldest hit is on time against the latest horizon any of
    # its hits could face, so none is late (horizons only grow within a batch).
    newest = max(before_batch, float(stamps.max()))
    latest = max(math.floor((newest - retention - max_lateness_s) / grid) * grid, strategy.horizon)
    probe = np.array([newest, stamps.min()])  # the oldest hit, after the newest (ehist's edge)
    if not strategy.late_mask(probe, np.array([latest, latest]))[1]:
        return np.zeros(len(stamps), dtype=bool)
    before = np.maximum.accumulate(np.concatenate(([before_batch], stamps[:-1])))
    horizons = np.floor((before - retention - max_lateness_s) / grid) * grid
    horizons = np.maximum(horizons, strategy.horizon)
    return strategy.late_mask(stamps, horizons)


def add_users(tracker: DistinctTracker, columns: Columns, late: npt.NDArray[np.bool_]) -> None:
    """The users of a batch's kept hits into the tracker (before the batch's prune)."""
    import numpy as np  # heavy: only batch ingest needs it

    from hitcount.sketches.hll import SPARSE_PRECISION
    from hitcount.sketches.registers import (  # numpy at import
        code_users,
        reduce_registered,
        user_registers,
    )

    entries = columns.user_entries
    made_for = None if entries is None else (entries.precision, entries.bucket_s)
    any_late = bool(late.any())
    usable = made_for == (tracker.precision, tracker.bucket_s)
    usable = usable and entries is not None and entries.closed_right == tracker.closed_right
    if entries is not None and usable and not any_late:  # a worker's reduction holds
        tracker.add_entries(columns.names, entries)
        return
    if columns.user_registers is not None and columns.user_codes is not None:
        table, user_codes = columns.user_registers, columns.user_codes
    elif columns.user_names is not None and columns.user_codes is not None:
        user_names, user_codes = columns.user_names, columns.user_codes
        table = user_registers(user_names, SPARSE_PRECISION)
    elif columns.users is not None:
        user_names, user_codes = code_users(columns.users)
        table = user_registers(user_names, SPARSE_PRECISION)
    else:
        return
    if any_late:
        user_codes = np.where(late, np.int32(-1), user_codes)  # late hits add no user
    entries = reduce_registered(
        columns.codes, columns.ts, table, user_codes, tracker.precision, tracker.bucket_s,
        tracker.closed_right,
    )  # fmt: skip
    tracker.add_entries(columns.names, entries)


def record_on_time(
    strategy: Strategy, columns: Columns, late: npt.NDArray[np.bool_], *, reduced_ok: bool
) -> int:
    """The batch's on-time hits into `strategy`: a worker's reduction when it holds.

    The reduction is used only when no hit is late and `reduced_ok` (no endpoint cap,
    which renames endpoints hit by hit); else the columns are recorded.
    """
    if late.any():
        on_time = ~late
        return strategy.record_columns(columns.names, columns.codes[on_time], columns.ts[on_time])
    if columns.reduced is not None and reduced_ok:
        kept = strategy.record_reduced(columns.names, columns.reduced)
        if kept is not None:
            return kept
    return strategy.record_columns(columns.names, columns.codes, columns.ts, columns.order)
