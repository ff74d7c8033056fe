"""`hitcount report`: the page against a brute-force count and the other commands.

Also: escaping of hostile endpoints, atomic writes and every bad input.

Pages are read back with the standard library's HTML parser (tests/html_page.py); the
expected step edges are worked out here, not by `hitcount.views.series`.
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import pytest

from hitcount import HitCounter
from hitcount.errors import ConfigurationError, OutputError
from hitcount.views.report import MAX_STEPS, build_report, write_report
from hitcount.views.report_html import render_html
from tests.cli_helpers import assert_error, ok, ok_json, run, write_ndjson
from tests.conftest import ROOMY_PARAMS, SAMPLES, Oracle
from tests.html_page import Page

ENDPOINTS = ["/api/login", "/api/users", "/static/app.js", "/health"]
#: Endpoints that would run script, add elements or break out of an attribute if unescaped.
HOSTILE = [
    "/<script>document.title='pwned'</script>",
    '/x"><img src=x onerror="document.title=\'pwned\'">',
    "/x'><svg onload=\"document.title='pwned'\">",
    "/</title><script>document.title='pwned'</script>",
    "/a&amp;b<!--c",
    "/]]><style>body{display:none}</style>",
]
#: Every element a report may contain: anything else came from endpoint text.
ALLOWED_TAGS = {
    *("html", "head", "meta", "title", "style", "body", "header", "footer", "section", "div"),
    *("h1", "h2", "p", "br", "code", "span", "a", "figure", "figcaption"),
    *("svg", "defs", "pattern", "rect", "line", "text", "g"),
    *("table", "thead", "tbody", "tr", "th", "td"),
}


def random_hits(seed: int, n: int = 300) -> list[tuple[str, float]]:
    """Hits in (1000, 3000], weighted so the endpoints rank in a clear order."""
    rng = random.Random(seed)
    weights = [8, 4, 2, 1]
    return [
        (rng.choices(ENDPOINTS, weights)[0], 1000 + rng.randrange(1, 4001) / 2) for _ in range(n)
    ]


def number(value: float) -> str:
    """How `hitcount top` prints a number (README): 42, 41.5, inf."""
    if math.isinf(value):
        return "inf"
    return str(int(value)) if value == int(value) else f"{value:.1f}"


def upper(high: float | None) -> float:
    """A `--json` upper bound: null means none."""
    return math.inf if high is None else high


# -------------------------------------------------------------------------------------------
# The library against the oracle
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("last", "step", "now"), [(2000.0, 100.0, 3000.0), (600.0, 60.0, 2800.5)])
def test_every_bar_holds_the_true_count_of_its_step(
    strategy_name: str, last: float, step: float, now: float
) -> None:
    hits = random_hits(7)
    counter = HitCounter(strategy_name, **ROOMY_PARAMS.get(strategy_name, {}))
    counter.record_many(hits)
    oracle = Oracle(hits)
    page = Page.parse(render_html(build_report(counter, last, step, limit=3, now=now)))
    figures = page.all("figure")
    if strategy_name == "morris":  # no time: totals, no chart
        assert figures == [] and page.all("svg") == []
        assert "keeps no time" in page.text and "totals over all time" in page.text
        return
    assert [f.attrs["data-endpoint"] for f in figures] == ENDPOINTS[:3]
    steps = round(last / step)
    for endpoint in ENDPOINTS[:3]:
        marks = page.marks(endpoint)
        assert len(marks) == steps
        for k, mark in enumerate(marks, start=1):
            end = now - last + k * step
            truth = oracle.count(endpoint, end - step, end)
            assert float(mark.attrs["data-end"]) == pytest.approx(end)
            low, high = float(mark.attrs["data-low"]), float(mark.attrs["data-high"])
            assert low <= truth <= high, (endpoint, end, mark.attrs)
            if mark.attrs["data-exact"] == "true":
                assert float(mark.attrs["data-count"]) == truth
            assert f"{truth} hits" in mark.text or mark.attrs["data-exact"] == "false"


def test_the_top_table_ranks_endpoints_by_their_true_count() -> None:
    hits = random_hits(3)
    counter = HitCounter("sliding", max_window_s=10**6)
    counter.record_many(hits)
    oracle = Oracle(hits)
    rows = Page.parse(render_html(build_report(counter, 900, 90, limit=4))).rows("top-table")
    clock = max(ts for _, ts in hits)
    truth = sorted((-oracle.count(ep, clock - 900, clock), ep) for ep in ENDPOINTS)
    assert [row[1] for row in rows] == [ep for _, ep in truth]
    assert [row[2] for row in rows] == [str(-n) for n, _ in truth]
    assert {row[5] for row in rows} == {"yes"}
    assert (
        "Every number on this page is exact."
        in Page.parse(render_html(build_report(counter, 900, 90, limit=4))).text
    )


def test_steps_before_the_kept_data_are_unknown_not_zero() -> None:
    counter = HitCounter("sliding", max_window_s=600)
    counter.record_many([("/api", 1000.0 + i) for i in range(0, 2000, 7)])
    page = Page.parse(render_html(build_report(counter, 1800, 60)))
    marks = page.marks("/api")
    unknown = [m for m in marks if "unknown" in m.attrs["class"]]
    horizon = counter.strategy.horizon
    # a step (end - 60, end] is unknown exactly when it starts before the horizon
    expected = sum(1 for k in range(30) if 2995.0 - 1800 + k * 60 < horizon)
    assert 0 < len(unknown) == expected
    assert all(m.attrs["data-high"] == "inf" and "unknown" in m.text for m in unknown)
    assert f"{expected} chart step(s) are unknown" in page.text


def test_estimates_say_so_with_their_bounds() -> None:
    counter = HitCounter("fixed", window_s=300, retention_s=10**6)
    counter.record_many(random_hits(5))
    page = Page.parse(render_html(build_report(counter, 1200, 100, now=3000.0)))
    estimates = [m for m in page.all("rect", "estimate")]
    assert estimates and all(m.attrs["data-exact"] == "false" for m in estimates)
    assert all("~" in m.text for m in estimates)
    assert "low..high are certain bounds" in page.text


def test_hostile_endpoints_are_shown_as_text_never_as_markup() -> None:
    counter = HitCounter("sliding", max_window_s=3600)
    counter.record_many([(endpoint, 1000.0 + i) for i, endpoint in enumerate(HOSTILE)])
    page = Page.parse(render_html(build_report(counter, 60, 10, limit=len(HOSTILE))))
    assert {e.tag for e in page.elements} <= ALLOWED_TAGS
    assert not [(e.tag, a) for e in page.elements for a in e.attrs if a.startswith("on")]
    assert sorted(f.attrs["data-endpoint"] for f in page.all("figure")) == sorted(HOSTILE)
    assert sorted(row[1] for row in page.rows("top-table")) == sorted(HOSTILE)
    assert page.title == "hitcount report"


def test_control_and_bidi_characters_are_shown_escaped() -> None:
    counter = HitCounter("sliding")
    counter.record_many([("/a\x1b[31mred", 1000.0), ("/\u202egpj.exe", 1000.0)])
    page = Page.parse(render_html(build_report(counter, 60, 10)))
    assert "/a\\x1b[31mred" in page.text and "/\\u202egpj.exe" in page.text
    assert "\x1b" not in page.text and "\u202e" not in page.text


def test_an_empty_window_says_so_instead_of_charting() -> None:
    counter = HitCounter("sliding")
    counter.record("/api", 1000.0)
    page = Page.parse(render_html(build_report(counter, 60, 10, now=5000.0)))
    assert page.all("svg") == [] and page.rows("top-table") == []
    assert "No hits in the window" in page.text


@pytest.mark.parametrize(
    ("last", "step", "limit", "fragment"),
    [
        (3600, 420, 10, "whole number of --step"),
        (86400, 60, 10, f"1,440 points; the most is {MAX_STEPS}"),
        (3600, 0.001, 10, f"3,600,000 points; the most is {MAX_STEPS}"),
        (3600, 60, 0, "limit must be between 1 and 100"),
        (3600, 60, 101, "limit must be between 1 and 100"),
        (3600, -5, 10, "step_s must be a positive number"),
    ],
)
def test_bad_windows_steps_and_limits_are_refused(
    last: float, step: float, limit: int, fragment: str
) -> None:
    counter = HitCounter("sliding")
    counter.record("/api", 1000.0)
    with pytest.raises(ConfigurationError, match=fragment.replace("-", r"\-")) as raised:
        build_report(counter, last, step, limit)
    if "points" in fragment:  # the hint's step is one the report takes
        shortest = float(str(raised.value.hint).split("at least ")[1].rstrip("s"))
        assert last / shortest <= MAX_STEPS


# -------------------------------------------------------------------------------------------
# Writing the file
# -------------------------------------------------------------------------------------------


def test_a_failed_write_leaves_the_old_report_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    old = render_html(build_report(_counter(), 60, 10))
    write_report(target, old)

    def broken_replace(src: str, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OutputError, match="No space left on device"):
        write_report(target, old.replace("hitcount report", "new"))
    assert target.read_text() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_only_a_hitcount_report_is_overwritten(tmp_path: Path) -> None:
    notes = tmp_path / "notes.html"
    notes.write_text("<p>my notes</p>")
    with pytest.raises(OutputError, match="not a hitcount report"):
        write_report(notes, render_html(build_report(_counter(), 60, 10)))
    assert notes.read_text() == "<p>my notes</p>"


def _counter() -> HitCounter:
    counter = HitCounter("sliding")
    counter.record_many([("/api", 1000.0), ("/api", 1001.0)])
    return counter


# -------------------------------------------------------------------------------------------
# The command: the same numbers as top, plot --json and metrics --json
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["fixed", "ehist"])
def test_the_page_shows_what_top_plot_and_metrics_say(
    state_env: Path, tmp_path: Path, strategy: str
) -> None:
    ok(["replay", str(SAMPLES / "web.ndjson"), "-s", strategy])
    out = tmp_path / "report.html"
    said = ok(["report", str(out), "--last", "1h", "--step", "5m", "--top", "4"]).stdout
    assert said.startswith(f"wrote {out}: 4 endpoints, 12 steps of 5m")
    page = Page.parse(out.read_text())
    top = ok_json(["top", "--last", "1h", "--limit", "4", "--json"])
    expected = [
        [str(rank), r["endpoint"], number(r["count"]), number(r["low"]), number(upper(r["high"]))]
        for rank, r in enumerate(top, 1)
    ]
    exact = ["yes" if r["exact"] else "no" for r in top]
    plotted = ok_json(
        ["plot", *[r["endpoint"] for r in top], "--last", "1h", "--step", "5m", "--json"]
    )
    peaks = [  # the busiest 5-minute step, in hits per second
        f"{max(p['count'] for p in s['points'] if p['complete']) / 300:.4g}"
        for s in plotted["series"]
    ]
    assert [f"{s['peak_rate']:.4g}" for s in plotted["series"]] == peaks
    assert page.rows("top-table") == [
        [*row, flag, peak] for row, flag, peak in zip(expected, exact, peaks, strict=True)
    ]
    for s in plotted["series"]:
        marks = page.marks(s["endpoint"])
        assert [float(m.attrs["data-end"]) for m in marks] == plotted["times"]
        for mark, point in zip(marks, s["points"], strict=True):
            assert float(mark.attrs["data-count"]) == point["count"]
            assert float(mark.attrs["data-low"]) == point["low"]
            assert float(mark.attrs["data-high"]) == upper(point["high"])
    metrics = ok_json(["metrics", "--json"])
    rows = dict(page.rows("metrics-table"))
    assert list(rows) == list(metrics)
    for name in ("total_hits", "bad_lines", "late_hits", "endpoints_count", "memory_entries"):
        assert rows[name] == str(metrics[name])
    assert rows["strategy"] == strategy


def test_a_database_states_page_gives_the_sizes_metrics_gives(
    state_env: Path, tmp_path: Path
) -> None:
    """SQLite: the files' sizes, as `metrics` reads them, not the strategy's estimate."""
    state = ["--state", str(tmp_path / "state.db")]
    ok([*state, "replay", str(SAMPLES / "web.ndjson"), "-s", "sliding"])
    out = tmp_path / "report.html"
    ok([*state, "report", str(out), "--last", "1h"])
    rows = dict(Page.parse(out.read_text()).rows("metrics-table"))
    metrics = ok_json([*state, "metrics", "--json"])
    assert list(rows) == list(metrics)
    for name in ("state_bytes", "database_bytes", "wal_bytes", "distinct_bytes"):
        assert rows[name] == str(metrics[name])


def test_morris_reports_totals_and_says_it_keeps_no_time(state_env: Path, tmp_path: Path) -> None:
    ok(["replay", str(SAMPLES / "web.ndjson"), "-s", "morris"])
    out = tmp_path / "report.html"
    ok(["report", str(out), "-n", "3"])
    page = Page.parse(out.read_text())
    assert page.all("svg") == []
    assert "morris keeps no time" in page.text and "95% interval" in page.text
    top = ok_json(["top", "--last", "1h", "--limit", "3", "--json"])
    assert [row[1:3] for row in page.rows("top-table")] == [
        [r["endpoint"], number(r["count"])] for r in top
    ]


def test_dash_writes_the_page_to_stdout(state_env: Path, tmp_path: Path) -> None:
    write_ndjson(tmp_path / "t.ndjson", [("/api", 1000.0), ("/api", 1030.0), ("/x", 1050.0)])
    ok(["replay", str(tmp_path / "t.ndjson")])
    ok(["report", str(tmp_path / "r.html"), "--last", "60", "--step", "10"])
    printed = ok(["report", "-", "--last", "60", "--step", "10"]).stdout
    assert printed == (tmp_path / "r.html").read_text()
    assert printed.startswith("<!DOCTYPE html>")


def test_a_report_is_replaced_atomically(state_env: Path, tmp_path: Path) -> None:
    write_ndjson(tmp_path / "t.ndjson", [("/api", 1000.0), ("/x", 1050.0)])
    ok(["replay", str(tmp_path / "t.ndjson")])
    out = tmp_path / "out" / "r.html"
    out.parent.mkdir()
    ok(["report", str(out), "-n", "1"])
    ok(["report", str(out), "-n", "2"])
    assert len(Page.parse(out.read_text()).rows("top-table")) == 2
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as a file open() creates


def test_bad_outputs_are_clear_errors_and_touch_nothing(state_env: Path, tmp_path: Path) -> None:
    write_ndjson(tmp_path / "t.ndjson", [("/api", 1000.0)])
    ok(["replay", str(tmp_path / "t.ndjson")])
    state = state_env.read_bytes()
    missing = tmp_path / "no" / "such" / "r.html"
    assert_error(run(["report", str(missing)]), 8, "cannot write the report: No such file")
    assert_error(run(["report", str(tmp_path)]), 8, "is a directory")
    assert_error(run(["report", str(state_env)]), 8, "exists and is not a hitcount report")
    assert state_env.read_bytes() == state
    assert not missing.parent.exists()


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--last", "1h", "--step", "7m"], 2, "whole number of --step"),
        (["--last", "1d", "--step", "1m"], 2, "1,440 points; the most is 720"),
        (["--top", "0"], 2, "--top must be between 1 and 100"),
        (["--last", "soon"], 2, "--last"),
        (["--now", "yesterday"], 2, "--now"),
    ],
)
def test_bad_options_are_usage_errors_and_write_nothing(
    state_env: Path, tmp_path: Path, args: list[str], code: int, fragment: str
) -> None:
    write_ndjson(tmp_path / "t.ndjson", [("/api", 1000.0)])
    ok(["replay", str(tmp_path / "t.ndjson")])
    assert_error(run(["report", str(tmp_path / "r.html"), *args]), code, fragment)
    assert not (tmp_path / "r.html").exists()


def test_no_saved_state_is_a_state_error(state_env: Path, tmp_path: Path) -> None:
    assert_error(run(["report", str(tmp_path / "r.html")]), 4, "no saved state")
    assert not (tmp_path / "r.html").exists()
