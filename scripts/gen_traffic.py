#!/usr/bin/env python3
"""Generate realistic, seeded, deterministic web traffic for hitcount.

The generator writes hits ``(endpoint, timestamp, user)`` as NDJSON, CSV or Apache combined
log lines. The same arguments always give byte-identical output, and the hits themselves
(times, endpoints, users, late lines) depend only on the seed and the traffic options, not on
the output format: ``--format ndjson`` and ``--format csv`` with the same seed describe the
same hits (``combined`` shows them at one-second resolution).

Traffic model:

* Endpoints are realistic REST/web paths (``/``, ``/static/app.js``, ``/api/login``,
  ``/health``, templates such as ``/api/users/{id}`` expanded to concrete paths) whose
  popularity follows a Zipf law with exponent 1.1 (rank 1 is the most popular).
* The time axis carries a daily rhythm: a sinusoid over the UTC day, lowest around 03:00 and
  highest around 15:00 (about 9x apart), with a little per-five-minute noise. Exactly
  ``--lines`` timestamps are drawn by inverse-CDF sampling of that intensity, produced in
  increasing order as a stream (sequential uniform order statistics), so memory stays flat.
* A few bursts (``--bursts``): for one to five minutes one endpoint receives 10-50x its usual
  rate (the first one is a login storm on ``/api/login`` when that endpoint exists).
  ``--summary`` reports where they are.
* Users come from a Zipf-ish pool (weight ``1/(rank + 2)``) of ``--users`` ids: the ndjson
  ``user`` field, the third csv column, or the client address of combined lines.
* A fraction ``--late-fraction`` of lines arrive late: their timestamp stays true, but each is
  written after the lines up to ``delay`` seconds later than it, ``delay`` uniform in
  ``(0, --max-late]``. The output is therefore sorted except for those displaced lines, and
  no line is more than ``--max-late`` seconds older than the newest line before it.
* ``--bad-fraction`` replaces that fraction of lines with deliberately bad lines, cycling
  through four kinds: invalid syntax, missing endpoint, non-finite or absurd timestamp, and
  empty endpoint.

Examples::

    python scripts/gen_traffic.py --lines 20000 --seed 1 -o traffic.ndjson
    python scripts/gen_traffic.py --lines 5000 --format csv -o traffic.csv
    python scripts/gen_traffic.py --lines 5000 --format combined --gzip -o access.log.gz
    python scripts/gen_traffic.py --lines 10000000 -o /tmp/ten_million.ndjson

Standard library only; Python 3.10 or later.
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import json
import math
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Protocol


class Sink(Protocol):
    """Where output bytes go: a binary file, stdout's buffer or a gzip stream."""

    def write(self, data: bytes, /) -> int:
        """Write ``data``; return the number of bytes written."""
        ...


#: One generated hit: (timestamp in integer epoch milliseconds, endpoint index, user index).
Record = tuple[int, int, int]

DEFAULT_START = "2026-11-27T00:00:00Z"
#: Zipf exponent of endpoint popularity.
ENDPOINT_ZIPF_S = 1.1
#: Users follow weight 1 / (rank + USER_ZIPF_Q) ** USER_ZIPF_S (Zipf-Mandelbrot).
USER_ZIPF_S = 1.0
USER_ZIPF_Q = 2.0
#: Relative amplitude of the daily sinusoid: intensity is 1 + A*cos(...), so peak/trough = 9.
DAILY_AMPLITUDE = 0.8
#: Hour of the day (UTC) when traffic peaks; the trough is twelve hours away.
PEAK_HOUR_UTC = 15.0
#: Length in seconds of the blocks that share one random noise factor, and its log-sigma.
NOISE_BLOCK_SECONDS = 300.0
NOISE_SIGMA = 0.08
#: Range of burst rate multipliers and lengths in seconds.
BURST_MULTIPLIER = (10.0, 50.0)
BURST_SECONDS = (60.0, 300.0)
#: Samples generated per chunk; output is written one chunk at a time.
CHUNK = 1 << 16
#: Kinds of bad lines, in the order they are cycled through.
BAD_KINDS = ("invalid", "missing_endpoint", "bad_ts", "empty_endpoint")
TS_STYLES = ("epoch", "ms", "iso", "mixed")
FORMATS = ("ndjson", "csv", "combined")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: Popular, fixed paths, roughly in the order of a real site's traffic.
HEAD_PATHS = (
    "/",
    "/static/app.js",
    "/api/login",
    "/static/app.css",
    "/health",
    "/api/session",
    "/favicon.ico",
    "/api/search",
    "/api/products",
    "/api/cart",
)
#: Other fixed paths, mixed (seeded) with the expanded templates below the head.
TAIL_PATHS = (
    "/static/vendor.js",
    "/api/notifications",
    "/api/logout",
    "/metrics",
    "/robots.txt",
    "/api/checkout",
    "/api/orders",
    "/login",
    "/about",
    "/api/recommendations",
    "/static/logo.svg",
    "/sitemap.xml",
    "/api/v2/feed",
    "/api/config",
    "/contact",
    "/static/fonts/inter.woff2",
    "/api/password/reset",
    "/api/signup",
    "/pricing",
    "/api/graphql",
)
#: Templates expanded to concrete paths; ``{id}`` is a number, ``{slug}`` a word pair.
TEMPLATES = (
    "/api/users/{id}",
    "/api/users/{id}/orders",
    "/api/products/{id}",
    "/api/products/{id}/reviews",
    "/api/orders/{id}",
    "/api/v2/items/{id}",
    "/api/users/{id}/avatar",
    "/blog/{slug}",
    "/docs/{slug}",
    "/static/img/{slug}.png",
)
SLUG_WORDS = (
    "fast",
    "winter",
    "sale",
    "guide",
    "release",
    "notes",
    "getting",
    "started",
    "pricing",
    "update",
    "tips",
    "shoes",
    "coffee",
    "hello",
    "world",
    "api",
    "design",
    "security",
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
)
REFERERS = ("-", "-", "-", "https://shop.example.com/", "https://www.google.com/")
#: ISO offsets used by ``--ts-style mixed`` (``iso`` alone always writes ``+00:00``).
ISO_OFFSETS_MINUTES = (0, 0, 60, -300, 330, 540)


@dataclass(frozen=True)
class Burst:
    """A short spike of traffic on one endpoint.

    Attributes:
        endpoint: Index of the endpoint in the endpoint list.
        start: First second of the burst (epoch seconds).
        end: End of the burst (epoch seconds, exclusive).
        multiplier: Rate of the endpoint during the burst, relative to its usual rate.
    """

    endpoint: int
    start: float
    end: float
    multiplier: float


@dataclass
class Options:
    """Validated command-line options.

    Attributes:
        lines: Number of lines to write (the csv header not included).
        seed: Seed of every random stream.
        start: Start of the time range (epoch seconds).
        duration: Length of the time range in seconds.
        endpoints: Number of distinct endpoints.
        users: Size of the user pool; 0 omits users (ndjson and csv only).
        late_fraction: Fraction of lines written late.
        max_late: Largest lateness in seconds.
        fmt: Output format: ndjson, csv or combined.
        ts_style: Timestamp style for ndjson and csv.
        gzip: Whether to gzip the output.
        output: Output path, or "-" for stdout.
        bad_fraction: Fraction of deliberately bad lines.
        bursts: Number of bursts; None picks about three per day.
        summary: Whether to print a JSON summary on stderr.
    """

    lines: int
    seed: int
    start: float
    duration: float
    endpoints: int
    users: int
    late_fraction: float
    max_late: float
    fmt: str
    ts_style: str
    gzip: bool
    output: str
    bad_fraction: float
    bursts: int | None
    summary: bool


@dataclass
class Stats:
    """What was written, for ``--summary``.

    Attributes:
        lines: Lines written (without the csv header).
        late: Lines that were held back and written late.
        bad: Bad lines, per kind.
        first_ts: Smallest timestamp written (epoch seconds), if any.
        last_ts: Largest timestamp written (epoch seconds), if any.
    """

    lines: int = 0
    late: int = 0
    bad: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BAD_KINDS, 0))
    first_ts: float | None = None
    last_ts: float | None = None


def stream(seed: int, name: str) -> random.Random:
    """Return an independent random stream derived from the seed and a name.

    Separate streams keep each aspect stable when another changes: the hits do not depend
    on the output format, nor the times on the number of endpoints.

    Args:
        seed: The user's seed.
        name: Name of the stream, e.g. ``"time"``.

    Returns:
        A seeded ``random.Random``.
    """
    return random.Random(f"gen_traffic:{seed}:{name}")


def parse_start(text: str) -> float:
    """Parse ``--start``: epoch seconds (or milliseconds above 1e11) or ISO 8601.

    An ISO date without an offset is read as UTC.

    Args:
        text: The option value.

    Returns:
        Epoch seconds.

    Raises:
        argparse.ArgumentTypeError: The text is neither a number nor an ISO 8601 date.
    """
    try:
        value = float(text)
    except ValueError:
        candidate = text.strip()
        if candidate.endswith(("Z", "z")):
            candidate = candidate[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(candidate)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not epoch seconds or an ISO 8601 date: {text!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"start must be a finite epoch >= 0: {text!r}")
    return value / 1000.0 if value > 1e11 else value


def zipf_cum_weights(n: int, s: float, q: float = 0.0) -> list[float]:
    """Cumulative Zipf(-Mandelbrot) weights ``1 / (rank + q) ** s`` for ranks 1..n.

    Args:
        n: Number of ranks.
        s: Exponent.
        q: Offset added to the rank (flattens the head).

    Returns:
        Increasing cumulative weights, for ``random.choices(cum_weights=...)``.
    """
    total = 0.0
    cumulative = []
    for rank in range(1, n + 1):
        total += 1.0 / (rank + q) ** s
        cumulative.append(total)
    return cumulative


def build_endpoints(count: int, rng: random.Random) -> list[str]:
    """Build ``count`` distinct, realistic paths in popularity order (rank 1 first).

    The first paths are the fixed head (``/``, ``/static/app.js``, ``/api/login``, ...); the
    rest mixes other fixed paths with templates expanded to concrete ids and slugs.

    Args:
        count: Number of endpoints wanted (at least 1).
        rng: Random stream for ids, slugs and the order of the tail.

    Returns:
        The endpoint paths.
    """
    paths = list(HEAD_PATHS[:count])
    seen = set(paths)
    tail = list(TAIL_PATHS)
    rng.shuffle(tail)
    tail_iter = iter(tail)
    while len(paths) < count:
        fixed = next(tail_iter, None) if rng.random() < 0.4 else None
        if fixed is None:
            template = rng.choice(TEMPLATES)
            slug = f"{rng.choice(SLUG_WORDS)}-{rng.choice(SLUG_WORDS)}"
            fixed = template.format(id=rng.randint(1, 99_999), slug=slug)
        if fixed not in seen:
            seen.add(fixed)
            paths.append(fixed)
    return paths


def build_ips(count: int, rng: random.Random) -> list[str]:
    """Client addresses for ``count`` users: mostly public-looking IPv4, some IPv6.

    Args:
        count: Number of users.
        rng: Random stream.

    Returns:
        One distinct address per user.
    """
    ips: list[str] = []
    seen: set[str] = set()
    while len(ips) < count:
        if rng.random() < 0.05:
            ip = f"2001:db8:{rng.randrange(1 << 16):x}::{rng.randrange(1, 1 << 16):x}"
        else:
            first = rng.choice([n for n in range(1, 224) if n not in (10, 127, 172, 192)])
            ip = f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if ip not in seen:
            seen.add(ip)
            ips.append(ip)
    return ips


class TrafficModel:
    """The hit process: endpoints, users, daily rhythm and bursts.

    Args:
        opts: The options.
    """

    def __init__(self, opts: Options) -> None:
        self.opts = opts
        self.endpoints = build_endpoints(opts.endpoints, stream(opts.seed, "endpoints"))
        self.endpoint_cw = zipf_cum_weights(opts.endpoints, ENDPOINT_ZIPF_S)
        self.user_cw = zipf_cum_weights(opts.users, USER_ZIPF_S, USER_ZIPF_Q)
        # User ids are a seeded permutation, so the busiest user is not simply "u1".
        ids = list(range(1, opts.users + 1))
        stream(opts.seed, "user-ids").shuffle(ids)
        self.user_ids = [f"u{i}" for i in ids]
        self.bins = max(1000, min(500_000, math.ceil(opts.duration)))
        self.bin_seconds = opts.duration / self.bins
        self.bursts = self._place_bursts(stream(opts.seed, "bursts"))
        self._build_intensity(stream(opts.seed, "noise"))

    def _place_bursts(self, rng: random.Random) -> list[Burst]:
        """Choose non-overlapping bursts on popular endpoints.

        Args:
            rng: Random stream.

        Returns:
            The bursts, in time order.
        """
        opts = self.opts
        wanted = opts.bursts
        if wanted is None:
            wanted = max(1, min(12, round(3 * opts.duration / 86400)))
        bursts: list[Burst] = []
        popular = list(range(min(15, opts.endpoints)))
        for attempt in range(wanted * 50):
            if len(bursts) == wanted:
                break
            length = min(rng.uniform(*BURST_SECONDS), opts.duration / 10)
            length = max(length, self.bin_seconds)
            offset = rng.uniform(0.05 * opts.duration, 0.95 * opts.duration - length)
            start = opts.start + max(0.0, offset)
            end = start + length
            gap = 600.0 if attempt < 40 else 0.0  # keep bursts apart; relax, never overlap
            if any(start < b.end + gap and b.start < end + gap for b in bursts):
                continue
            login = self.endpoints.index("/api/login") if "/api/login" in self.endpoints else -1
            unused = [e for e in popular if all(b.endpoint != e for b in bursts)] or popular
            endpoint = login if not bursts and login >= 0 else rng.choice(unused)
            bursts.append(Burst(endpoint, start, end, rng.uniform(*BURST_MULTIPLIER)))
        return sorted(bursts, key=lambda b: b.start)

    def _build_intensity(self, rng: random.Random) -> None:
        """Tabulate the cumulative intensity per time bin and the burst share of each bin.

        Args:
            rng: Random stream for the per-block noise.
        """
        opts = self.opts
        blocks = [
            math.exp(rng.gauss(0.0, NOISE_SIGMA))
            for _ in range(int(opts.duration / NOISE_BLOCK_SECONDS) + 2)
        ]
        total_endpoint_weight = self.endpoint_cw[-1]
        cumulative = [0.0]
        burst_prob = [0.0] * self.bins
        burst_endpoint = [0] * self.bins
        running = 0.0
        two_pi_over_day = 2.0 * math.pi / 86400.0
        for i in range(self.bins):
            offset = (i + 0.5) * self.bin_seconds
            moment = opts.start + offset
            phase = (moment - PEAK_HOUR_UTC * 3600.0) * two_pi_over_day
            base = (1.0 + DAILY_AMPLITUDE * math.cos(phase)) * blocks[
                int(offset / NOISE_BLOCK_SECONDS)
            ]
            extra = 0.0
            for burst in self.bursts:
                if burst.start <= moment < burst.end:
                    rank = burst.endpoint
                    share = (rank + 1) ** -ENDPOINT_ZIPF_S / total_endpoint_weight
                    extra = base * share * (burst.multiplier - 1.0)
                    burst_prob[i] = extra / (base + extra)
                    burst_endpoint[i] = burst.endpoint
                    break
            running += (base + extra) * self.bin_seconds
            cumulative.append(running)
        self.cumulative = [c / running for c in cumulative]
        self.cumulative[-1] = 1.0
        self.burst_prob = burst_prob
        self.burst_endpoint = burst_endpoint

    def chunks(self) -> Iterator[list[Record]]:
        """Generate all hits in increasing time order, a chunk at a time.

        Timestamps are the ascending order statistics of ``lines`` uniform draws (made one
        after the other, from the largest down), mapped through the inverse of the
        cumulative intensity.

        Yields:
            Lists of ``(ts_ms, endpoint_index, user_index)`` in increasing ``ts_ms``.
        """
        opts = self.opts
        rng_time = stream(opts.seed, "time")
        rng_endpoint = stream(opts.seed, "endpoint")
        rng_user = stream(opts.seed, "user")
        rng_burst = stream(opts.seed, "burst-pick")
        rnd = rng_time.random
        rburst = rng_burst.random
        cum = self.cumulative
        burst_prob = self.burst_prob
        burst_endpoint = self.burst_endpoint
        start_ms = opts.start * 1000.0
        bin_ms = self.bin_seconds * 1000.0
        endpoint_range = range(opts.endpoints)
        user_range = range(max(opts.users, 1))
        remaining = opts.lines
        top = 1.0  # the largest of the draws not yet used
        j = 0
        while remaining > 0:
            n = min(CHUNK, remaining)
            eps = rng_endpoint.choices(endpoint_range, cum_weights=self.endpoint_cw, k=n)
            if opts.users:
                users = rng_user.choices(user_range, cum_weights=self.user_cw, k=n)
            else:
                users = [0] * n
            stamps = [0] * n
            for i in range(n):
                top *= (1.0 - rnd()) ** (1.0 / remaining)
                remaining -= 1
                u = 1.0 - top
                while cum[j + 1] < u:
                    j += 1
                low = cum[j]
                stamps[i] = round(start_ms + (j + (u - low) / (cum[j + 1] - low)) * bin_ms)
                p = burst_prob[j]
                if p and rburst() < p:
                    eps[i] = burst_endpoint[j]
            yield list(zip(stamps, eps, users, strict=True))


def displace_late(
    chunks: Iterator[list[Record]], fraction: float, max_late: float, seed: int, stats: Stats
) -> Iterator[list[Record]]:
    """Write a fraction of records late: after the records up to ``delay`` seconds newer.

    Args:
        chunks: Records in increasing time order.
        fraction: Probability that a record is late.
        max_late: Largest delay in seconds; delays are uniform in ``(0, max_late]``.
        seed: The user's seed.
        stats: Counts late records.

    Yields:
        Records in output order.
    """
    if fraction <= 0 or max_late <= 0:
        yield from chunks
        return
    rnd = stream(seed, "late").random
    max_late_ms = max_late * 1000.0
    held: list[tuple[int, int, Record]] = []  # (release ms, sequence, record)
    sequence = 0
    for chunk in chunks:
        out: list[Record] = []
        for record in chunk:
            ts = record[0]
            while held and held[0][0] <= ts:
                out.append(heapq.heappop(held)[2])
            if rnd() < fraction:
                delay = max(1, math.ceil((1.0 - rnd()) * max_late_ms))
                heapq.heappush(held, (ts + delay, sequence, record))
                sequence += 1
                stats.late += 1
            else:
                out.append(record)
        yield out
    yield [entry[2] for entry in sorted(held)]


class Formatter:
    """Turns records into text lines; subclasses implement one format.

    Args:
        model: The traffic model (endpoint and user names).
        opts: The options.
        stats: Counts bad lines.
    """

    def __init__(self, model: TrafficModel, opts: Options, stats: Stats) -> None:
        self.model = model
        self.opts = opts
        self.stats = stats
        self.rng = stream(opts.seed, "format")
        self.rng_bad = stream(opts.seed, "bad")
        self.bad_kind = 0
        self._iso_cache: dict[tuple[int, int], str] = {}

    def header(self) -> str:
        """Return the text written before the first line (empty by default)."""
        return ""

    def line(self, record: Record) -> str:
        """Return one good line, with its newline.

        Args:
            record: The hit.
        """
        raise NotImplementedError

    def bad_line(self, record: Record, kind: str) -> str:
        """Return one deliberately bad line of ``kind``, with its newline.

        Args:
            record: The hit the bad line replaces (gives it realistic content).
            kind: One of BAD_KINDS.
        """
        raise NotImplementedError

    def fast_lines(self, records: list[Record]) -> list[str] | None:
        """Format many good lines at once, or return None when there is no fast path.

        Args:
            records: The hits.
        """
        return None

    def format_chunk(self, records: list[Record]) -> str:
        """Format records, replacing about ``bad_fraction`` of them with bad lines.

        Args:
            records: The hits, in output order.

        Returns:
            The lines, joined.
        """
        bad_fraction = self.opts.bad_fraction
        lines = None if bad_fraction > 0 else self.fast_lines(records)
        if lines is None:
            line = self.line
            rbad = self.rng_bad.random
            lines = []
            for record in records:
                if bad_fraction > 0 and rbad() < bad_fraction:
                    kind = BAD_KINDS[self.bad_kind % len(BAD_KINDS)]
                    self.bad_kind += 1
                    self.stats.bad[kind] += 1
                    lines.append(self.bad_line(record, kind))
                else:
                    lines.append(line(record))
        return "".join(lines)

    def iso(self, ts_ms: int, offset_minutes: int) -> str:
        """ISO 8601 text with milliseconds and an offset (``Z`` for offset -1).

        Args:
            ts_ms: Epoch milliseconds.
            offset_minutes: Offset from UTC in minutes; -1 means UTC written as ``Z``.
        """
        seconds, millis = divmod(ts_ms, 1000)
        key = (seconds, offset_minutes)
        prefix = self._iso_cache.get(key)
        if prefix is None:
            if len(self._iso_cache) > 4096:
                self._iso_cache.clear()
            shift = 0 if offset_minutes == -1 else offset_minutes
            moment = time.gmtime(seconds + shift * 60)
            prefix = (
                f"{moment.tm_year:04d}-{moment.tm_mon:02d}-{moment.tm_mday:02d}"
                f"T{moment.tm_hour:02d}:{moment.tm_min:02d}:{moment.tm_sec:02d}"
            )
            self._iso_cache[key] = prefix
        if offset_minutes == -1:
            suffix = "Z"
        else:
            sign = "-" if offset_minutes < 0 else "+"
            hours, minutes = divmod(abs(offset_minutes), 60)
            suffix = f"{sign}{hours:02d}:{minutes:02d}"
        return f"{prefix}.{millis:03d}{suffix}"

    def ts_text(self, ts_ms: int, quote: str) -> str:
        """The timestamp in the chosen ``--ts-style``.

        Args:
            ts_ms: Epoch milliseconds.
            quote: Quote put around ISO text (``'"'`` in JSON, ``""`` in csv).
        """
        style = self.opts.ts_style
        if style == "mixed":
            draw = self.rng.random()
            if draw < 0.4:
                style = "epoch"
            elif draw < 0.7:
                style = "ms"
            else:
                offset = self.rng.choice(ISO_OFFSETS_MINUTES)
                return f"{quote}{self.iso(ts_ms, -1 if draw < 0.78 else offset)}{quote}"
        if style == "epoch":
            return repr(ts_ms / 1000)
        if style == "ms":
            return str(ts_ms)
        return f"{quote}{self.iso(ts_ms, 0)}{quote}"


class NdjsonFormatter(Formatter):
    """``{"endpoint": "/api/login", "ts": 1795737600.25, "user": "u42"}`` lines."""

    def __init__(self, model: TrafficModel, opts: Options, stats: Stats) -> None:
        super().__init__(model, opts, stats)
        self.endpoint_json = [json.dumps(e) for e in model.endpoints]
        self.user_json = [json.dumps(u) for u in model.user_ids]

    def line(self, record: Record) -> str:
        """Return one NDJSON line.

        Args:
            record: The hit.
        """
        ts, endpoint, user = record
        user_part = f', "user": {self.user_json[user]}' if self.opts.users else ""
        ts_part = self.ts_text(ts, '"')
        return f'{{"endpoint": {self.endpoint_json[endpoint]}, "ts": {ts_part}{user_part}}}\n'

    def fast_lines(self, records: list[Record]) -> list[str] | None:
        """Format epoch-style lines with users in one comprehension.

        Args:
            records: The hits.
        """
        if self.opts.ts_style != "epoch" or not self.opts.users:
            return None
        ej = self.endpoint_json
        uj = self.user_json
        return [
            f'{{"endpoint": {ej[e]}, "ts": {t / 1000!r}, "user": {uj[u]}}}\n' for t, e, u in records
        ]

    def bad_line(self, record: Record, kind: str) -> str:
        """Return one bad NDJSON line.

        Args:
            record: The hit the bad line replaces.
            kind: One of BAD_KINDS.
        """
        ts, endpoint, user = record
        ep = self.endpoint_json[endpoint]
        ts_part = repr(ts / 1000)
        user_part = f', "user": {self.user_json[user]}' if self.opts.users else ""
        variant = self.rng_bad.randrange(5)
        if kind == "invalid":
            good = f'{{"endpoint": {ep}, "ts": {ts_part}{user_part}}}'
            return [
                good[: len(good) // 2] + "\n",  # truncated mid-write
                good.replace('"', "'") + "\n",  # Python repr, not JSON
                good + "}\n",  # trailing garbage
                f'{{"endpoint": {ep} "ts": {ts_part}}}\n',  # missing comma
                f"GET {self.model.endpoints[endpoint]} HTTP/1.1\n",  # not JSON at all
            ][variant]
        if kind == "missing_endpoint":
            key = ("path", "endpiont", "url", None, None)[variant]
            prefix = f'"{key}": {ep}, ' if key else ""
            return f'{{{prefix}"ts": {ts_part}{user_part}}}\n'
        if kind == "bad_ts":
            bad_ts = ('"NaN"', "NaN", "1e400", "-1", "1e30", '"yesterday"', "null", '"Infinity"')
            value = bad_ts[self.rng_bad.randrange(len(bad_ts))]
            return f'{{"endpoint": {ep}, "ts": {value}{user_part}}}\n'
        return f'{{"endpoint": "", "ts": {ts_part}{user_part}}}\n'


class CsvFormatter(Formatter):
    """``endpoint,timestamp,user`` rows after a header (paths never need quoting)."""

    def header(self) -> str:
        """Return the header row."""
        return "endpoint,timestamp,user\n" if self.opts.users else "endpoint,timestamp\n"

    def line(self, record: Record) -> str:
        """Return one csv row.

        Args:
            record: The hit.
        """
        ts, endpoint, user = record
        user_part = f",{self.model.user_ids[user]}" if self.opts.users else ""
        return f"{self.model.endpoints[endpoint]},{self.ts_text(ts, '')}{user_part}\n"

    def fast_lines(self, records: list[Record]) -> list[str] | None:
        """Format epoch-style rows with users in one comprehension.

        Args:
            records: The hits.
        """
        if self.opts.ts_style != "epoch" or not self.opts.users:
            return None
        names = self.model.endpoints
        ids = self.model.user_ids
        return [f"{names[e]},{t / 1000!r},{ids[u]}\n" for t, e, u in records]

    def bad_line(self, record: Record, kind: str) -> str:
        """Return one bad csv row.

        Args:
            record: The hit the bad row replaces.
            kind: One of BAD_KINDS.
        """
        ts, endpoint, user = record
        path = self.model.endpoints[endpoint]
        ts_part = repr(ts / 1000)
        user_part = f",{self.model.user_ids[user]}" if self.opts.users else ""
        if kind == "invalid":
            return [
                f'"{path},{ts_part}{user_part}\n',  # unterminated quote
                f"{path};{ts_part}\n",  # wrong separator: one field, no timestamp
                "\x00\x00\x00\n",  # NUL bytes
            ][self.rng_bad.randrange(3)]
        if kind == "missing_endpoint":
            return f"{ts_part}\n"  # a lone field: no endpoint and timestamp pair
        if kind == "bad_ts":
            bad_ts = ("nan", "NaN", "inf", "-1", "1e30", "yesterday", "")
            return f"{path},{bad_ts[self.rng_bad.randrange(len(bad_ts))]}{user_part}\n"
        return f",{ts_part}{user_part}\n"


class CombinedFormatter(Formatter):
    """Apache combined log lines; the client address stands for the user."""

    def __init__(self, model: TrafficModel, opts: Options, stats: Stats) -> None:
        super().__init__(model, opts, stats)
        self.ips = build_ips(opts.users, stream(opts.seed, "ips"))
        self._date_cache: dict[int, str] = {}

    def date(self, seconds: int) -> str:
        """Return the bracketed date of a log line, e.g. ``[27/Nov/2026:00:00:00 +0000]``.

        Args:
            seconds: Epoch seconds.
        """
        text = self._date_cache.get(seconds)
        if text is None:
            if len(self._date_cache) > 4096:
                self._date_cache.clear()
            m = time.gmtime(seconds)
            text = (
                f"[{m.tm_mday:02d}/{MONTHS[m.tm_mon - 1]}/{m.tm_year:04d}:"
                f"{m.tm_hour:02d}:{m.tm_min:02d}:{m.tm_sec:02d} +0000]"
            )
            self._date_cache[seconds] = text
        return text

    def request(self, path: str) -> tuple[str, str, int, str]:
        """Pick a realistic method, target (with a query string sometimes), status and size.

        Args:
            path: The endpoint.

        Returns:
            ``(method, target, status, size)``; size is ``-`` when no body was sent.
        """
        rng = self.rng
        draw = rng.random()
        posts = ("/api/login", "/api/logout", "/api/checkout", "/api/signup", "/api/graphql")
        if path in posts or (path == "/api/cart" and draw < 0.3):
            method = "POST"
        elif path == "/health" and draw < 0.2:
            method = "HEAD"
        else:
            method = "GET"
        target = path
        if path == "/api/search":
            target = f"{path}?q={rng.choice(SLUG_WORDS)}&page={rng.randint(1, 5)}"
        elif path.startswith("/static/") and draw < 0.5:
            target = f"{path}?v={rng.randrange(16**6):06x}"
        elif path.startswith("/api/products") and draw < 0.3:
            target = f"{path}?sort=price&limit={rng.choice((10, 20, 50))}"
        elif draw < 0.03:
            target = f"{path}?x=1"
        status_draw = rng.random()
        if path.startswith("/static/") and status_draw < 0.3:
            return method, target, 304, "-"
        if path == "/api/login" and status_draw < 0.15:
            status = 401
        elif status_draw > 0.997:
            status = 500
        elif status_draw > 0.985:
            status = 404
        else:
            status = 200
        size = "-" if method == "HEAD" else str(int(rng.lognormvariate(7.0, 1.2)) + 20)
        return method, target, status, size

    def line(self, record: Record) -> str:
        """Return one combined log line.

        Args:
            record: The hit.
        """
        ts, endpoint, user = record
        method, target, status, size = self.request(self.model.endpoints[endpoint])
        protocol = "HTTP/2.0" if self.rng.random() < 0.3 else "HTTP/1.1"
        referer = self.rng.choice(REFERERS)
        agent = self.rng.choice(USER_AGENTS)
        return (
            f'{self.ips[user]} - - {self.date(ts // 1000)} "{method} {target} {protocol}" '
            f'{status} {size} "{referer}" "{agent}"\n'
        )

    def bad_line(self, record: Record, kind: str) -> str:
        """Return one bad combined log line.

        Args:
            record: The hit the bad line replaces.
            kind: One of BAD_KINDS.
        """
        ts, endpoint, user = record
        path = self.model.endpoints[endpoint]
        ip = self.ips[user]
        date = self.date(ts // 1000)
        if kind == "invalid":
            good = f'{ip} - - {date} "GET {path} HTTP/1.1" 200 512 "-" "curl/8.5.0"'
            return [good[: len(good) // 2] + "\n", "garbage in the access log\n"][
                self.rng_bad.randrange(2)
            ]
        if kind == "missing_endpoint":
            return f'{ip} - - {date} "-" 400 0 "-" "-"\n'  # what nginx logs for no request
        if kind == "bad_ts":
            bad_date = (
                "[99/Foo/2026:25:61:61 +0000]",
                "[-]",
                "[NaN]",
                "[27/Nov/99999:00:00:00 +0000]",
            )
            date = bad_date[self.rng_bad.randrange(len(bad_date))]
            return f'{ip} - - {date} "GET {path} HTTP/1.1" 200 512 "-" "curl/8.5.0"\n'
        return f'{ip} - - {date} "GET  HTTP/1.1" 400 0 "-" "curl/8.5.0"\n'


FORMATTERS: dict[str, type[Formatter]] = {
    "ndjson": NdjsonFormatter,
    "csv": CsvFormatter,
    "combined": CombinedFormatter,
}


def fraction(text: str) -> float:
    """Parse a fraction in ``[0, 1]`` for argparse.

    Args:
        text: The option value.

    Raises:
        argparse.ArgumentTypeError: Not a number in [0, 1].
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog="gen_traffic.py",
        description="Generate seeded, deterministic, realistic web traffic for hitcount.",
        epilog="example: python scripts/gen_traffic.py --lines 20000 --seed 1 -o web.ndjson",
    )
    add = parser.add_argument
    add("--lines", type=int, default=10_000, help="lines to write (default 10000)")
    add("--seed", type=int, default=1, help="random seed (default 1)")
    add(
        "--start",
        type=parse_start,
        default=parse_start(DEFAULT_START),
        help=f"start: epoch seconds or ISO 8601 (default {DEFAULT_START})",
    )
    add("--duration", type=float, default=86400.0, help="seconds covered (default 86400)")
    add("--endpoints", type=int, default=60, help="distinct endpoints (default 60)")
    add(
        "--users",
        type=int,
        default=5000,
        help="user pool size; 0 omits users (not for combined) (default 5000)",
    )
    add(
        "--late-fraction",
        type=fraction,
        default=0.03,
        help="fraction of lines written late (default 0.03)",
    )
    add("--max-late", type=float, default=20.0, help="largest lateness in seconds (default 20)")
    add(
        "--format",
        dest="fmt",
        choices=FORMATS,
        default="ndjson",
        help="output format (default ndjson)",
    )
    add(
        "--ts-style",
        choices=TS_STYLES,
        default=None,
        help="ndjson/csv timestamps: epoch float seconds, epoch ms int, ISO 8601 with "
        "offset, or a mix (default epoch)",
    )
    add("--gzip", action="store_true", help="gzip the output (implied by a .gz path)")
    add("-o", "--output", default="-", help="output path (default - = stdout)")
    add(
        "--bad-fraction",
        type=fraction,
        default=0.0,
        help="fraction of deliberately bad lines, cycling through invalid syntax, missing "
        "endpoint, NaN/absurd timestamp, empty endpoint (default 0)",
    )
    add(
        "--bursts",
        type=int,
        default=None,
        help="number of bursts (default: about 3 per day, at least 1)",
    )
    add(
        "--summary",
        action="store_true",
        help="print a JSON summary (counts, time range, bursts) on stderr",
    )
    return parser


def parse_options(argv: Sequence[str] | None) -> Options:
    """Parse and validate the command line.

    Args:
        argv: Arguments without the program name; None reads ``sys.argv``.

    Returns:
        The options.
    """
    parser = build_parser()
    ns = parser.parse_args(argv)
    if ns.lines < 0:
        parser.error("--lines must be >= 0")
    if not (math.isfinite(ns.duration) and ns.duration > 0):
        parser.error("--duration must be a positive number of seconds")
    if ns.endpoints < 1:
        parser.error("--endpoints must be >= 1")
    if ns.users < 0 or (ns.users == 0 and ns.fmt == "combined"):
        parser.error("--users must be >= 0, and >= 1 for --format combined")
    if not (math.isfinite(ns.max_late) and ns.max_late >= 0):
        parser.error("--max-late must be >= 0")
    if ns.bursts is not None and ns.bursts < 0:
        parser.error("--bursts must be >= 0")
    if ns.ts_style is not None and ns.fmt == "combined":
        parser.error("--ts-style applies to ndjson and csv only")
    return Options(
        lines=ns.lines,
        seed=ns.seed,
        start=ns.start,
        duration=ns.duration,
        endpoints=ns.endpoints,
        users=ns.users,
        late_fraction=ns.late_fraction,
        max_late=ns.max_late,
        fmt=ns.fmt,
        ts_style=ns.ts_style or "epoch",
        gzip=ns.gzip or ns.output.endswith(".gz"),
        output=ns.output,
        bad_fraction=ns.bad_fraction,
        bursts=ns.bursts,
        summary=ns.summary,
    )


def generate(opts: Options, model: TrafficModel, sink: Sink) -> Stats:
    """Generate the traffic described by ``opts`` and write it to ``sink``.

    Args:
        opts: The options.
        model: The traffic model built from ``opts``.
        sink: A binary stream (already gzip-wrapped if wanted).

    Returns:
        What was written.
    """
    stats = Stats()
    formatter = FORMATTERS[opts.fmt](model, opts, stats)
    header = formatter.header()
    if header:
        sink.write(header.encode())
    ordered = displace_late(model.chunks(), opts.late_fraction, opts.max_late, opts.seed, stats)
    for records in ordered:
        if not records:
            continue
        stats.lines += len(records)
        low = min(r[0] for r in records) / 1000
        high = max(r[0] for r in records) / 1000
        stats.first_ts = low if stats.first_ts is None else min(stats.first_ts, low)
        stats.last_ts = high if stats.last_ts is None else max(stats.last_ts, high)
        sink.write(formatter.format_chunk(records).encode())
    return stats


def summary(opts: Options, model: TrafficModel, stats: Stats) -> str:
    """Return the ``--summary`` JSON text.

    Args:
        opts: The options.
        model: The traffic model (bursts and endpoint names).
        stats: What was written.
    """
    return json.dumps(
        {
            "lines": stats.lines,
            "late": stats.late,
            "bad": stats.bad,
            "first_ts": stats.first_ts,
            "last_ts": stats.last_ts,
            "start": opts.start,
            "end": opts.start + opts.duration,
            "bursts": [
                {
                    "endpoint": model.endpoints[b.endpoint],
                    "start": round(b.start, 3),
                    "end": round(b.end, 3),
                    "multiplier": round(b.multiplier, 2),
                }
                for b in model.bursts
            ],
        }
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the generator.

    Args:
        argv: Arguments without the program name; None reads ``sys.argv``.

    Returns:
        The exit code.
    """
    opts = parse_options(argv)
    model = TrafficModel(opts)
    to_stdout = opts.output == "-"
    try:
        raw: BinaryIO = sys.stdout.buffer if to_stdout else open(opts.output, "wb")  # noqa: SIM115
    except OSError as error:
        print(f"gen_traffic.py: error: cannot write {opts.output}: {error}", file=sys.stderr)
        return 2
    try:
        # mtime=0 and an empty file name keep the gzip header, hence the output, identical.
        gz = (
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6)
            if opts.gzip
            else None
        )
        try:
            stats = generate(opts, model, gz if gz is not None else raw)
        finally:
            if gz is not None:
                gz.close()
        raw.flush()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:
        if not to_stdout:
            raw.close()
    if opts.summary:
        print(summary(opts, model, stats), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
