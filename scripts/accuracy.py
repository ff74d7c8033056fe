#!/usr/bin/env python3
"""Error against state size for every hitcount strategy, next to each one's theoretical error.

For every input, each strategy is replayed once per configuration of its size parameter:

* ``fixed``: bucket width 1, 10, 60, 300 s (retention 1 day);
* ``tiered``: fine width 5, 10, 60 s (mid 60 s, coarse 1 h, default retentions);
* ``ehist``: epsilon 0.2, 0.1, 0.05, 0.01 (``max_window_s`` = the longest window);
* ``morris``: (base, counters) = (2, 1), (2, 4), (1.1, 8), (1.05, 32), each with ``--seeds``
  seeds pooled;
* ``sliding``: the exact strategy (``max_window_s`` = the longest window), a sanity check.

Each configuration is then asked, for the ``--top`` busiest endpoints of every window length
(by exact count; windows are ``now - N < ts <= now`` with ``now`` = the replay clock), how many
hits it saw, and its ``count`` is compared with the exact count from a ``sliding`` reference
that keeps every timestamp and accepts any lateness. Morris answers cover all time, so it is
judged against the all-time totals of the busiest endpoints overall (rows labelled
``all-time``). Per row the script reports the mean and max relative error, the fraction of
answers with ``low <= exact <= high`` (certain bounds, except morris: 95% confidence), the
mean stated relative width ``(high - low) / exact``, the theoretical error, the hits the
strategy dropped as too late, the state bytes, memory entries and bytes per endpoint.

Theoretical error, per strategy:

* ``morris``: relative standard deviation ``sqrt((a - 1) / (2 k))`` (from the variance
  ``(a - 1) n (n - 1) / 2k``), and its 95% band ``1.96`` times that;
* ``ehist``: relative error at most ``epsilon`` (a certain bound);
* ``fixed`` / ``tiered``: the window cuts one bucket (of the finest tier, for ``tiered``) at its
  start, so the error is at most the hits of that bucket; at a uniform rate that is the share
  ``width / N`` of the window (shown; bursty traffic can exceed it);
* ``sliding``: 0.

Inputs: the generated sample ``sample_traffic/web.ndjson`` and, when present, the real logs
``/work/shared/data/real/*.log.gz`` (an input that fails to replay is skipped with a
warning); ``--input FILE`` (repeatable) replaces them. ``--quick`` uses only the sample and
the windows 60 s and 1 h.

``--sketches`` measures the distinct-user sketches instead: hitcount's HyperLogLog (p = 13,
the distinct tracker's default) against Apache DataSketches' HLL and CPC (lg_k = 12) on the
same users, one sketch of 10 to 1e6 users and the union of 60 per-minute sketches, with RMS
error, bias, exact answers, interval coverage and saved bytes over fixed seeds (``scripts/
sketch_accuracy.py``; needs ``pip install -e '.[bench]'``). ``--quick`` runs fewer seeds.

Examples::

    python scripts/accuracy.py
    python scripts/accuracy.py --quick
    python scripts/accuracy.py --input big.ndjson --top 50 --windows 60,3600 --json
    python scripts/accuracy.py --sketches --quick

Python 3.10 or later, with hitcount installed (``pip install -e .``).
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import shlex
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hitcount import HitCounter, HitcountError, WindowAnswer, replay

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_traffic" / "web.ndjson"
REAL_GLOB = "/work/shared/data/real/*.log.gz"
#: Lateness of the exact reference: it never prunes nor refuses a hit.
REFERENCE_LATENESS_S = 2.5e11
#: z of a two-sided 95% normal interval.
Z95 = 1.959963984540054
DEFAULT_WINDOWS = (60.0, 600.0, 3600.0)
QUICK_WINDOWS = (60.0, 3600.0)
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Config:
    """One strategy with one setting of its size parameter.

    Attributes:
        strategy: registered strategy name.
        label: the size parameter as shown in the table.
        params: keyword parameters for the strategy.
        seeds: seeds to pool (morris); empty for deterministic strategies.
    """

    strategy: str
    label: str
    params: dict[str, object]
    seeds: tuple[int, ...] = ()


@dataclass
class Row:
    """The accuracy of one configuration over one window length on one input."""

    input: str
    strategy: str
    param: str
    window: str
    window_s: float | None
    samples: int
    mean_rel_error: float
    max_rel_error: float
    bounds_held: float
    mean_rel_width: float | None
    theory: str
    theory_value: float | None
    late_hits: int
    state_bytes: int
    memory_entries: int
    endpoints: int
    errors: list[float] = field(default_factory=list, repr=False)
    held: list[bool] = field(default_factory=list, repr=False)
    widths: list[float] = field(default_factory=list, repr=False)

    @property
    def bytes_per_endpoint(self) -> float:
        """State bytes divided by the endpoints the state holds."""
        return self.state_bytes / self.endpoints if self.endpoints else 0.0


def configs(max_window_s: float, seeds: int) -> list[Config]:
    """Every configuration of the sweep, the exact one first."""
    out = [Config("sliding", "exact", {"max_window_s": max_window_s})]
    out += [
        Config("fixed", f"window={w:g}s", {"window_s": w, "retention_s": 86400.0})
        for w in (1.0, 10.0, 60.0, 300.0)
    ]
    out += [
        Config("tiered", f"fine={w:g}s", {"fine_s": w, "mid_s": 60.0, "coarse_s": 3600.0})
        for w in (5.0, 10.0, 60.0)
    ]
    out += [
        Config("ehist", f"eps={e:g}", {"epsilon": e, "max_window_s": max_window_s})
        for e in (0.2, 0.1, 0.05, 0.01)
    ]
    out += [
        Config("morris", f"a={a:g},k={k}", {"base": a, "counters": k}, tuple(range(seeds)))
        for a, k in ((2.0, 1), (2.0, 4), (1.1, 8), (1.05, 32))
    ]
    return out


def theory(config: Config, window_s: float | None) -> tuple[str, float | None]:
    """The theoretical relative error of `config` for windows of `window_s`, text and value."""
    p = config.params
    if config.strategy == "sliding":
        return "0 (exact)", 0.0
    if config.strategy == "ehist":
        eps = float(p["epsilon"])  # type: ignore[arg-type]
        return f"<= {eps:g} (certain)", eps
    if config.strategy == "morris":
        a, k = float(p["base"]), int(p["counters"])  # type: ignore[arg-type,call-overload]
        sd = math.sqrt((a - 1) / (2 * k))
        return f"sd {sd:.3f}, 95% band +-{Z95 * sd:.3f}", sd
    width = float(p["window_s"] if config.strategy == "fixed" else p["fine_s"])  # type: ignore[arg-type]
    assert window_s is not None
    share = width / window_s
    return f"<= {share:.3g} (width/N)", share


def answer_of(counter: HitCounter, endpoint: str, last_s: float, now: float) -> WindowAnswer:
    """`counter`'s answer for exactly `endpoint` (no glob matching) in `(now - last_s, now]`."""
    answer = counter.strategy.query(endpoint, now - last_s, now, now)
    if not answer.complete:  # as HitCounter.query: no upper bound past the retained data
        answer = WindowAnswer(
            answer.count, answer.low, math.inf, False, answer.confidence, False, answer.all_time
        )
    return answer


def score(answer: WindowAnswer, exact: int) -> tuple[float, bool, float]:
    """Relative error, whether the bounds held, and relative width of the bounds."""
    error = abs(answer.count - exact) / exact
    held = answer.low - TOLERANCE <= exact <= answer.high + TOLERANCE
    return error, held, (answer.high - answer.low) / exact


def measure(
    name: str, source: str, windows: Sequence[float], top: int, seeds: int
) -> list[Row] | None:
    """Every configuration's rows for one input (None when the input cannot be replayed)."""
    longest = max(windows)
    reference = HitCounter("sliding", max_window_s=longest, max_lateness_s=REFERENCE_LATENESS_S)
    try:
        replay(reference, [source])
    except HitcountError as exc:
        print(f"accuracy: warning: skipping {source}: {exc}", file=sys.stderr)
        return None
    now = reference.clock
    assert now is not None
    truth: dict[float, dict[str, int]] = {}
    for window in windows:
        best = reference.top(window, now, limit=top)
        truth[window] = {r.endpoint: int(r.answer.count) for r in best if r.answer.count > 0}
    totals = reference.strategy.totals()
    busiest = sorted(totals, key=lambda ep: (-totals[ep], ep))[:top]
    all_time = {ep: totals[ep] for ep in busiest}

    rows: list[Row] = []
    for config in configs(longest, seeds):
        keyed: dict[float | None, Row] = {}
        for seed in config.seeds or (None,):
            params = dict(config.params)
            if seed is not None:
                params["seed"] = seed
            counter = HitCounter(config.strategy, **params)
            try:
                replay(counter, [source])
            except HitcountError as exc:
                print(f"accuracy: warning: {config.label} on {source}: {exc}", file=sys.stderr)
                break
            metrics = counter.metrics_dict()
            plan: Iterable[tuple[float | None, dict[str, int]]] = (
                [(None, all_time)] if config.strategy == "morris" else truth.items()
            )
            for window, exact_counts in plan:
                row = keyed.get(window)
                if row is None:
                    text, value = theory(config, window)
                    row = keyed[window] = Row(
                        name,
                        config.strategy,
                        config.label,
                        "all-time" if window is None else _duration(window),
                        window,
                        0,
                        0.0,
                        0.0,
                        0.0,
                        None,
                        text,
                        value,
                        metrics["late_hits"],
                        metrics["state_bytes"],
                        metrics["memory_entries"],
                        metrics["endpoints_count"],
                    )
                for endpoint, exact in exact_counts.items():
                    last_s = window if window is not None else REFERENCE_LATENESS_S
                    error, held, width = score(answer_of(counter, endpoint, last_s, now), exact)
                    row.errors.append(error)
                    row.held.append(held)
                    row.widths.append(width)
        rows.extend(_finish(row) for row in keyed.values())
    return rows


def _finish(row: Row) -> Row:
    row.samples = len(row.errors)
    if row.samples:
        row.mean_rel_error = statistics.fmean(row.errors)
        row.max_rel_error = max(row.errors)
        row.bounds_held = sum(row.held) / row.samples
        mean_width = statistics.fmean(row.widths)
        row.mean_rel_width = mean_width if math.isfinite(mean_width) else None
    return row


def pooled(rows: Sequence[Row], name: str) -> list[Row]:
    """Rows for `name` that pool every input's samples per (strategy, param, window).

    State bytes, entries, endpoints and late hits are summed over the inputs.
    """
    groups: dict[tuple[str, str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.strategy, row.param, row.window), []).append(row)
    out = []
    for (strategy, param, window), members in groups.items():
        first = members[0]
        row = Row(
            name,
            strategy,
            param,
            window,
            first.window_s,
            0,
            0.0,
            0.0,
            0.0,
            None,
            first.theory,
            first.theory_value,
            sum(m.late_hits for m in members),
            sum(m.state_bytes for m in members),
            sum(m.memory_entries for m in members),
            sum(m.endpoints for m in members),
        )
        for member in members:
            row.errors += member.errors
            row.held += member.held
            row.widths += member.widths
        out.append(_finish(row))
    return out


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "inf"
    return f"{value:.{digits}f}"


def table(rows: Sequence[Row]) -> str:
    """The rows as an aligned plain-text table."""
    head = (
        "strategy",
        "param",
        "window",
        "n",
        "mean_err",
        "max_err",
        "held",
        "stated_width",
        "theory",
        "late",
        "entries",
        "bytes",
        "B/endpoint",
    )
    body = [
        (
            r.strategy,
            r.param,
            r.window,
            str(r.samples),
            _num(r.mean_rel_error, 4),
            _num(r.max_rel_error, 4),
            f"{r.bounds_held:.0%}",
            _num(r.mean_rel_width),
            r.theory,
            str(r.late_hits),
            str(r.memory_entries),
            str(r.state_bytes),
            f"{r.bytes_per_endpoint:.0f}",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in (head, *body)) for i in range(len(head))]
    left = {0, 1, 2, 8}
    lines = []
    for line in (head, *body):
        cells = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def inputs(args: argparse.Namespace) -> list[str]:
    """The input files to measure, in order."""
    if args.input:
        return list(args.input)
    found = [str(SAMPLE)]
    if not args.quick:
        found += sorted(glob.glob(REAL_GLOB))
    return found


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Error against state size per hitcount strategy, with theoretical error.",
        epilog="example: python scripts/accuracy.py --quick",
    )
    parser.add_argument(
        "--input",
        action="append",
        metavar="FILE",
        help="input file (repeatable; replaces the defaults)",
    )
    parser.add_argument("--quick", action="store_true", help="only the sample, windows 60s and 1h")
    parser.add_argument("--top", type=int, default=20, metavar="K", help="busiest endpoints (20)")
    parser.add_argument(
        "--windows",
        metavar="S,S,...",
        help="window lengths in seconds (default 60,600,3600; --quick: 60,3600)",
    )
    parser.add_argument("--seeds", type=int, default=5, help="morris seeds pooled per config (5)")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of tables")
    parser.add_argument(
        "--sketches",
        action="store_true",
        help="compare the distinct-user HyperLogLog with Apache DataSketches instead",
    )
    args = parser.parse_args(argv)
    if args.windows:
        args.windows = tuple(float(w) for w in args.windows.split(","))
    else:
        args.windows = QUICK_WINDOWS if args.quick else DEFAULT_WINDOWS
    if args.top < 1 or args.seeds < 1 or min(args.windows) <= 0:
        parser.error("--top, --seeds and every window must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every input and print the tables (or JSON)."""
    args = parse_args(argv)
    command = shlex.join([sys.executable, *sys.argv])
    if args.sketches:
        return sketches(command, args.quick, args.json)
    started = time.perf_counter()
    per_input: dict[str, list[Row]] = {}
    for source in inputs(args):
        name = Path(source).name
        rows = measure(name, source, args.windows, args.top, args.seeds)
        if rows is not None:
            per_input[name] = rows
    if not per_input:
        print("accuracy: no input could be replayed", file=sys.stderr)
        return 1
    real = [row for name, rows in per_input.items() if name != SAMPLE.name for row in rows]
    summary = pooled(real, "all real logs") if len(per_input) > 2 else []
    elapsed = time.perf_counter() - started

    if args.json:
        document: dict[str, Any] = {
            "command": command,
            "windows_s": list(args.windows),
            "top": args.top,
            "morris_seeds": args.seeds,
            "elapsed_s": elapsed,
            "inputs": {name: [_row_json(r) for r in rows] for name, rows in per_input.items()},
            "pooled_real_logs": [_row_json(r) for r in summary],
        }
        print(json.dumps(document, indent=1))
        return 0
    print(f"$ {command}")
    print(
        f"top {args.top} endpoints per window (by exact count); windows end at the replay clock;"
        f" morris pools {args.seeds} seeds and is judged against all-time totals"
    )
    print(
        "mean_err/max_err: |count - exact| / exact; held: low <= exact <= high (morris: 95%"
        " interval); stated_width: mean (high - low) / exact; late: hits refused as too late"
    )
    for name, rows in per_input.items():
        print(f"\n== {name}")
        print(table(rows))
    if summary:
        print(
            f"\n== all {len(per_input) - (SAMPLE.name in per_input)} real logs pooled"
            " (samples pooled; bytes, entries, endpoints and late hits summed)"
        )
        print(table(summary))
    print(f"\n{len(per_input)} input(s) in {elapsed:.1f}s")
    return 0


def sketches(command: str, quick: bool, as_json: bool) -> int:
    """Print the distinct-sketch comparison with DataSketches (table or JSON)."""
    import sketch_accuracy  # next to this script

    results, elapsed = sketch_accuracy.compare(quick)
    if as_json:
        rows = sketch_accuracy.to_json(results)
        print(json.dumps({"command": command, "elapsed_s": elapsed, "sketches": rows}, indent=1))
        return 0
    print(f"$ {command}")
    print(
        "relative error = estimate / users - 1 over the seeds; rounds_true: share whose estimate"
        " rounds to the true count; covered: share whose interval holds it (hitcount 95%,"
        " DataSketches 2 sd)"
    )
    print(sketch_accuracy.table(results))
    print(f"\n{len(results)} rows in {elapsed:.1f}s")
    return 0


def _row_json(row: Row) -> dict[str, Any]:
    data = asdict(row)
    for key in ("errors", "held", "widths"):
        data.pop(key)
    data["bytes_per_endpoint"] = row.bytes_per_endpoint
    for key, value in data.items():
        if isinstance(value, float) and not math.isfinite(value):
            data[key] = None
    return data


if __name__ == "__main__":
    sys.exit(main())
