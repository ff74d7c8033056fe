"""`replay --log-format`: nginx `log_format` and Apache `LogFormat` layouts."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from tests.cli.test_keys import NGINX, counts, needs_logs, nginx_lines
from tests.cli_helpers import assert_error, ok, ok_json, run
from tests.conftest import fresh_namespace

ALL_TIME = ["-s", "sliding", "--max-window", "1e9"]
NGINX_COMBINED = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent'
    ' "$http_referer" "$http_user_agent"'
)
APACHE_COMBINED = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'


@needs_logs
@pytest.mark.parametrize("layout", [NGINX_COMBINED, APACHE_COMBINED])
def test_a_real_log_read_by_its_layout_matches_brute_force(layout: str) -> None:
    ok(["replay", str(NGINX), *ALL_TIME, "--log-format", layout, "--key", "{method} {path}"])
    expected = Counter(f"{r['method']} {r['path']}" for r in nginx_lines())
    assert counts() == dict(expected)


LINES = [
    '10.0.0.1 [27/Nov/2026:12:00:00 +0000] "GET /api/x?y=1 HTTP/1.1" 200 0.012 "curl/8"',
    '10.0.0.2 [27/Nov/2026:13:00:01 +0100] "POST /api/login HTTP/1.1" 503 1.5 "Mozilla"',
    '10.0.0.2 [27/Nov/2026:12:00:02 +0000] "POST /api/login HTTP/1.1" 401 0.2 "Mozilla"',
    "not this layout",
]
CUSTOM = '$remote_addr [$time_local] "$request" $status $request_time "$http_user_agent"'


@pytest.fixture
def custom_log(tmp_path: Path) -> Path:
    path = tmp_path / "custom.log"
    path.write_text("\n".join(LINES) + "\n")
    return path


def test_a_custom_layout_gives_hits_and_fields(custom_log: Path) -> None:
    result = ok(["replay", str(custom_log), *ALL_TIME, "--log-format", CUSTOM])
    assert "3 hits kept" in result.stdout and "1 bad line" in result.stdout
    assert "line does not have the --log-format layout" in result.stderr
    assert counts() == {"/api/x": 1, "/api/login": 2}
    ok(["replay", str(custom_log), *ALL_TIME, "--log-format", CUSTOM,
        "--key", "{request_method} {status_class} {http_user_agent}",
        "--where", "request_time>1"])  # fmt: skip
    assert counts() == {"POST 5xx Mozilla": 1}  # 1.5 s; 13:00:01+01:00 is 12:00:01Z
    ok(["replay", str(custom_log), *ALL_TIME, "--log-format", CUSTOM, "--key", "{host}"])
    assert counts() == {"10.0.0.1": 1, "10.0.0.2": 2}


@pytest.mark.parametrize(
    ("layout", "fragment"),
    [
        ('$remote_addr "$request"', "--log-format needs a time"),
        ("$remote_addr [$time_local]", "--log-format needs a request"),
        ('%h %t "%r" %Z', "--log-format: unknown directive %Z"),
    ],
)
def test_bad_layouts_are_usage_errors(custom_log: Path, layout: str, fragment: str) -> None:
    assert_error(run(["replay", str(custom_log), "--log-format", layout]), 2, fragment)


def test_format_and_log_format_exclude_each_other(custom_log: Path) -> None:
    result = run(["replay", str(custom_log), "--format", "combined", "--log-format", CUSTOM])
    assert_error(result, 2, "--format and --log-format exclude each other")


def test_a_time_local_offset_no_place_uses_is_a_bad_line(tmp_path: Path) -> None:
    """As in the combined format (QA G8): `+2359` is a bad timestamp, `+1400` a real offset."""
    log = tmp_path / "odd.log"
    log.write_text(
        '1.2.3.4 [27/Nov/2026:12:00:00 +2359] "GET /a HTTP/1.1" 200\n'
        '1.2.3.4 [27/Nov/2026:12:00:00 +1400] "GET /b HTTP/1.1" 200\n'
    )
    layout = '$remote_addr [$time_local] "$request" $status'
    state = ["--state", str(tmp_path / "s.json")]
    result = ok([*state, "replay", str(log), "--log-format", layout, "-s", "sliding"])
    assert "odd.log:1: bad timestamp" in result.stderr
    assert "1 hit kept" in result.stdout and "1 bad line" in result.stdout


def test_a_log_no_line_of_which_fits_the_layout_hints_at_the_layout(tmp_path: Path) -> None:
    log = tmp_path / "other.log"
    log.write_text("not this layout\nnor this\n")
    result = run(["--state", str(tmp_path / "s.db"), "replay", str(log), "--log-format", CUSTOM])
    assert result.exit_code == 3
    assert "no hits: all 2 lines are bad" in result.stderr
    assert "hint: nothing was saved; is the --log-format layout the log's?" in result.stderr


VHOSTS = NGINX_COMBINED + " $host"


@pytest.fixture(params=["state.db", "state.json", "redis"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> list[str]:
    """A SQLite state, a JSON state, a Redis namespace."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        return ["--store", url, "--namespace", fresh_namespace()]
    return ["--state", str(tmp_path / request.param)]


def _vhost_line(second: int, vhost: str) -> str:
    return (f'1.2.3.4 - - [27/Nov/2026:12:00:{second:02d} +0000] "GET /a HTTP/1.1" 200 5 "-"'
            f' "ua" {vhost}\n')  # fmt: skip


def test_the_layout_keys_were_read_with_is_remembered(where: list[str], tmp_path: Path) -> None:
    """`{host}` is the vhost under a layout with `$host`, the client under the built-in
    parser: an append without `--log-format` read the log as combined and counted client
    addresses as vhosts (QA R1). The saved layout reads it; another way is refused."""  # noqa: D205, D209
    days = []
    for day, vhost in enumerate(["shop.example.com", "blog.example.com", "shop.example.com"]):
        days.append(tmp_path / f"day{day}.log")
        days[-1].write_text(_vhost_line(day, vhost))
    ok([*where, "replay", str(days[0]), *ALL_TIME, "--log-format", VHOSTS, "--key", "{host}"])
    ok([*where, "replay", "--append", str(days[1])])  # the saved layout reads it
    ok([*where, "replay", "--append", str(days[2]), "--key", "{host}"])  # the same keys
    top = ok_json([*where, "top", "--last", "1000d", "--json"])
    assert {row["endpoint"]: row["count"] for row in top} == {
        "shop.example.com": 2, "blog.example.com": 1
    }  # fmt: skip
    for other in (["--format", "combined"], ["--log-format", NGINX_COMBINED]):
        refused = run([*where, "replay", "--append", "--again", str(days[0]), *other])
        assert_error(refused, 2, "--append cannot read its lines with")
    refused = run([*where, "replay", "--append", "--again", str(days[0]), "--key", "{host}",
                   "--log-format", NGINX_COMBINED])  # fmt: skip
    assert_error(refused, 2, "--append cannot change it")
    assert ok_json([*where, "metrics", "--json"])["total_hits"] == 3  # nothing saved


def test_keys_saved_without_a_layout_take_the_one_given_then_keep_it(tmp_path: Path) -> None:
    """A state whose keys were read with no layout (by the built-in parser, or saved before
    layouts were kept) takes the layout an append gives and keeps it from then on (QA S2: a
    state saved before could not be appended with its own layout any more)."""  # noqa: D205, D209
    state = ["--state", str(tmp_path / "s.db")]
    log = tmp_path / "a.log"
    log.write_text(_vhost_line(0, "shop.example.com"))
    ok([*state, "replay", str(log), *ALL_TIME, "--log-format", VHOSTS, "--key", "{host}"])
    db = sqlite3.connect(tmp_path / "s.db")  # as a state saved before layouts were kept
    (keys,) = db.execute("SELECT value FROM meta WHERE key = 'keys'").fetchone()
    db.execute("UPDATE meta SET value = ? WHERE key = 'keys'", (json.dumps({"key": "{host}",
               "where": []}),))  # fmt: skip
    db.commit()
    db.close()
    assert "log_format" in json.loads(keys)
    apache = '%h %l %u %t \\"%r\\" %>s %b \\"%{referer}i\\" \\"%{user-agent}i\\" %{HOST}i'
    ok([*state, "replay", "--append", "--again", str(log), "--log-format", apache])
    ok([*state, "replay", "--append", "--again", str(log)])  # the layout it took reads it
    same = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %{Host}i'  # spelled anew
    ok([*state, "replay", "--append", "--again", str(log), "--log-format", same])
    for other in (["--format", "combined"], ["--log-format", VHOSTS]):  # `-` is no %l
        refused = run([*state, "replay", "--append", "--again", str(log), *other])
        assert_error(refused, 2, "--append cannot read its lines with")
    top = ok_json([*state, "top", "--last", "1000d", "--json"])
    assert {row["endpoint"]: row["count"] for row in top} == {"shop.example.com": 4}


def test_paths_may_be_read_by_any_layout(tmp_path: Path) -> None:
    """Without keys or filters the path is the path: no layout is kept or asked for."""
    state = ["--state", str(tmp_path / "s.db")]
    log = tmp_path / "a.log"
    log.write_text(_vhost_line(0, "shop.example.com"))
    ok([*state, "replay", str(log), *ALL_TIME, "--log-format", VHOSTS])
    ok([*state, "replay", "--append", "--again", str(log), "--log-format", NGINX_COMBINED])
    assert "keys" not in ok_json([*state, "metrics", "--json"])
    assert ok_json([*state, "metrics", "--json"])["total_hits"] == 2


LINE = ('www.example.com:443 1.2.3.4 - - [27/Nov/2026:12:00:00 +0000] "GET /a?x HTTP/1.1" 200 5'
        ' 731 "-" "ua/1" 1500 100%')  # fmt: skip


@pytest.mark.parametrize(
    ("layout", "key", "expected"),
    [
        ('%v:%p %h %l %u %t "%r" %>s %b %O "%{Referer}i" "%{User-agent}i" %{ms}T 100%%',
         "{host} {server_port} {http_user_agent} {bytes_sent} {request_time_ms}",
         "www.example.com 443 ua/1 731 1500"),
        ('%V:%{canonical}p %a %l %u %t \\"%r\\" %s %B %I \\"%{referer}i\\" \\"%{USER-AGENT}i\\" %D'
         " 100%%", "{remote_addr} {status} {bytes_received} {http_user_agent} {request_time_us}",
         "1.2.3.4 200 731 ua/1 1500"),
    ],
)  # fmt: skip
def test_apache_layouts_as_servers_ship_them(
    tmp_path: Path, layout: str, key: str, expected: str
) -> None:
    r"""vhost_combined (`%v:%p`, `%O`), header names in any case, `%{ms}T`, `%%`, and `\"`
    copied from httpd.conf were refused or made every line bad (QA R3)."""  # noqa: D205, D209
    log = tmp_path / "a.log"
    log.write_text(LINE + "\n")
    ok(["replay", str(log), *ALL_TIME, "--log-format", layout, "--key", key])
    assert counts() == {expected: 1}


def test_an_apache_time_of_another_format_is_a_usage_error(custom_log: Path) -> None:
    result = run(["replay", str(custom_log), "--log-format", '%h %{%d/%m/%Y}t "%r" %>s'])
    assert_error(result, 2, "unknown directive %{%d/%m/%Y}t")
    assert "%{sec}t" in result.stderr


def test_one_layout_in_nginx_or_apache_spelling_is_one(tmp_path: Path) -> None:
    """`$host` and `${host}`, and an Apache layout and its nginx twin, compare as one
    (QA 16 T4)."""  # noqa: D205, D209
    state = ["--state", str(tmp_path / "s.db")]
    log = tmp_path / "a.log"
    log.write_text('1.2.3.4 [27/Nov/2026:12:00:00 +0000] "GET /a HTTP/1.1" 200 shop.example.com\n')
    nginx = '$remote_addr [$time_local] "$request" $status $host'
    ok([*state, "replay", str(log), *ALL_TIME, "--log-format", nginx, "--key", "{host}"])
    for same in ('${remote_addr} [${time_local}] "${request}" ${status} ${host}',
                 '%h %t "%r" %>s %{Host}i'):  # fmt: skip
        ok([*state, "replay", "--append", "--again", str(log), "--log-format", same])
    assert ok_json([*state, "metrics", "--json"])["total_hits"] == 3
