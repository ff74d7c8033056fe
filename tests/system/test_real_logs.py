"""Every real log in shared/data/real replayed end to end, checked against the oracle."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from hitcount import HitCounter, replay
from hitcount.cli import app
from tests.unit.ingest.test_access_log import (
    EXPECTED,
    REAL,
    needs_real_logs,
    oracle,
    real_lines,
    window_count,
)

MONTH = 31 * 86400
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@pytest.mark.slow
@needs_real_logs
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_replay_accepts_each_real_log_with_exact_window_answers(name: str) -> None:
    expected = EXPECTED[name]
    counter = HitCounter("sliding", max_window_s=MONTH)
    report = replay(counter, [str(REAL / f"{name}.log.gz")])
    assert report.formats == {str(REAL / f"{name}.log.gz"): expected.sniffed}
    assert report.lines_read == expected.lines
    assert report.hits_kept == expected.hits
    assert report.bad_lines == sum(expected.bad.values())
    assert report.late_hits == 0  # the Elastic files' 59 s lateness is within the default 60 s
    assert counter.metrics.total_hits == expected.hits

    oracle_hits = [hit for hit in map(oracle, real_lines(name)) if hit is not None]
    for endpoint, last, count in expected.windows:
        answer = counter.query(endpoint, last).answer
        assert answer.exact and answer.complete
        assert answer.count == count == window_count(oracle_hits, endpoint, last)


@pytest.mark.slow
@needs_real_logs
@pytest.mark.parametrize("name", ["elastic_nginx_logs_2015-05", "nasa_http_aug95_first20k"])
def test_fixed_bounds_hold_on_real_logs(name: str) -> None:
    expected = EXPECTED[name]
    counter = HitCounter("fixed", window_s=60, retention_s=MONTH)
    replay(counter, [str(REAL / f"{name}.log.gz")])
    for endpoint, last, count in expected.windows:
        answer = counter.query(endpoint, last).answer
        assert answer.low <= count <= answer.high


@pytest.mark.slow
@needs_real_logs
def test_out_of_order_elastic_log_without_lateness_allowance_reports_late_lines() -> None:
    """With --max-lateness 0 and a 10 s window, lines up to 59 s late find their time pruned."""
    counter = HitCounter("sliding", max_window_s=10, max_lateness_s=0)
    report = replay(counter, [str(REAL / "elastic_apache_logs_2015-05.log.gz")])
    assert report.late_hits > 0
    assert report.late_hits + report.hits_kept == EXPECTED["elastic_apache_logs_2015-05"].hits
    assert counter.metrics.late_hits == report.late_hits


@pytest.mark.slow
@needs_real_logs
def test_hostile_paths_of_the_honeypot_log_print_inert(state_env: object) -> None:
    runner = CliRunner()
    source = str(REAL / "honeynet_rh71_httpd_access_2004.log.gz")
    result = runner.invoke(app, ["replay", source, "--strategy", "sliding", "--max-window", "1e8"])
    assert result.exit_code == 0, result.output
    top = runner.invoke(app, ["top", "--last", "1000d", "--limit", "3000"])
    assert top.exit_code == 0
    assert not _CONTROL.search(top.stdout)
    tab_path = "/cgi-bin/handler/netsonar;cat\t/etc/passwd|"  # a real probe with a TAB
    query = runner.invoke(app, ["query", tab_path, "--last", "1000d"])
    assert query.exit_code == 0
    assert "netsonar;cat\\t/etc/passwd|: 1 hit " in query.stdout
    assert not _CONTROL.search(query.stdout)


@pytest.mark.slow
@needs_real_logs
@pytest.mark.parametrize("name", ["honeynet_rh71_httpd_access_2004", "elastic_nginx_logs_2015-05"])
@pytest.mark.parametrize("ascii_only", [True, False])
def test_real_hits_as_ndjson_through_the_parallel_scanner_equal_json_loads(
    name: str, ascii_only: bool, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real paths as NDJSON through the workers' scanners equal recording `json.loads` of each.

    The honeypot's hostile paths bring quotes, escapes and non-ASCII text.
    """
    import json
    from pathlib import Path

    from hitcount.ingest import parallel, workers

    hits = [hit for line in real_lines(name) if (hit := oracle(line)) is not None]
    rows = [
        json.dumps({"endpoint": e, "ts": ts, "user": user}, ensure_ascii=ascii_only)
        for e, ts, user in sorted(hits, key=lambda hit: hit[1])
    ]
    path = Path(str(tmp_path)) / "hits.ndjson"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8", errors="surrogatepass")
    monkeypatch.setenv("HITCOUNT_WORKERS", "2")
    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 40_000)
    both = HitCounter("sliding", max_window_s=MONTH, max_lateness_s=0, distinct_precision=10)
    report = replay(both, [str(path)])
    expected = HitCounter("sliding", max_window_s=MONTH, max_lateness_s=0, distinct_precision=10)
    for row in rows:
        hit = json.loads(row)
        expected.record(hit["endpoint"], hit["ts"], hit["user"])
    assert report.hits_kept == len(rows) and report.bad_lines == 0
    assert both.strategy.to_state() == expected.strategy.to_state()
    assert both.distinct is not None and expected.distinct is not None
    assert both.distinct.to_state() == expected.distinct.to_state()


@pytest.mark.slow
@needs_real_logs
def test_max_endpoints_on_a_real_log_names_the_first_n_and_loses_no_hit() -> None:
    """NASA's log has 1541 endpoints; with a cap of 200, the oracle applies the rule in file
    order (its lines are in time order, none late)."""  # noqa: D205, D209
    from collections import Counter

    from hitcount.engine.capping import OVERFLOW_ENDPOINT

    name = "nasa_http_aug95_first20k"
    counter = HitCounter("sliding", max_window_s=MONTH)
    counter.max_endpoints = 200
    replay(counter, [str(REAL / f"{name}.log.gz")])
    named: set[str] = set()
    expected: Counter[str] = Counter()
    for endpoint, _, _ in filter(None, map(oracle, real_lines(name))):
        if endpoint not in named and len(named) < 200:
            named.add(endpoint)
        expected[endpoint if endpoint in named else OVERFLOW_ENDPOINT] += 1
    assert len(expected) == 201 and expected[OVERFLOW_ENDPOINT] > 0
    assert counter.strategy.totals() == dict(expected)
    assert counter.query("*", MONTH).answer.count == EXPECTED[name].hits


@pytest.mark.parametrize("name", ["honeynet_rh71_httpd_access_2004", "erddap_voto_nginx_2024-05"])
@pytest.mark.parametrize("strategy", ["sliding", "fixed"])
@pytest.mark.parametrize("gzipped", [False, True])
def test_real_access_logs_through_the_workers_equal_the_per_line_replay(
    name: str, strategy: str, gzipped: bool, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ranges decoded by workers (C scanner, per-line parser for the rest) change nothing.

    A gzip file is decompressed by the parent and its blocks decoded by the workers.

    The oracle replays the same file with the per-line parser alone (no scanner): the same
    state, the same distinct users, the same bad lines with the same numbers and reasons.
    """
    import gzip
    from pathlib import Path

    from hitcount.ingest import lines, parallel, workers

    path = Path(str(tmp_path)) / "access.log"
    text = b"\n".join(real_lines(name)) + b"\n"
    path.write_bytes(gzip.compress(text) if gzipped else text)  # gzip: decoded as a stream

    def run(workers: str) -> tuple[HitCounter, list[tuple[int, str]], int]:
        monkeypatch.setenv("HITCOUNT_WORKERS", workers)
        bad: list[tuple[int, str]] = []
        params = {"sliding": {"max_window_s": MONTH}, "fixed": {"retention_s": MONTH}}
        counter = HitCounter(strategy, **params.get(strategy, {}), distinct_precision=10)
        report = replay(counter, [str(path)], on_bad_line=lambda b: bad.append((b.line, b.reason)))
        return counter, bad, report.lines_read

    monkeypatch.setattr(workers, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "RANGE_BYTES", 200_000)
    used: list[str] = []
    for entry in ("decode_in_parallel", "decode_stream_in_parallel"):
        real = getattr(parallel, entry)
        monkeypatch.setattr(
            parallel, entry, lambda *a, _r=real, _n=entry: used.append(_n) or _r(*a)
        )
    fast, fast_bad, fast_lines = run("2")
    assert used == ["decode_stream_in_parallel" if gzipped else "decode_in_parallel"]
    monkeypatch.setattr(lines, "native", None)  # no scanner: every line by the parser
    slow, slow_bad, slow_lines = run("0")
    assert fast_bad == slow_bad and fast_lines == slow_lines == len(real_lines(name))
    assert fast.strategy.to_state() == slow.strategy.to_state()
    assert fast.distinct is not None and slow.distinct is not None
    assert fast.distinct.to_state() == slow.distinct.to_state()
