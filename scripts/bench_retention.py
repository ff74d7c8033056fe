#!/usr/bin/env python3
"""Benchmark how a SQLite state's commands grow with what it keeps: a tiny state, a day, a month.

Three states of each strategy (``fixed`` with ``--retention 30d``, ``sliding`` with
``--max-window 30d``), users kept: ``tiny`` (1,000 hits), ``day`` (``--lines`` hits over one
day) and ``month`` (the same number of hits over 30 days: 30 times the buckets and sketches
of the day). On each, as whole processes, alternating with ``hitcount --version`` (the
process start floor) so every median comes from the same moments of the machine's load:

* ``replay --append`` of 1,000 new lines (onto a fresh copy of the state each time);
* ``query '/api/*' --last 1h``, ``query /api/login --last 1h --distinct``, ``top --last 1h``,
  ``plot /api/login --last 1h`` and ``metrics``.

It prints each median and its ratio to ``--version``'s: the issue's goal is that these cost
about the same on a small and a big state. ``--prev PROGRAM`` times another hitcount on the
same states in the same rounds (an older install: before and after in one run). The states
are made by the hitcount timed first.

Examples::

    python scripts/bench_retention.py
    python scripts/bench_retention.py --lines 200000 --rounds 3 --prev /path/to/old/bin/hitcount

Needs hitcount on PATH and ``scripts/gen_traffic.py`` beside this file.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STRATEGIES = {
    "fixed": ["--strategy", "fixed", "--retention", "30d"],
    "sliding": ["--strategy", "sliding", "--max-window", "30d"],
}
#: The read-only commands timed on each state (the state path is added).
READS = {
    "query glob": ["query", "/api/*", "--last", "1h"],
    "query --distinct": ["query", "/api/login", "--last", "1h", "--distinct"],
    "top": ["top", "--last", "1h"],
    "plot": ["plot", "/api/login", "--last", "1h"],
    "metrics": ["metrics"],
}
DAY = 86_400


def timed(args: list[str]) -> float:
    """Wall seconds of one process (which must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {shlex.join(args)}\n{done.stderr}")
    return seconds


def generate(path: Path, lines: int, start: str, duration: int, seed: int) -> None:
    """Seeded traffic from gen_traffic.py (made once per data directory)."""
    if path.exists():
        return
    subprocess.run([sys.executable, str(HERE / "gen_traffic.py"), "--lines", str(lines),
                    "--start", start, "--duration", str(duration), "--seed", str(seed),
                    "--late-fraction", "0", "-o", str(path)], check=True)  # fmt: skip


def states(directory: Path, lines: int, program: str) -> dict[str, Path]:
    """`{strategy size: state}`: the three sizes of each strategy, replayed by `program`."""
    end = "2026-11-28T00:00:00Z"
    inputs = {"tiny": (1_000, DAY), "day": (lines, DAY), "month": (lines, 30 * DAY)}
    made: dict[str, Path] = {}
    for size, (count, span) in inputs.items():
        source = directory / f"{size}.ndjson"
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1795824000 - span))
        generate(source, count, start, span, 7)
        for strategy, options in STRATEGIES.items():
            state = directory / f"{strategy}-{size}.db"
            if not state.exists():
                subprocess.run([program, "--state", str(state), "replay", str(source), *options],
                               check=True, capture_output=True)  # fmt: skip
            made[f"{strategy} {size}"] = state
    generate(directory / "add.ndjson", 1_000, end, 60, 8)
    return made


def measure(
    programs: dict[str, str], made: dict[str, Path], directory: Path, rounds: int
) -> dict[tuple[str, str], list[float]]:
    """`{(program, step): seconds}`, every step of every program in each round."""
    samples: dict[tuple[str, str], list[float]] = {}
    add = directory / "add.ndjson"
    for _ in range(rounds):
        for name, program in programs.items():
            samples.setdefault((name, "--version"), []).append(timed([program, "--version"]))
            for label, state in made.items():
                copy = directory / "append.db"
                for leftover in directory.glob("append.db*"):
                    leftover.unlink()
                shutil.copyfile(state, copy)
                args = [program, "--state", str(copy), "replay", "--append", str(add)]
                samples.setdefault((name, f"append {label}"), []).append(timed(args))
                for step, asked in READS.items():
                    seconds = timed([program, "--state", str(state), *asked])
                    samples.setdefault((name, f"{step} {label}"), []).append(seconds)
    return samples


def report(samples: dict[tuple[str, str], list[float]], programs: dict[str, str]) -> None:
    """One line per step and state: each program's median and its ratio to `--version`."""
    steps = sorted({step for _, step in samples if step != "--version"}, key=_order)
    floors = {name: statistics.median(samples[(name, "--version")]) for name in programs}
    header = "".join(f" {name + ' s':>12} {'x --version':>12}" for name in programs)
    print(f"\n{'step':<34}{header}")
    floor_cells = "".join(f" {floors[name]:>12.3f} {'':>12}" for name in programs)
    print(f"{'hitcount --version':<34}{floor_cells}")
    for step in steps:
        cells = ""
        for name in programs:
            median = statistics.median(samples[(name, step)])
            cells += f" {median:>12.3f} {median / floors[name]:>12.2f}"
        print(f"{step:<34}{cells}")


def _order(step: str) -> tuple[str, str, int]:
    *what, strategy, size = step.split()
    return strategy, " ".join(what), ["tiny", "day", "month"].index(size)


def main() -> int:
    """Make the states, time the steps, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000, help="hits of the day and month")
    parser.add_argument("--rounds", type=int, default=5, help="rounds (medians of these)")
    parser.add_argument("--data-dir", type=Path, default=None, help="keep the files here")
    parser.add_argument("--prev", default=None, help="another hitcount to time alike")
    options = parser.parse_args()
    directory = options.data_dir or Path(tempfile.mkdtemp(prefix="hitcount-bench-retention-"))
    directory.mkdir(parents=True, exist_ok=True)
    print("command:", shlex.join([sys.executable, *sys.argv]))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    current = shutil.which("hitcount")
    if current is None:
        raise SystemExit("hitcount is not on PATH")
    programs = {"hitcount": current, **({"prev": options.prev} if options.prev else {})}
    made = states(directory, options.lines, current)
    report(measure(programs, made, directory, options.rounds), programs)
    print(f"\nstates and inputs in {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
