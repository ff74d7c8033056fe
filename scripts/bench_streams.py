#!/usr/bin/env python3
"""Benchmark inputs read as one stream (gzip files, stdin) on one core against workers.

A plain file is cut into byte ranges that worker processes read themselves; a gzip file or
stdin can only be read in order, by the replaying process, which would then have to send
every block to a worker. This script measures whether that pays, as whole processes,
alternating the contenders round-robin for ``--repeat`` rounds:

* ``replay FILE`` (plain NDJSON, ranges) with ``HITCOUNT_WORKERS=0`` and ``=2``;
* ``replay FILE.gz`` with ``HITCOUNT_WORKERS=0`` and ``=2`` (blocks streamed to workers);
* ``cat FILE | replay -`` with ``HITCOUNT_WORKERS=0`` and ``=2``.

It prints medians of wall and CPU seconds and each input's ratio workers / one core.
``stream_workers`` in ``hitcount/ingest/workers.py`` quotes its figures: streams stay on one
core unless ``HITCOUNT_WORKERS`` asks.

Example::

    python scripts/bench_streams.py --lines 2000000 --repeat 5
"""

from __future__ import annotations

import argparse
import gzip
import shlex
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import _loadavg, ensure_input, render_table, run_measured  # the sibling script


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "hc-bench")
    args = parser.parse_args()
    hitcount = shutil.which("hitcount") or "hitcount"
    plain = ensure_input(args.lines, 1, args.data_dir)
    packed = plain.with_suffix(".ndjson.gz")
    if not packed.exists():
        with plain.open("rb") as source, gzip.open(packed, "wb", compresslevel=1) as out:
            shutil.copyfileobj(source, out, 1 << 20)
    work = Path(tempfile.mkdtemp(prefix="hc-streams-"))
    state = work / "state.json"
    inputs = {"file (ranges)": str(plain), "gzip file": str(packed), "stdin": "-"}
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    print(f"command: {shlex.join(sys.argv)}  (load before: {_loadavg()})")
    for _ in range(args.repeat):
        for name, source in inputs.items():
            for workers in ("0", "2"):
                feed = f"cat {plain} | " if name == "stdin" else ""
                target = "-" if name == "stdin" else source
                line = (
                    f"{feed}HITCOUNT_WORKERS={workers} {hitcount} --state {state} replay {target}"
                )
                state.unlink(missing_ok=True)
                sample = run_measured(["sh", "-c", line], None)
                if sample.returncode != 0:
                    print(f"FAILED: {line}: {sample.stderr_tail}")
                    return 1
                samples.setdefault((name, workers), []).append((sample.wall_s, sample.cpu_s))
    rows = []
    for name in inputs:
        one = [statistics.median(v) for v in zip(*samples[(name, "0")], strict=True)]
        two = [statistics.median(v) for v in zip(*samples[(name, "2")], strict=True)]
        rows.append([name, f"{one[0]:.2f} ({one[1]:.2f})", f"{two[0]:.2f} ({two[1]:.2f})",
                     f"{two[0] / one[0]:.2f}x"])  # fmt: skip
    print(f"{args.lines:,} lines, medians of {args.repeat}: wall s (CPU s)")
    print(render_table(["input", "one core", "2 workers", "workers / one core"], rows))
    print(f"load after: {_loadavg()}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
