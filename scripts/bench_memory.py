#!/usr/bin/env python3
r"""Peak memory of ``hitcount replay`` as the input grows: does it follow the file's length?

Two kinds of input, NDJSON like ``bench_shapes.py``'s ``plain`` (200 endpoints, Zipf
weights, a user out of 100,000 on every line):

* ``rate``: a constant 2,000,000 hits a day, so a longer file spans more days: what a
  replay keeps (retention, the distinct-users sketches of the last day) stays the same size;
* ``day``: every size over the same day, so a longer file is denser (``bench_shapes.py``'s
  files): the per-minute distinct-users sketches fill up, which is state, not waste.

For each size (``--sizes``) and strategy (``--strategies``), the whole-process wall time,
CPU time and peak RSS (``ru_maxrss`` of the replaying process, through ``bench.py``'s
launcher; worker processes are measured on their own, the largest is reported), default mode
(distinct users kept) and ``--no-distinct``.

Example::

    python scripts/bench_memory.py --sizes 2000000 10000000 50000000 --shapes rate

Standard library only; reuses ``bench.py``'s launcher.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import render_table, run_measured  # the sibling script, found through the path above

START = 1_760_000_000
DAY = 86400
PER_DAY = 2_000_000


def generate(path: Path, lines: int, shape: str, seed: int = 7) -> None:
    """Write `lines` hits: `PER_DAY` a day (`rate`), or all of them over one day (`day`)."""
    rng = random.Random(seed)
    endpoints = [f"/api/{name}/{i}" for name in ("users", "items", "login", "search")
                 for i in range(50)]  # fmt: skip
    weights = [1 / (rank + 1) for rank in range(len(endpoints))]
    step = DAY / (PER_DAY if shape == "rate" else lines)
    with open(path, "w") as out:
        for start in range(0, lines, 10_000):
            count = min(10_000, lines - start)
            chosen = rng.choices(endpoints, weights, k=count)
            users = [rng.randrange(100_000) for _ in range(count)]
            out.write("".join(
                f'{{"endpoint": "{endpoint}", "ts": {START + (start + i) * step:.3f}, '
                f'"user": "u{user}"}}\n'
                for i, (endpoint, user) in enumerate(zip(chosen, users, strict=True))
            ))  # fmt: skip


def ensure(shape: str, lines: int, data_dir: Path) -> Path:
    """The cached input of a shape and size, generated once."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"{shape}-{lines}.ndjson"
    if not path.exists():
        print(f"generating {path}", file=sys.stderr, flush=True)
        partial = path.with_suffix(".partial")
        generate(partial, lines, shape)
        partial.rename(path)
    return path


def main(argv: list[str] | None = None) -> int:
    """Print one table per shape: size, strategy, mode, wall, CPU, peak RSS."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000_000, 10_000_000])
    parser.add_argument("--shapes", nargs="+", default=["rate"], choices=["rate", "day"])
    parser.add_argument("--strategies", nargs="+", default=["fixed", "morris"])
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/hitcount-bench-memory"))
    args = parser.parse_args(argv)
    hitcount = shutil.which("hitcount")
    if hitcount is None:
        print("hitcount is not on PATH", file=sys.stderr)
        return 1
    status = 0
    for shape in args.shapes:
        rows = []
        for lines in args.sizes:
            data = ensure(shape, lines, args.data_dir)
            for strategy in args.strategies:
                for extra in ([], ["--no-distinct"]):
                    with tempfile.TemporaryDirectory(prefix="hitcount-memory-") as tmp:
                        cmd = [hitcount, "--state", f"{tmp}/state.json", "replay", str(data),
                               "--strategy", strategy, *extra]  # fmt: skip
                        sample = run_measured(cmd, args.timeout)
                    mode = "--no-distinct" if extra else "default"
                    if not sample.ok:
                        status = 1
                        rows.append([f"{lines:,}", strategy, mode, "failed", "", ""])
                        continue
                    mib = sample.peak_rss_kib / 1024
                    rows.append([f"{lines:,}", strategy, mode, f"{sample.wall_s:.2f}",
                                 f"{sample.cpu_s:.2f}", f"{mib:.0f}"])  # fmt: skip
        print(f"\n## {shape}: " + ("2,000,000 hits a day" if shape == "rate" else "one day"))
        print(render_table(["lines", "strategy", "mode", "wall s", "cpu s", "peak MiB"], rows))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
