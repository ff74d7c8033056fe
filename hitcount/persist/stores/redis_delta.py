"""The delta of a read-modify-write layout: a batch's raw hits, refused as the strategy would."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from hitcount.model.answers import WindowAnswer
from hitcount.strategies.base import Strategy

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class RawHits(Strategy):
    """A delta that keeps a batch's raw timestamps, with the real strategy's late rule."""

    name = "raw"
    summary = "the hits of one batch, as they came"
    is_exact = True
    params_spec = ()

    def __init__(self, real: Strategy) -> None:
        super().__init__()
        self.real = real
        self.params = real.params
        self.hits: dict[str, list[float]] = {}

    @classmethod
    def of(cls, real: Strategy, horizon: float) -> RawHits:
        """A delta named like `real` (replay checks compare the strategy's name), both at
        `horizon`."""  # noqa: D205, D209
        named: type[RawHits] = type(f"Raw{type(real).__name__}", (cls,), {"name": real.name})
        real.horizon = horizon
        delta = named(real)
        delta.horizon = horizon
        return delta

    def retention_s(self) -> float:
        """The real strategy's retention."""
        return self.real.retention_s()

    def prune_grid_s(self) -> float:
        """The real strategy's pruning grid."""
        return self.real.prune_grid_s()

    def late_mask(
        self, timestamps: npt.NDArray[np.float64], horizons: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        """The real strategy's rule."""
        return self.real.late_mask(timestamps, horizons)

    def record(self, endpoint: str, ts: float) -> bool:
        """Keep one hit unless the real strategy would refuse it."""
        import numpy as np

        if self.real.late_mask(np.array([ts]), np.array([self.horizon]))[0]:
            return False
        self.hits.setdefault(endpoint, []).append(ts)
        return True

    def record_array(self, endpoint: str, timestamps: npt.NDArray[np.float64]) -> int:
        """Keep a batch of (already checked) hits."""
        self.hits.setdefault(endpoint, []).extend(timestamps.tolist())
        return len(timestamps)

    def prune(self, horizon: float) -> dict[str, int]:
        """Move the horizon; the store prunes what it holds when the batch is applied."""
        self.horizon = max(self.horizon, horizon)
        return {}

    def query(self, endpoint: str, start: float, end: float, clock: float) -> WindowAnswer:
        """The batch's hits in `(start, end]`, exactly: what a writer's live view shows (the
        hits since its last commit; the stored state answers every other question)."""  # noqa: D205, D209
        import numpy as np

        times = np.asarray(self.hits.get(endpoint, ()), dtype=np.float64)
        return WindowAnswer.exactly(int(np.count_nonzero((times > start) & (times <= end))))

    def endpoints(self) -> Iterable[str]:
        """Endpoints with hits in the batch."""
        return self.hits.keys()

    def totals(self) -> dict[str, int]:
        """Hits per endpoint in the batch."""
        return {endpoint: len(times) for endpoint, times in self.hits.items()}

    def memory_entries(self) -> int:
        """Hits held."""
        return sum(len(times) for times in self.hits.values())

    def state_bytes(self) -> int:
        """Eight bytes a hit."""
        return 8 * self.memory_entries()

    def to_state(self) -> dict[str, Any]:
        """The raw hits."""
        return {"hits": self.hits}

    def load_state(self, raw: bytes) -> None:
        """Never loaded."""
        raise NotImplementedError("a batch of raw hits is never loaded")
