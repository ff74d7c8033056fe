"""`replay --key TEMPLATE --where FILTER`: keys and filters against brute force, remembered.

The real nginx log is read here with this file's own regular expression and `datetime`;
NDJSON with the json module, CSV with the csv module.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from tests.cli_helpers import assert_error, ok, ok_json, run
from tests.conftest import REAL_LOGS, SAMPLES, fresh_namespace

NGINX = REAL_LOGS / "elastic_nginx_logs_2015-05.log.gz"
ALL_TIME = ["-s", "sliding", "--max-window", "1e9"]
_LINE = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) ')


def nginx_lines() -> list[dict[str, object]]:
    rows = []
    with gzip.open(NGINX, "rt", encoding="utf-8") as handle:
        for line in handle:
            found = _LINE.match(line)
            assert found is not None, line  # this log has no odd lines
            host, when, method, target, status = found.groups()
            ts = datetime.strptime(when, "%d/%b/%Y:%H:%M:%S %z").timestamp()
            path = target.split("?")[0]
            rows.append({"host": host, "ts": ts, "method": method, "path": path,
                         "status": int(status)})  # fmt: skip
    return rows


def counts() -> dict[str, int]:
    rows = ok_json(["top", "--last", "1000d", "-n", "100000", "--json"])
    return {row["endpoint"]: row["count"] for row in rows}


needs_logs = pytest.mark.skipif(not NGINX.exists(), reason="the real logs are not here")


@needs_logs
@pytest.mark.parametrize(
    ("key", "where", "oracle"),
    [
        ("{status_class}", [], lambda r: f"{r['status'] // 100}xx"),
        ("{status}", [], lambda r: str(r["status"])),
        ("{method} {path}", ["status>=400"], lambda r: f"{r['method']} {r['path']}"
         if r["status"] >= 400 else None),
        ("{host}", ["method=HEAD"], lambda r: r["host"] if r["method"] == "HEAD" else None),
        ("{path}", ["status!=304", "path=/downloads/*_1"],
         lambda r: r["path"] if r["status"] != 304 and r["path"].endswith("_1") else None),
        ("{status_class}", ["status>=200", "status<300"],
         lambda r: "2xx" if 200 <= r["status"] < 300 else None),
    ],
)  # fmt: skip
def test_keys_and_filters_on_a_real_log_match_brute_force(
    key: str, where: list[str], oracle: object
) -> None:
    options = ["--key", key] + [arg for rule in where for arg in ("--where", rule)]
    ok(["replay", str(NGINX), *ALL_TIME, *options])
    expected = Counter(k for r in nginx_lines() if (k := oracle(r)) is not None)  # type: ignore[operator]
    assert counts() == dict(expected)


@needs_logs
def test_several_keys_count_each_line_once_under_each(tmp_path: Path) -> None:
    keys = ["--key", "{status_class}", "--key", "{method} {path}", "--where", "status>=400"]
    report = json.loads(ok(["replay", str(NGINX), *ALL_TIME, *keys, "--json"]).stdout)
    wanted = [r for r in nginx_lines() if int(str(r["status"])) >= 400]
    expected = Counter(f"{int(str(r['status'])) // 100}xx" for r in wanted)
    expected.update(f"{r['method']} {r['path']}" for r in wanted)
    assert counts() == dict(expected)
    assert report["hits_kept"] == 2 * len(wanted)  # one hit per key
    assert ok_json(["metrics", "--json"])["keys"] == (
        "keys {status_class} and {method} {path} where status>=400"
    )
    assert_error(run(["replay", str(NGINX), "--append", "--key", "{status_class}"]), 2,
                 "--append cannot change it")  # fmt: skip
    assert counts() == dict(expected)  # nothing saved
    source = tmp_path / "same.ndjson"  # keys that agree on a line: it counts once there
    source.write_text('{"endpoint": "/a", "ts": 1, "user": "/a"}\n'
                      '{"endpoint": "/a", "ts": 2, "user": "u"}\n')  # fmt: skip
    ok(["replay", str(source), *ALL_TIME, "--key", "{path}", "--key", "{user}"])
    assert counts() == {"/a": 2, "u": 1}


def test_ndjson_fields_by_name_and_nested(tmp_path: Path) -> None:
    rows = [
        {"endpoint": "/a", "ts": 100 + i, "user": f"u{i % 3}",
         "request": {"method": "GET" if i % 4 else "POST"}, "status": 200 + 100 * (i % 4)}
        for i in range(40)
    ]  # fmt: skip
    source = tmp_path / "n.ndjson"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ok(["replay", str(source), *ALL_TIME, "--key", "{request.method} {status_class}",
        "--where", "user!=u0"])  # fmt: skip
    expected = Counter(
        f"{r['request']['method']} {r['status'] // 100}xx"
        for r in rows
        if r["user"] != "u0"  # type: ignore[index]
    )
    assert counts() == dict(expected)


def test_sample_ndjson_users_of_a_glob() -> None:
    ok(["replay", str(SAMPLES / "web.ndjson"), *ALL_TIME, "--key", "{user}",
        "--where", "path=/api/*"])  # fmt: skip
    with (SAMPLES / "web.ndjson").open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    expected = Counter(r["user"] for r in rows if r["endpoint"].startswith("/api/"))
    assert counts() == dict(expected)


def test_csv_columns_by_header_name(tmp_path: Path) -> None:
    source = tmp_path / "h.csv"
    source.write_text("path,ts,Status\n/a,100,200\n/a,101,503\n/b,102,404\n/b,103,500\n")
    ok(["replay", str(source), *ALL_TIME, "--key", "{path} {status_class}",
        "--where", "status>=500"])  # fmt: skip
    assert counts() == {"/a 5xx": 1, "/b 5xx": 1}


@pytest.mark.parametrize("suffix", [".json", ".db"])  # the JSON document and SQLite
def test_the_state_remembers_its_keys_and_refuses_to_mix(
    tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITCOUNT_STATE", str(tmp_path / f"state{suffix}"))
    first = tmp_path / "a.ndjson"
    first.write_text("".join(json.dumps({"endpoint": "/x", "ts": t, "user": "u1"}) + "\n"
                             for t in (100, 101)))  # fmt: skip
    ok(["replay", str(first), *ALL_TIME, "--key", "{user}", "--where", "path=/x"])
    assert ok_json(["metrics", "--json"])["keys"] == "key {user} where path=/x"
    before = counts()
    assert before == {"u1": 2}
    for command in (["query", "u1"], ["top"], ["plot", "u1"]):  # every answer says so
        footer = ok([*command, "--last", "1000d"]).stderr
        assert "endpoints are key {user} where path=/x" in footer
    result = run(["replay", str(first), "--append", "--key", "{path}"])
    assert_error(result, 2, "--append cannot change it")
    assert counts() == before  # nothing saved
    ok(["replay", str(first), "--append", "--again"])  # the saved keys apply
    assert counts() == {"u1": 4}
    snapshot = tmp_path / "s.json"
    ok(["snapshot", "save", str(snapshot)])
    ok(["replay", str(first), *ALL_TIME])  # a new state: the default key
    assert "keys" not in ok_json(["metrics", "--json"])
    ok(["snapshot", "restore", str(snapshot)])
    assert ok_json(["metrics", "--json"])["keys"] == "key {user} where path=/x"


def test_a_line_without_the_keyed_field_is_a_bad_line(tmp_path: Path) -> None:
    source = tmp_path / "m.ndjson"
    source.write_text('{"endpoint": "/a", "ts": 1, "team": "x"}\n{"endpoint": "/b", "ts": 2}\n')
    result = ok(["replay", str(source), *ALL_TIME, "--key", "{team}", "--json"])
    assert json.loads(result.stdout)["bad_lines"] == 1
    assert "no field 'team' for --key {team}" in result.stderr
    assert counts() == {"x": 1}


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--key", "path"], "--key must name at least one field in braces"),
        (["--key", "{path}", "--key", "path"], "--key must name at least one field in braces"),
        (["--key", "{path}", "--key", "{path}"], "--key '{path}' is given twice"),
        (["--where", "status"], "--where must look like FIELD OP VALUE"),
        (["--where", "status>="], "--where must look like FIELD OP VALUE"),
    ],
)
def test_bad_keys_and_filters_are_usage_errors(
    tmp_path: Path, options: list[str], fragment: str
) -> None:
    source = tmp_path / "a.ndjson"
    source.write_text('{"endpoint": "/a", "ts": 1}\n')
    assert_error(run(["replay", str(source), *options]), 2, fragment)


@pytest.mark.skipif(not REAL_LOGS.is_dir(), reason="the real logs are not here")
@pytest.mark.parametrize("name", sorted(p.name for p in REAL_LOGS.glob("*.log.gz")))
def test_every_real_log_keeps_its_lines_under_a_key(name: str) -> None:
    """A key loses no line the default keeps: long paths are cut, not made bad lines."""
    source = str(REAL_LOGS / name)
    plain = json.loads(ok(["replay", source, "--json"]).stdout)
    keyed = json.loads(ok(["replay", source, "--key", "{method} {path}", "--json"]).stdout)
    assert (keyed["hits_kept"], keyed["bad_lines"]) == (plain["hits_kept"], plain["bad_lines"])


def test_a_redis_store_remembers_keys_as_a_state_file_does(redis_url: str, tmp_path: Path) -> None:
    source = tmp_path / "a.ndjson"
    source.write_text('{"endpoint": "/a", "ts": 1, "user": "u"}\n')
    every = (["--key", "{user}"], ["--where", "path=/a"], ["--field", "user=who"],
             ["--decode-paths"], ["--key", "{path}", "--key", "{user}"])  # fmt: skip
    for options in every:
        store = ["--store", redis_url, "--namespace", fresh_namespace()]
        state_file = ["--state", str(tmp_path / f"{fresh_namespace()}.json")]
        for where in (store, state_file):
            ok([*where, "replay", str(source), *options])
            ok(
                [*where, "replay", str(source), *options, "--append", "--again"]
            )  # same keys: accepted
        saved = [ok_json([*where, "metrics", "--json"]) for where in (store, state_file)]
        assert saved[0]["keys"] == saved[1]["keys"]
        assert saved[0]["total_hits"] == saved[1]["total_hits"]
        other = run([*store, "replay", str(source), "--key", "{status}", "--append", "--again"])
        assert_error(other, 2, "--append cannot change it")


def test_merge_keeps_the_keys_and_refuses_to_mix_them(tmp_path: Path) -> None:
    source = tmp_path / "a.ndjson"
    source.write_text('{"endpoint": "/a", "ts": 1, "user": "u"}\n{"endpoint": "/b", "ts": 2}\n')
    shards = []
    for name, options in (("k1", ["--key", "{user}"]), ("k2", ["--key", "{user}"]), ("p", [])):
        ok(["replay", str(source), *ALL_TIME, *options, "--json"])
        shards.append(str(tmp_path / f"{name}.json"))
        ok(["snapshot", "save", shards[-1]])
    merged = tmp_path / "merged.json"
    ok(["merge", shards[0], shards[1], "-o", str(merged)])
    ok(["snapshot", "restore", str(merged)])
    assert counts() == {"u": 2}  # the line without a user is a bad line under {user}
    assert ok_json(["metrics", "--json"])["keys"] == "key {user}"
    result = run(["merge", shards[0], shards[2], "-o", str(tmp_path / "mixed.json")])
    assert result.exit_code != 0
    assert "their endpoints cannot be merged" in result.stderr


def test_a_where_no_line_passes_is_refused_as_such(tmp_path: Path) -> None:
    """Every line filtered out is not "the input is empty": the error names the filters and
    the lines read, exit 3, and nothing is saved."""  # noqa: D205, D209
    state = tmp_path / "s.db"
    lines = len(nginx_lines())
    result = run(["--state", str(state), "replay", str(NGINX), "--where", "status>=400",
                  "--where", "method=NOSUCH"])  # fmt: skip
    assert_error(
        result, 3, f"no line passed --where 'status>=400' --where 'method=NOSUCH' ({lines}"
    )
    assert "the input is empty" not in result.stderr
    assert not state.exists()


def test_an_append_no_line_of_passes_the_states_where_keeps_the_state(tmp_path: Path) -> None:
    """The same refusal on `--append` (the state's own filters), the state unchanged."""
    errors = tmp_path / "errors.ndjson"
    errors.write_text("".join(json.dumps({"ts": 1e9 + k, "endpoint": "/a", "status": 500 + k % 3})
                              + "\n" for k in range(30)))  # fmt: skip
    fine = tmp_path / "fine.ndjson"
    fine.write_text("".join(json.dumps({"ts": 1e9 + 40 + k, "endpoint": "/a", "status": 200})
                            + "\n" for k in range(20)))  # fmt: skip
    state = ["--state", str(tmp_path / "s.db")]
    ok([*state, "replay", str(errors), "--where", "status>=500", *ALL_TIME])
    asked = [*state, "query", "/a", "--last", "1d", "--now", str(1e9 + 100), "--json"]
    before = ok_json(asked)
    assert before["count"] == 30
    result = run([*state, "replay", "--append", str(fine)])
    assert_error(result, 3, "no line passed --where 'status>=500' (20 lines read, 0 bad)")
    assert ok_json(asked) == before


@pytest.mark.parametrize("lines", [50, 3000])  # line by line, and through the block decoder
def test_a_number_bound_passes_only_numbers_and_a_text_bound_compares_text(
    tmp_path: Path, lines: int
) -> None:
    """`status>=500` counts the 5xx numbers (also as strings), never '-', 'abc' or true;
    `day>=2026-01-02` compares text. The oracle counts the lines by the same rule."""  # noqa: D205, D209
    statuses: list[object] = [503, "504", "-", "abc", True, 200, None, 599.0]
    days = ["2026-01-01", "2026-01-02", "2026-01-10", "2025-12-31"]
    rows = [{"ts": 1e9 + k, "endpoint": f"/e{k % 3}", "status": statuses[k % len(statuses)],
             "day": days[k % len(days)]} for k in range(lines)]  # fmt: skip
    log = tmp_path / "in.ndjson"
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))

    def numeric(value: object) -> bool:
        return (
            not isinstance(value, bool)
            and isinstance(value, int | float | str)
            and (
                str(value).replace(".", "", 1).isdigit() and float(value) >= 500  # type: ignore[arg-type]
            )
        )

    for where, expected in (
        ("status>=500", sum(numeric(row["status"]) for row in rows)),
        ("day>=2026-01-02", sum(str(row["day"]) >= "2026-01-02" for row in rows)),
    ):
        state = ["--state", str(tmp_path / f"{where[:3]}.db")]
        ok([*state, "replay", str(log), "--where", where, *ALL_TIME])
        assert ok_json([*state, "metrics", "--json"])["total_hits"] == expected


def test_a_where_glob_keeps_what_the_same_query_pattern_names(tmp_path: Path) -> None:
    """`--where 'path=/[x]'` kept `/x` but not the endpoint named `/[x]`, which `query '/[x]'`
    counts (QA K6): one rule for patterns, in filters too."""  # noqa: D205, D209
    log = tmp_path / "hits.ndjson"
    log.write_text("".join(f'{{"endpoint": "{e}", "ts": {1_795_000_000 + i}}}\n'
                           for i, e in enumerate(["/[x]", "/x", "/y", "/[x]"])))  # fmt: skip
    state = ["--state", str(tmp_path / "s.db")]
    ok([*state, "replay", str(log), "-s", "sliding", "--where", "path=/[x]"])
    kept = ok_json([*state, "top", "--last", "1d", "--json"])
    assert sorted((row["endpoint"], row["count"]) for row in kept) == [("/[x]", 2), ("/x", 1)]


def test_the_same_keys_and_filters_in_another_order_count_alike(tmp_path: Path) -> None:
    """Filters must all hold and a line counts under every key: their order changes no
    count, so an append or a merge giving them in another order is not refused (QA R5)."""  # noqa: D205, D209
    source = tmp_path / "a.ndjson"
    rows = [
        {"endpoint": "/a", "ts": t, "status": 200 + t % 3, "method": "GET"} for t in range(1, 7)
    ]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    one = [
        "--key",
        "{status}",
        "--key",
        "{method}",
        "--where",
        "method=GET",
        "--where",
        "status<202",
    ]
    other = [
        "--key",
        "{method}",
        "--key",
        "{status}",
        "--where",
        "status<202",
        "--where",
        "method=GET",
    ]
    shards = []
    for name, options in (("one", one), ("other", other)):
        state = ["--state", str(tmp_path / f"{name}.db")]
        ok([*state, "replay", str(source), *ALL_TIME, *options])
        ok(
            [
                *state,
                "replay",
                str(source),
                "--append",
                "--again",
                *(other if name == "one" else one),
            ]
        )
        shards.append(str(tmp_path / f"{name}.json"))
        ok([*state, "snapshot", "save", shards[-1]])
    merged = tmp_path / "merged.json"
    ok(["merge", *shards, "-o", str(merged)])
    ok(["--state", str(tmp_path / "m.db"), "snapshot", "restore", str(merged)])
    rows = ok_json(["--state", str(tmp_path / "m.db"), "top", "--last", "1000d", "--json"])
    assert {row["endpoint"]: row["count"] for row in rows} == {"200": 8, "201": 8, "GET": 16}


def test_a_request_for_star_keys_its_method_once(tmp_path: Path) -> None:
    """`OPTIONS *` counts as `OPTIONS *` (a bare `*` would be a glob); `{method} {path}` gave
    `OPTIONS OPTIONS *` (QA R6)."""  # noqa: D205, D209
    log = tmp_path / "a.log"
    log.write_text(
        '1.2.3.4 - - [27/Nov/2026:12:00:00 +0000] "OPTIONS * HTTP/1.0" 200 5 "-" "x"\n'
        '1.2.3.4 - - [27/Nov/2026:12:00:01 +0000] "GET /a HTTP/1.0" 200 5 "-" "x"\n'
    )
    ok(["replay", str(log), *ALL_TIME, "--key", "{method} {path}"])
    assert counts() == {"OPTIONS *": 1, "GET /a": 1}
    ok(["replay", str(log), *ALL_TIME, "--key", "{path} {status}"])
    assert counts() == {"OPTIONS * 200": 1, "/a 200": 1}
