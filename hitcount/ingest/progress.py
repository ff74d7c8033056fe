"""How far a replay has got: lines read, and bytes of the inputs out of their size."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import msgspec

from hitcount.model.positions import is_stream


class ReplayProgress(msgspec.Struct, frozen=True):
    """How far a replay has got: lines read, and bytes of the inputs read (gzip files by
    their compressed bytes) out of `total_bytes`, which is None when unknown (stdin)."""  # noqa: D205, D209

    lines: int
    done_bytes: int = 0
    total_bytes: int | None = None
    #: What is being read, when a run has several parts (`compare`: the strategy).
    stage: str = ""

    @property
    def fraction(self) -> float | None:
        """The share of the input read, 0..1 (None when its size is unknown)."""
        if self.total_bytes is None:
            return None
        if self.total_bytes <= 0:
            return 1.0
        return min(max(self.done_bytes / self.total_bytes, 0.0), 1.0)


#: Called after each block with how far the replay has got.
ProgressHandler = Callable[[ReplayProgress], None]


def input_size(sources: Iterable[str]) -> int | None:
    """The bytes of all `sources` on disk (gzip: compressed); None with stdin or a missing
    file (which the replay then reports)."""  # noqa: D205, D209
    total = 0
    for source in sources:
        if is_stream(source):
            return None
        try:
            total += os.stat(source).st_size
        except OSError:
            return None
    return total
