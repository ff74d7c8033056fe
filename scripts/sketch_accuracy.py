"""hitcount's distinct-user HyperLogLog against Apache DataSketches, on the same users.

Used by ``python scripts/accuracy.py --sketches`` (see there). Each run feeds the same user
strings (``"<seed>:<i>"``, ``n`` of them for seed ``seed``) to:

* ``hitcount``: ``hitcount.sketches.hll.HyperLogLog`` at the distinct tracker's default
  precision (p = 13, 8,192 registers), its 95% interval from ``bounds(0.95)``;
* ``ds-hll``: DataSketches ``hll_sketch(12, HLL_8)`` (``lg_k`` 12, the yardstick: 4 KiB),
  interval ``get_lower_bound(2)`` to ``get_upper_bound(2)`` (2 standard deviations, 95.4%);
* ``ds-cpc``: DataSketches ``cpc_sketch(12)``, interval from the same 2 standard deviations.

Two experiments, each over fixed seeds (0, 1, ...; more seeds at small cardinalities):

* ``single``: one sketch of ``n`` users, for n = 10, 100, 1e3, 2,500 (just past the switch
  to dense registers at p = 13), 1e4, 1e5, 5e5, 1e6;
* ``union``: 60 per-minute sketches (what a window or a glob merges), each user in 1 to 3
  random minutes, merged (``merge`` / ``hll_union`` / ``cpc_union``), for n = 1e3, 1e4, 1e5.

Per (experiment, n, sketch): relative error ``estimate / n - 1`` as RMS and mean (the bias),
the share of runs whose estimate rounds to ``n`` (within 0.5), the share whose interval
holds ``n``, and the mean saved bytes of the sketch (``to_bytes``; DataSketches' compact
serialization). Needs the ``bench`` extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hitcount.sketches.hll import DEFAULT_PRECISION, HyperLogLog

SINGLE_SIZES = (10, 100, 1_000, 2_500, 10_000, 100_000, 500_000, 1_000_000)
UNION_SIZES = (1_000, 10_000, 100_000)
MINUTES = 60
#: Standard deviations of DataSketches' interval (about 95.4%).
DS_SIGMAS = 2
SKETCHES = ("hitcount", "ds-hll", "ds-cpc")
#: DataSketches' ``lg_k``: the comparison is against its 4 KiB HLL_8, whatever hitcount uses.
DS_LG_K = 12


@dataclass
class Result:
    """The runs of one sketch on one experiment at one cardinality."""

    experiment: str
    n: int
    sketch: str
    errors: list[float] = field(default_factory=list)
    exact: list[bool] = field(default_factory=list)
    covered: list[bool] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def add(self, estimate: float, low: float, high: float, size: float) -> None:
        """Record one run's estimate, interval and saved bytes."""
        self.sizes.append(int(size))
        self.errors.append(estimate / self.n - 1.0)
        self.exact.append(abs(estimate - self.n) < 0.5)
        self.covered.append(low <= self.n <= high)

    @property
    def rms(self) -> float:
        """Root mean square of the relative errors."""
        return math.sqrt(statistics.fmean(e * e for e in self.errors))

    @property
    def bias(self) -> float:
        """Mean relative error."""
        return statistics.fmean(self.errors)


def seeds_for(n: int, budget: int, low: int, high: int) -> int:
    """Seeds for cardinality `n`: about `budget` users in all, within `low`..`high`."""
    return max(low, min(high, budget // n))


def _ds() -> Any:
    try:
        import datasketches
    except ImportError as err:  # pragma: no cover - depends on the install
        raise SystemExit(
            "accuracy: --sketches needs the datasketches package: pip install -e '.[bench]'"
        ) from err
    return datasketches


def _single(ds: Any, users: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """Each sketch's (estimate, low, high) for one set of users."""
    mine = HyperLogLog(DEFAULT_PRECISION)
    mine.add_many(users)
    hll = ds.hll_sketch(DS_LG_K, ds.HLL_8)
    cpc = ds.cpc_sketch(DS_LG_K)
    for user in users:
        hll.update(user)
        cpc.update(user)
    return {"hitcount": _mine(mine), **_ds_answers(hll, cpc)}


def _mine(sketch: HyperLogLog) -> tuple[float, float, float, float]:
    return (sketch.estimate(), *sketch.bounds(0.95), len(sketch.to_bytes()))


def _ds_answers(hll: Any, cpc: Any) -> dict[str, tuple[float, float, float, float]]:
    return {
        name: (
            s.get_estimate(),
            s.get_lower_bound(DS_SIGMAS),
            s.get_upper_bound(DS_SIGMAS),
            len(s.serialize_compact() if name == "ds-hll" else s.serialize()),
        )
        for name, s in (("ds-hll", hll), ("ds-cpc", cpc))
    }


def _union(ds: Any, users: Sequence[str], rng: random.Random) -> dict[str, tuple[float, ...]]:
    """Each sketch's answer for the union of per-minute sketches of `users`."""
    minutes: list[list[str]] = [[] for _ in range(MINUTES)]
    for user in users:
        for minute in rng.sample(range(MINUTES), rng.randint(1, 3)):
            minutes[minute].append(user)
    merged = HyperLogLog(DEFAULT_PRECISION)
    hll_union = ds.hll_union(DS_LG_K)
    cpc_union = ds.cpc_union(DS_LG_K)
    for members in minutes:
        part = HyperLogLog(DEFAULT_PRECISION)
        part.add_many(members)
        merged.merge(part)
        hll = ds.hll_sketch(DS_LG_K, ds.HLL_8)
        cpc = ds.cpc_sketch(DS_LG_K)
        for user in members:
            hll.update(user)
            cpc.update(user)
        hll_union.update(hll)
        cpc_union.update(cpc)
    answers = _ds_answers(hll_union.get_result(ds.HLL_8), cpc_union.get_result())
    return {"hitcount": _mine(merged), **answers}


def compare(quick: bool) -> tuple[list[Result], float]:
    """Every result of both experiments, and the seconds they took."""
    ds = _ds()
    budget, low, high = (5_000_000, 5, 100) if quick else (20_000_000, 20, 300)
    started = time.perf_counter()
    results: list[Result] = []
    plans: list[tuple[str, Sequence[int], Callable[..., dict[str, tuple[float, ...]]]]] = [
        ("single", SINGLE_SIZES, lambda users, rng: _single(ds, users)),
        ("union", UNION_SIZES, lambda users, rng: _union(ds, users, rng)),
    ]
    for experiment, sizes, run in plans:
        for n in sizes:
            row = {name: Result(experiment, n, name) for name in SKETCHES}
            for seed in range(seeds_for(n, budget // (1 + 2 * (experiment == "union")), low, high)):
                users = [f"{seed}:{i}" for i in range(n)]
                for name, answer in run(users, random.Random(seed)).items():
                    row[name].add(*answer)
            results.extend(row.values())
    return results, time.perf_counter() - started


def table(results: Sequence[Result]) -> str:
    """The results as an aligned plain-text table."""
    head = ("experiment", "users", "sketch", "seeds", "rms_err", "bias", "rounds_true", "covered",
            "bytes")  # fmt: skip
    body = [
        (
            r.experiment,
            f"{r.n:,}",
            r.sketch,
            str(len(r.errors)),
            f"{r.rms:.2%}",
            f"{r.bias:+.2%}",
            f"{statistics.fmean(r.exact):.0%}",
            f"{statistics.fmean(r.covered):.0%}",
            f"{statistics.fmean(r.sizes):,.0f}",
        )
        for r in results
    ]
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]
    left = {0, 2}
    return "\n".join(
        "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in (head, *body)
    )


def to_json(results: Sequence[Result]) -> list[dict[str, Any]]:
    """The results as JSON-ready rows."""
    return [
        {
            "experiment": r.experiment,
            "users": r.n,
            "sketch": r.sketch,
            "seeds": len(r.errors),
            "rms_rel_error": r.rms,
            "mean_rel_error": r.bias,
            "exact_share": statistics.fmean(r.exact),
            "covered_share": statistics.fmean(r.covered),
            "saved_bytes": statistics.fmean(r.sizes),
        }
        for r in results
    ]
