#!/usr/bin/env python3
"""Benchmark hitcount's Redis store: replay hits/s against the raw Redis limit, and query latency.

One run starts a private ``redis-server`` (temporary directory, no persistence, a free port),
generates an NDJSON file with ``scripts/gen_traffic.py`` (or takes ``--input``) and, for each
strategy (``fixed``, ``sliding``, ``morris``; defaults of each), for ``--repeat`` rounds with
the contenders alternated, measures:

* ``replay``: ``hitcount --store redis://127.0.0.1:PORT/0 replay -s S FILE`` as a whole
  process (a new generation: the replay runs locally, then the state is saved whole);
* ``append``: ``hitcount --store ... replay --append NEXT`` onto that state, the concurrent
  batch path (``hitcount.persist.stores.redis_append``). ``NEXT`` is FILE with every timestamp moved
  later by the span of FILE (rounded up to a minute): the same lines, the following hours, so
  that no hit is too late for ``sliding``'s horizon (the same file appended again would be
  mostly late there) and the horizon moves and prunes as in production;
* ``limit``: the Redis commands the layouts send on that path, issued straight with redis-py
  pipelines (MULTI/EXEC, as hitcount), with the hits already parsed and grouped per batch in
  memory: no file, no JSON, no strategy. ``fixed``: one ``EVAL`` of ``lua/fixed_add.lua``
  per endpoint per batch (bucket/count pairs, then pruning below the horizon's bucket);
  ``sliding``: ``ZADD`` of every timestamp with 12-byte members (chunks of 5000), then
  ``ZREMRANGEBYSCORE`` to the horizon; ``morris``: one ``HSET`` of the new levels per
  endpoint per batch (hitcount reads them first, WATCHed, and computes them with
  ``MorrisCounter.advanced``). The batches are as many
  as hitcount's append sent (its ``EXEC`` calls, from ``INFO commandstats``), cut evenly by
  line count. Pass 1 writes FILE into an empty database (compared with ``replay``), pass 2
  writes NEXT on top (compared with ``append``);
* query latency, on the state of the last ``replay``: median and p95 of ``hitcount query EP
  --last 5m`` (whole process) and of the library call (``load_counter(store,
  scope=Scope(patterns=(EP,), last_s=300))`` then ``.query(EP, 300)``, one store and
  connection reused) for the busiest and the quietest endpoint of the last 5 minutes, and of
  ``hitcount top --last 5m``, against ``hitcount --version`` (the process start floor).

Before any figure counts, the state is checked: ``total_hits`` of ``hitcount metrics --json``
equals the file's line count after ``replay`` (twice it after ``append``), with no bad or late
line. Redis ``used_memory`` (above the empty server) is read after each strategy's replay and
divided by the retained entries (``memory_entries``).

Wall times of whole processes are medians; the CPU time (user + system of the child) is shown
too, because the machine may be shared. ``--json`` prints everything, samples included.

Examples::

    python scripts/bench_redis.py --repeat 3
    python scripts/bench_redis.py --input big.ndjson --strategies fixed --json > redis.json

Needs ``redis-server`` on PATH (or ``--redis-server``), the ``redis`` package and hitcount
installed in this Python (``pip install -e '.[test]' redis``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import redis

from hitcount.persist.state import load_counter
from hitcount.persist.stores import Scope, store_from_url
from hitcount.persist.stores.redis_native import ZADD_CHUNK
from hitcount.persist.stores.redis_scripts import lua_source
from hitcount.strategies.fixed import FixedWindow
from hitcount.strategies.morris import MorrisCounter
from hitcount.strategies.sliding import SlidingWindow

SCRIPTS_DIR = Path(__file__).resolve().parent
GEN_TRAFFIC = SCRIPTS_DIR / "gen_traffic.py"
STRATEGIES = ("fixed", "sliding", "morris")
QUERY_LAST_S = 300.0
#: hitcount's default `--max-lateness`: horizons are `clock - retention - lateness`.
MAX_LATENESS_S = 60.0


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"bench_redis: {message}", file=sys.stderr, flush=True)


# -- input -------------------------------------------------------------------------------------


class Hit(msgspec.Struct):
    """The two fields the limit needs of an input line."""

    endpoint: str
    ts: float


def ensure_input(args: argparse.Namespace, workdir: Path) -> Path:
    """`--input`, or a generated file (cached in `--data-dir`)."""
    if args.input:
        return Path(args.input)
    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    name = f"traffic-{args.lines}-{args.endpoints}ep-{args.duration}s-seed{args.seed}.ndjson"
    path = data_dir / name
    if not path.exists():
        cmd = [sys.executable, str(GEN_TRAFFIC), "--lines", str(args.lines)]
        cmd += ["--endpoints", str(args.endpoints), "--duration", str(args.duration)]
        cmd += ["--seed", str(args.seed), "-o", str(path) + ".tmp"]
        log(f"generating: {shlex.join(cmd)}")
        subprocess.run(cmd, check=True)
        os.replace(str(path) + ".tmp", path)
    return path


def read_hits(path: Path) -> list[Hit]:
    """Every line of an NDJSON file, parsed (lines must all be valid: the checks need it)."""
    decoder = msgspec.json.Decoder(Hit)
    with path.open("rb") as stream:
        return [decoder.decode(line) for line in stream if line.strip()]


def shifted_copy(path: Path, hits: list[Hit], out: Path) -> float:
    """Write `path` with every `ts` moved later by its span rounded up to a minute."""
    low = min(h.ts for h in hits)
    high = max(h.ts for h in hits)
    offset = 60.0 * math.ceil((high - low + 1.0) / 60.0)
    decoder = msgspec.json.Decoder()
    encoder = msgspec.json.Encoder()
    with path.open("rb") as src, out.open("wb") as dst:
        for line in src:
            if not line.strip():
                continue
            record = decoder.decode(line)
            record["ts"] = record["ts"] + offset
            dst.write(encoder.encode(record) + b"\n")
    return offset


# -- redis-server ------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    return port if port != 6390 else free_port()


def start_redis(binary: str, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A private server: no persistence, on a free port."""
    port = free_port()
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
    cmd += ["--save", "", "--appendonly", "no", "--logfile", str(workdir / "redis.log")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log_file = workdir / "redis.log"
                raise SystemExit(f"redis-server did not start (see {log_file})") from None
            time.sleep(0.05)
    client.close()
    return proc, port


def settle(client: redis.Redis) -> None:
    """Wait for lazily freed values (UNLINK) so that used_memory is current."""
    for _ in range(100):
        if int(client.info("memory").get("lazyfree_pending_objects", 0)) == 0:
            return
        time.sleep(0.05)


# -- whole processes ---------------------------------------------------------------------------


def run_process(cmd: Sequence[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stdout of one child; fails loudly."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


class Hitcount:
    """The hitcount CLI against one Redis URL."""

    def __init__(self, url: str) -> None:
        exe = Path(sys.executable).with_name("hitcount")
        self.base = [str(exe) if exe.exists() else (shutil.which("hitcount") or "hitcount")]
        self.url = url
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HITCOUNT_")}

    def cmd(self, *args: str) -> list[str]:
        """The command line of `hitcount --store URL ARGS...`."""
        return [*self.base, "--store", self.url, *args]

    def run(self, *args: str) -> tuple[float, float, str]:
        """Run `hitcount --store URL ARGS...`: wall, CPU, stdout."""
        return run_process(self.cmd(*args), self.env)

    def metrics(self) -> dict[str, Any]:
        """`hitcount metrics --json`."""
        out = self.run("metrics", "--json")[2]
        return dict(json.loads(out))


def check_state(metrics: dict[str, Any], strategy: str, hits: int, what: str) -> None:
    """The state holds every hit of the run, none bad or late: the timing counts."""
    got = (metrics["strategy"], metrics["total_hits"], metrics["bad_lines"], metrics["late_hits"])
    if got != (strategy, hits, 0, 0):
        raise SystemExit(
            f"broken state after {what}: strategy, total_hits, bad_lines, late_hits = {got},"
            f" want ({strategy!r}, {hits}, 0, 0)"
        )


# -- the limit ---------------------------------------------------------------------------------


def cut(hits: list[Hit], batches: int) -> list[list[Hit]]:
    """`batches` consecutive slices of about the same number of lines."""
    size = math.ceil(len(hits) / max(batches, 1))
    return [hits[i : i + size] for i in range(0, len(hits), size)]


def grouped(batch: list[Hit]) -> dict[str, list[float]]:
    """Timestamps per endpoint, endpoints sorted (hitcount flushes them sorted)."""
    by_endpoint: dict[str, list[float]] = defaultdict(list)
    for hit in batch:
        by_endpoint[hit.endpoint].append(hit.ts)
    return dict(sorted(by_endpoint.items()))


def _unique_ids() -> Iterator[bytes]:
    """12-byte members as the sliding layout makes them: 6 random bytes and a counter."""
    prefix = os.urandom(6)
    number = 0
    while True:
        number += 1
        yield prefix + number.to_bytes(8, "big")[2:]


def horizon_at(clock: float | None, retention_s: float, granularity: float) -> float:
    """The pruning horizon a counter at `clock` holds: whole granules before `retention`."""
    if clock is None:
        return -math.inf
    return math.floor((clock - retention_s - MAX_LATENESS_S) / granularity) * granularity


def prepare_limit(
    strategy: str, hits: list[Hit], batches: int, clock: float | None, ids: Iterator[bytes]
) -> list[list[tuple[Any, ...]]]:
    """Per batch, the commands hitcount's layout would queue: (name, key, arguments...).

    Everything is computed here, untimed: grouping, buckets, members, seeds, horizons.
    """
    prepared: list[list[tuple[Any, ...]]] = []
    morris = MorrisCounter()
    levels: dict[str, list[int]] = {}
    fixed, sliding = FixedWindow(), SlidingWindow()
    for batch in cut(hits, batches):
        commands: list[tuple[Any, ...]] = []
        for endpoint, stamps in grouped(batch).items():
            key = f"limit:{{{endpoint}}}"
            if strategy == "fixed":
                width = fixed.window_s
                horizon = horizon_at(clock, float(fixed.params["retention_s"]), width)
                first_kept = "" if not math.isfinite(horizon) else str(math.floor(horizon / width))
                args = [first_kept]
                for bucket, count in Counter(math.floor(ts / width) for ts in stamps).items():
                    args += [str(bucket), str(count)]
                commands.append(("eval", key, lua_source("fixed_add"), args))
            elif strategy == "sliding":
                horizon = horizon_at(clock, sliding.retention_s(), 1.0)
                for start in range(0, len(stamps), ZADD_CHUNK):
                    chunk = stamps[start : start + ZADD_CHUNK]
                    commands.append(("zadd", key, {next(ids): ts for ts in chunk}))
                upto = repr(horizon) if math.isfinite(horizon) else "-inf"
                commands.append(("zrem", key, upto))
            else:
                now = levels.get(endpoint, [0] * morris.k)
                levels[endpoint] = morris.advanced(now, len(stamps))
                mapping = {str(i): level for i, level in enumerate(levels[endpoint])}
                commands.append(("hset", key, mapping))
        prepared.append(commands)
        clock = max(h.ts for h in batch) if clock is None else max(clock, *(h.ts for h in batch))
    return prepared


def run_limit(client: redis.Redis, prepared: list[list[tuple[Any, ...]]]) -> float:
    """Issue the prepared batches, one MULTI/EXEC pipeline each; wall seconds."""
    start = time.perf_counter()
    for commands in prepared:
        pipe = client.pipeline(transaction=True)
        for command in commands:
            if command[0] == "eval":
                pipe.eval(command[2], 1, command[1], *command[3])
            elif command[0] == "zadd":
                pipe.zadd(command[1], command[2])
            elif command[0] == "hset":
                pipe.hset(command[1], mapping=command[2])
            else:
                pipe.zremrangebyscore(command[1], "-inf", command[2])
        pipe.execute()
    return time.perf_counter() - start


# -- queries -----------------------------------------------------------------------------------


def endpoints_by_recent_hits(hits: list[Hit]) -> tuple[str, str]:
    """The busiest and the quietest endpoint (with hits) of the file's last 5 minutes."""
    end = max(h.ts for h in hits)
    recent = Counter(h.endpoint for h in hits if h.ts > end - QUERY_LAST_S)
    ranked = recent.most_common()
    return ranked[0][0], ranked[-1][0]


def library_query(url: str, endpoint: str, samples: int) -> tuple[list[float], int]:
    """Seconds per `load_counter` + `query` (one store reused), and the answer."""
    store = store_from_url(url)
    times: list[float] = []
    answer = 0
    for _ in range(samples):
        start = time.perf_counter()
        counter = load_counter(store, scope=Scope(patterns=(endpoint,), last_s=QUERY_LAST_S))
        result = counter.query(endpoint, QUERY_LAST_S)
        times.append(time.perf_counter() - start)
        answer = int(result.answer.count)
    store.close()
    return times, answer


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


# -- the run -----------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", help="NDJSON with endpoint and numeric ts (default: generate)")
    parser.add_argument("--lines", type=int, default=1_000_000, help="generated lines (1M)")
    parser.add_argument("--endpoints", type=int, default=300, help="generated endpoints (300)")
    parser.add_argument("--duration", type=int, default=14_400, help="generated span, s (4 h)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (1)")
    parser.add_argument("--data-dir", default="/tmp/hitcount-bench", help="generated files")
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (medians over them)")
    parser.add_argument("--query-samples", type=int, default=11, help="samples per query")
    parser.add_argument("--redis-server", default=shutil.which("redis-server") or "redis-server")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    args.strategies = [s for s in args.strategies.split(",") if s]
    unknown = set(args.strategies) - set(STRATEGIES)
    if unknown:
        parser.error(f"unknown strategies {sorted(unknown)}; choose among {STRATEGIES}")
    return args


def bench_strategy(
    strategy: str,
    args: argparse.Namespace,
    hc: Hitcount,
    client: redis.Redis,
    limit_db: redis.Redis,
    files: tuple[Path, Path],
    hits: tuple[list[Hit], list[Hit]],
    empty_memory: int,
) -> dict[str, Any]:
    """Every round of one strategy, then its queries."""
    path, nxt = files
    n = len(hits[0])
    samples: dict[str, list[tuple[float, float]]] = defaultdict(list)
    batches_seen: list[int] = []
    batches = 0
    memory: dict[str, Any] = {}
    prepared: dict[str, list[list[tuple[Any, ...]]]] = {}

    def hitcount_pair(last_round: bool) -> None:
        nonlocal batches
        wall, cpu, _ = hc.run("replay", "-s", strategy, str(path))
        metrics = hc.metrics()
        check_state(metrics, strategy, n, "replay")
        samples["replay"].append((wall, cpu))
        if last_round:
            settle(client)
            used = int(client.info("memory")["used_memory"]) - empty_memory
            entries = int(metrics["memory_entries"])
            memory.update(
                used_memory=used,
                entries=entries,
                state_bytes=int(metrics["state_bytes"]),
                bytes_per_entry=used / entries if entries else None,
            )
            memory["queries"] = queries(strategy, args, hc, hits[0])
        client.config_resetstat()
        wall, cpu, _ = hc.run("replay", "--append", str(nxt))
        check_state(hc.metrics(), strategy, 2 * n, "replay --append")
        samples["append"].append((wall, cpu))
        exec_calls = client.info("commandstats").get("cmdstat_exec", {}).get("calls", 0)
        batches_seen.append(int(exec_calls))
        batches = batches or int(exec_calls)

    def limit() -> None:
        if not prepared:
            ids = _unique_ids()
            log(f"{strategy}: preparing the limit's commands in {batches} batches per file")
            prepared["empty"] = prepare_limit(strategy, hits[0], batches, None, ids)
            clock = max(h.ts for h in hits[0])
            prepared["append"] = prepare_limit(strategy, hits[1], batches, clock, ids)
        limit_db.flushdb()
        samples["limit"].append((run_limit(limit_db, prepared["empty"]), math.nan))
        samples["limit_append"].append((run_limit(limit_db, prepared["append"]), math.nan))
        limit_db.flushdb()

    for round_no in range(args.repeat):
        log(f"{strategy}: round {round_no + 1}/{args.repeat}")
        last = round_no == args.repeat - 1
        if round_no % 2 == 0 or not batches:
            hitcount_pair(last)
            limit()
        else:
            limit()
            hitcount_pair(last)
    return {"samples": dict(samples), "batches": batches_seen, **memory}


def queries(
    strategy: str, args: argparse.Namespace, hc: Hitcount, hits: list[Hit]
) -> dict[str, Any]:
    """Latency samples of the query contenders, alternated, on the current state."""
    busy, quiet = endpoints_by_recent_hits(hits)
    contenders = {
        "hitcount --version": ["--version"],
        f"query busy {busy} --last 5m": ["query", busy, "--last", "5m"],
        f"query quiet {quiet} --last 5m": ["query", quiet, "--last", "5m"],
        "top --last 5m": ["top", "--last", "5m"],
    }
    times: dict[str, list[float]] = defaultdict(list)
    answers: dict[str, int] = {}
    for _ in range(args.query_samples):
        for name, cmd in contenders.items():
            cmd_line = [*hc.base, *cmd] if cmd == ["--version"] else hc.cmd(*cmd)
            times[name].append(run_process(cmd_line, hc.env)[0])
    for label, endpoint in (("busy", busy), ("quiet", quiet)):
        lib, answers[endpoint] = library_query(hc.url, endpoint, args.query_samples)
        times[f"library {label} {endpoint}"] = lib
        if strategy == "sliding":  # exact: the answer must be the file's count
            end = max(h.ts for h in hits)
            want = sum(1 for h in hits if h.endpoint == endpoint and h.ts > end - QUERY_LAST_S)
            if answers[endpoint] != want:
                raise SystemExit(
                    f"sliding answered {answers[endpoint]} for {endpoint}, want {want}"
                )
    log(f"{strategy}: queried {busy} (busy) and {quiet} (quiet): {answers}")
    return {"endpoints": {"busy": busy, "quiet": quiet}, "answers": answers, "times": dict(times)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The whole benchmark; the report as a document."""
    command = shlex.join(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    with tempfile.TemporaryDirectory(prefix="bench_redis.") as tmp:
        workdir = Path(tmp)
        path = ensure_input(args, workdir)
        log(f"reading {path}")
        first = read_hits(path)
        nxt = workdir / "next.ndjson"
        offset = shifted_copy(path, first, nxt)
        second = read_hits(nxt)
        server, port = start_redis(args.redis_server, workdir)
        try:
            url = f"redis://127.0.0.1:{port}/0"
            hc = Hitcount(url)
            client = redis.Redis(port=port, db=0)
            limit_db = redis.Redis(port=port, db=1)
            empty_memory = int(client.info("memory")["used_memory"])
            results = {}
            for strategy in args.strategies:
                client.flushall()
                settle(client)
                results[strategy] = bench_strategy(
                    strategy, args, hc, client, limit_db, (path, nxt), (first, second), empty_memory
                )
            version = client.info("server")["redis_version"]
            client.close()
            limit_db.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    return {
        "command": command,
        "input": {"path": str(path), "lines": len(first), "append_offset_s": offset},
        "endpoints": len({h.endpoint for h in first}),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "loadavg": list(os.getloadavg()),
            "redis": version,
            "redis_py": redis.__version__,
        },
        "repeat": args.repeat,
        "strategies": results,
    }


def _median(pairs: list[tuple[float, float]], index: int) -> float:
    values = [p[index] for p in pairs if not math.isnan(p[index])]
    return statistics.median(values) if values else math.nan


def _rate(hits: int, seconds: float) -> str:
    if math.isnan(seconds) or seconds <= 0:
        return "-"
    rate = hits / seconds
    return f"{rate / 1e6:.2f}M" if rate >= 1e6 else f"{rate / 1e3:.0f}k"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def print_report(report: dict[str, Any]) -> None:
    """The plain tables."""
    n = report["input"]["lines"]
    machine = report["machine"]
    print(f"command: {report['command']}")
    print(
        f"input: {report['input']['path']} ({n} lines, {report['endpoints']} endpoints);"
        f" append: the same lines {report['input']['append_offset_s']:.0f} s later"
    )
    print(
        f"redis {machine['redis']} · redis-py {machine['redis_py']} · python {machine['python']}"
        f" · {machine['cpus']} cpus · load {' '.join(f'{x:.1f}' for x in machine['loadavg'])}"
        f" · medians of {report['repeat']}"
    )
    print()
    rows = []
    for strategy, result in report["strategies"].items():
        s = result["samples"]
        limit, limit_append = _median(s["limit"], 0), _median(s["limit_append"], 0)
        for name, key, against in (
            ("replay", "replay", limit),
            ("replay --append", "append", limit_append),
            ("limit (empty db)", "limit", math.nan),
            ("limit (on top)", "limit_append", math.nan),
        ):
            wall, cpu = _median(s[key], 0), _median(s[key], 1)
            ratio = "-" if math.isnan(against) else f"{wall / against:.1f}x"
            cpu_text = "-" if math.isnan(cpu) else f"{cpu:.2f}"
            rows.append([f"{strategy} {name}", f"{wall:.2f}", cpu_text, _rate(n, wall), ratio])
    print(_table(["contender", "wall s", "cpu s", "hits/s", "vs limit"], rows))
    print()
    rows = []
    for strategy, result in report["strategies"].items():
        per = result.get("bytes_per_entry")
        rows.append(
            [
                strategy,
                f"{result['entries']}",
                f"{result['used_memory']}",
                f"{result['state_bytes']}",
                "-" if per is None else f"{per:.1f}",
                " ".join(str(b) for b in result["batches"]),
            ]
        )
    header = ["after replay", "entries", "used_memory", "MEMORY USAGE", "B/entry", "batches"]
    print(_table(header, rows))
    for strategy, result in report["strategies"].items():
        print()
        times = result["queries"]["times"]
        version = statistics.median(times["hitcount --version"])
        rows = []
        for name, values in times.items():
            median = statistics.median(values)
            process = not name.startswith("library")
            floor = f"{median / version:.2f}x" if process else "-"
            rows.append([name, f"{median * 1e3:.1f}", f"{p95(values) * 1e3:.1f}", floor])
        print(_table([f"{strategy}: latency", "median ms", "p95 ms", "vs --version"], rows))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report = run(args)
    saved = Path(args.data_dir) / "bench_redis_last.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(report, indent=2))
    log(f"report saved in {saved}")
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
