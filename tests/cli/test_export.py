"""`hitcount export`: read back by Prometheus's own parser (prometheus_client), by brute force."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hitcount.model.inert import unambiguous
from tests.cli.conftest import HAND_HITS, SLIDING
from tests.cli_helpers import assert_error, ok, run, write_ndjson
from tests.conftest import SAMPLES

WEB = SAMPLES / "web.ndjson"


def parsed(text: str) -> dict[str, dict[tuple[str, str], float]]:
    """Every sample by metric name, then (endpoint, window) labels, as Prometheus reads it."""
    found: dict[str, dict[tuple[str, str], float]] = defaultdict(dict)
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge", family.name
        assert family.documentation, family.name  # every metric has its HELP
        for sample in family.samples:
            key = (sample.labels.get("endpoint", ""), sample.labels["window"])
            found[sample.name][key] = sample.value
    return found


def brute_force(start: float, end: float) -> dict[str, tuple[int, set[str]]]:
    groups: dict[str, tuple[int, set[str]]] = defaultdict(lambda: (0, set()))
    with WEB.open(encoding="utf-8") as handle:
        for row in map(json.loads, handle):
            if start < row["ts"] <= end:
                hits, users = groups[row["endpoint"]]
                groups[row["endpoint"]] = (hits + 1, users | {row["user"]})
    return dict(groups)


@pytest.mark.parametrize(("last", "label", "seconds"), [("1m", "1m", 60), ("90s", "90s", 90),
                                                         ("1h30m", "90m", 5400)])  # fmt: skip
def test_export_parses_and_matches_brute_force(last: str, label: str, seconds: int) -> None:
    ok(["replay", str(WEB), "-s", "sliding", "--max-window", "86400"])
    metrics = parsed(ok(["export", "--prometheus", "--last", last]).stdout)
    clock = max(json.loads(line)["ts"] for line in WEB.read_text().splitlines())
    expected = brute_force(clock - seconds, clock)
    assert metrics["hitcount_hits"] == {(ep, label): hits for ep, (hits, _) in expected.items()}
    for (endpoint, _), value in metrics["hitcount_hits"].items():
        key = (endpoint, label)
        assert metrics["hitcount_hits_low"][key] == metrics["hitcount_hits_high"][key] == value
        assert metrics["hitcount_hits_exact"][key] == 1
        assert metrics["hitcount_hits_per_second"][key] == pytest.approx(value / seconds)
        true_users = len(expected[endpoint][1])
        low, high = (metrics[f"hitcount_distinct_users{end}"][key] for end in ("_low", "_high"))
        assert low <= true_users <= high
    assert metrics["hitcount_window_end_timestamp_seconds"] == {("", label): clock}


def test_unknown_upper_bounds_are_plus_inf_and_names_are_escaped(tmp_path: Path) -> None:
    odd = ['/a"b', "/c\\d", "/e\nf", "/ü ✓"]
    hits = [*HAND_HITS, *((name, 1990.0) for name in odd)]
    ok(["replay", str(write_ndjson(tmp_path / "h.ndjson", hits)), "-s", "sliding",
        "--max-window", "300", "--max-lateness", "0"])  # fmt: skip
    metrics = parsed(ok(["export", "--last", "1h"]).stdout)
    for name in odd:  # the parser gives back the names as the tables show them
        assert metrics["hitcount_hits"][(unambiguous(name), "1h")] == 1
    assert ("/c\\\\d", "1h") in metrics["hitcount_hits"]  # a backslash doubled
    assert math.isinf(metrics["hitcount_hits_high"][("/api/login", "1h")])
    assert metrics["hitcount_hits_exact"][("/api/login", "1h")] == 0
    assert "hitcount_distinct_users" not in metrics  # no users in these lines


def test_export_to_a_file_for_the_textfile_collector(tmp_path: Path) -> None:
    ok(["replay", str(write_ndjson(tmp_path / "h.ndjson", HAND_HITS)), *SLIDING])
    target = tmp_path / "hitcount.prom"
    target.write_text("# HELP hitcount_hits an older export\n")
    result = ok(["export", "/api/*", "--depth", "1", "--last", "301", "-o", str(target)])
    assert "wrote" in result.stderr
    metrics = parsed(target.read_text())
    assert metrics["hitcount_hits"] == {("/api", "301s"): 4}  # 1700, 1750, 1800, 2000
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    missing = tmp_path / "nowhere" / "hitcount.prom"
    assert_error(run(["export", "-o", str(missing)]), 8, "cannot write the export")
    assert parsed(target.read_text())["hitcount_hits"] == {("/api", "301s"): 4}  # still whole


#: A label value in the text exposition format: only \\, \" and \n may follow a backslash
#: (Prometheus's Go parser, the one node exporter and the pushgateway run, drops the whole
#: file at any other escape).
_LABEL_VALUE = r'"((?:[^"\\\n]|\\[\\"n])*)"'


def test_unprintable_endpoints_export_as_escapes_the_strict_parser_accepts(tmp_path: Path) -> None:
    import re

    names = ["/csi\u009b31m", "/ls\u2028x", "/ctl\x02\x1b[2J", '/q"uote\\d', "/nl\nx", "/\udc90raw"]
    names += ["/a\tb", "/a\\tb"]  # a TAB, and a backslash and t: two labels
    log = tmp_path / "e.ndjson"
    log.write_text(
        "".join(json.dumps({"endpoint": n, "ts": 1_000 + i}) + "\n" for i, n in enumerate(names)),
        encoding="utf-8",
        errors="surrogatepass",
    )
    state = ["--state", str(tmp_path / "s.json")]
    ok([*state, "replay", str(log)])
    text = ok([*state, "export", "*", "--last", "1h"]).stdout
    found = set()
    for line in text.splitlines():
        if line.startswith("hitcount_hits{"):
            match = re.fullmatch(r"hitcount_hits\{endpoint=" + _LABEL_VALUE + r",window=" +
                                 _LABEL_VALUE + r"\} \S+", line)  # fmt: skip
            assert match is not None, line
            value = re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m[1], m[1]), match[1])
            found.add(value)
    endpoints = [row["endpoint"] for row in ok_json_rows(state)]
    assert found == {unambiguous(name) for name in endpoints}
    assert len(found) == len(endpoints) and {"/a\\tb", "/a\\\\tb"} <= found


def ok_json_rows(state: list[str]) -> list[dict[str, str]]:
    return list(json.loads(ok([*state, "top", "--last", "1h", "--json"]).stdout))


def test_a_morris_state_is_not_exported_as_window_counts(tmp_path: Path) -> None:
    state = ["--state", str(tmp_path / "m.json")]
    ok([*state, "replay", str(WEB), "-s", "morris"])
    result = run([*state, "export", "*", "--last", "1m"])
    assert_error(result, 2, "morris keeps no time: its counts are of all hits ever recorded")
    assert result.stdout == ""


def test_export_replaces_only_an_export_or_an_empty_file(tmp_path: Path) -> None:
    """`-o` onto the state itself, another state or a user's file is refused (exit 8)."""
    state = tmp_path / "s.db"
    ok(["--state", str(state), "replay", str(write_ndjson(tmp_path / "h.ndjson", HAND_HITS)),
        *SLIDING])  # fmt: skip
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for target in (state, notes):
        before = target.read_bytes()
        error = run(["--state", str(state), "export", "-o", str(target)])
        assert_error(error, 8, "exists and is not a hitcount export; left as it is")
        assert target.read_bytes() == before
    ok(["--state", str(state), "query", "/api/login"])  # the state still answers
    for existing in ("", "# HELP hitcount_hits old\n"):  # empty, or an older export
        prom = tmp_path / "hitcount.prom"
        prom.write_text(existing)
        ok(["--state", str(state), "export", "-o", str(prom)])
        assert "hitcount_hits{" in prom.read_text()


def test_outputs_never_replace_a_device_or_a_fifo(tmp_path: Path) -> None:
    """A rename would put a file in place of `/dev/null` or a FIFO (and reading a FIFO to
    check it would block): `export -o`, `snapshot save` and `merge -o` refuse them."""  # noqa: D205, D209
    import os

    state = tmp_path / "s.db"
    ok(["--state", str(state), "replay", str(write_ndjson(tmp_path / "h.ndjson", HAND_HITS)),
        *SLIDING])  # fmt: skip
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    device = tmp_path / "null"
    device.symlink_to("/dev/null")
    for target in (fifo, device):
        for command in (["export", "-o", str(target)], ["snapshot", "save", str(target)],
                        ["merge", str(state), "-o", str(target)]):  # fmt: skip
            error = run(["--state", str(state), *command])
            assert_error(error, 8, "is not a regular file (a device, FIFO or socket)")
    assert fifo.is_fifo() and device.is_symlink() and Path("/dev/null").is_char_device()
