"""`replay --decode-paths`: percent-decoding and `//` collapsed, against `urllib.parse.unquote`.

The oracle decodes each raw endpoint of a plain replay with `unquote(errors="strict")` (a path
that is not UTF-8 once decoded stays as written), collapses `//` by repeated replacement, and
sums the raw counts under the decoded names: a replay with `--decode-paths` must give the same.
"""

from __future__ import annotations

import json
from collections import Counter
from contextlib import suppress
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.cli_helpers import assert_error, ok, ok_json, run
from tests.conftest import REAL_LOGS

ALL_TIME = ["-s", "sliding", "--max-window", "1e9"]
LOGS = ["wordpress_hackathon_nginx_2025", "honeynet_rh71_httpd_access_2004",
        "monitorware_twiki_access_log_2004", "elastic_apache_logs_2015-05",
        "nasa_http_aug95_first20k"]  # fmt: skip


def oracle(path: str) -> str:
    """`path` decoded by the standard library, then every `//` made `/`."""
    with suppress(UnicodeDecodeError):
        path = unquote(path, errors="strict")
    while "//" in path:
        path = path.replace("//", "/")
    return path


def counts() -> dict[str, int]:
    rows = ok_json(["top", "--last", "100000d", "-n", "1000000", "--json"])
    return {row["endpoint"]: row["count"] for row in rows}


def replay(source: Path | str, *options: str) -> dict[str, int]:
    ok(["replay", str(source), *ALL_TIME, *options])
    return counts()


@pytest.mark.parametrize("name", LOGS)
def test_real_logs_decode_as_unquote_does(name: str) -> None:
    source = REAL_LOGS / f"{name}.log.gz"
    if not source.exists():
        pytest.skip("the real logs are not here")
    raw = replay(source)
    expected: Counter[str] = Counter()
    for endpoint, count in raw.items():
        expected[oracle(endpoint)] += count
    assert expected != Counter(raw)  # this log has paths that decoding changes
    assert replay(source, "--decode-paths") == dict(expected)


def test_odd_escapes_by_hand(tmp_path: Path) -> None:
    paths = {
        "/a%20b": "/a b",  # decoded
        "/a b": "/a b",  # the same endpoint once decoded
        "//x///y%2F%2Fz": "/x/y/z",  # `//` collapsed, also when it comes from %2F
        "/caf%C3%A9": "/café",  # UTF-8
        "/bad%zz%4": "/bad%zz%4",  # not an escape: as written
        "/q%3Fa+b": "/q?a+b",  # `+` is no space in a path
        "/latin%E9//x": "/latin%E9/x",  # not UTF-8 once decoded: undecoded, `//` collapsed
        "/half%C3": "/half%C3",  # a cut UTF-8 sequence: undecoded
    }
    source = tmp_path / "odd.ndjson"
    source.write_text("".join(json.dumps({"endpoint": p, "ts": 100 + i}) + "\n"
                              for i, p in enumerate(paths)))  # fmt: skip
    assert replay(source) == dict.fromkeys(paths, 1)  # off by default: as written
    expected = Counter(paths.values())
    assert replay(source, "--decode-paths") == dict(expected)
    assert {oracle(raw) for raw in paths} == set(expected)  # the table agrees with the oracle
    where = replay(source, "--decode-paths", "--where", "path=/a b", "--key", "{path}!")
    assert where == {"/a b!": 2}  # filters and keys see the decoded path


def test_the_state_remembers_decoding_and_refuses_to_mix(tmp_path: Path) -> None:
    source = tmp_path / "a.ndjson"
    source.write_text(json.dumps({"endpoint": "/a%2Fb", "ts": 100}) + "\n")
    assert replay(source, "--decode-paths") == {"/a/b": 1}
    assert ok_json(["metrics", "--json"])["keys"] == "key {path} paths decoded"
    assert "paths decoded" in ok(["top", "--last", "1000d"]).stderr
    ok(["replay", str(source), "--append", "--again"])  # the saved decoding applies
    assert counts() == {"/a/b": 2}
    ok(["replay", str(source), *ALL_TIME])  # a new state: as written
    assert counts() == {"/a%2Fb": 1}
    assert "keys" not in ok_json(["metrics", "--json"])
    result = run(["replay", str(source), "--append", "--decode-paths"])
    assert_error(result, 2, "--append cannot change it")
    assert "without --key/--where/--field/--decode-paths" in result.stderr  # the hint
    assert counts() == {"/a%2Fb": 1}  # nothing saved
