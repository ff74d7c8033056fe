"""Access-log format tests: the oddities of real logs, the real logs, fuzzing."""

from __future__ import annotations

import gzip
import json
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hitcount.ingest import lines as fast
from hitcount.ingest.formats.access_log import parse_combined, parse_common, sniff_access_log
from hitcount.model.hits import (
    MAX_ENDPOINT_CHARS,
    MAX_TS,
    TRUNCATED_MARK,
    BadLine,
    Hit,
    epoch_from_iso,
)
from tests.cli_helpers import ok
from tests.conftest import REAL_LOGS

REAL = REAL_LOGS
needs_real_logs = pytest.mark.skipif(
    not REAL.is_dir() and os.environ.get("CI") != "true",
    reason=f"real access logs not found in {REAL} (set HITCOUNT_REAL_LOGS)",
)

# --------------------------------------------------------------------------------------------
# Hand-written cases: the exact lines quoted in shared/data/real/SOURCES.md (or the real line
# they point to), with the epoch computed by hand: e.g. 22/Apr/2004:11:53:29 -0400 is
# 2004-04-22T15:53:29Z = 12530 days * 86400 + 15:53:29 = 1082592000 + 57209 = 1082649209.
# --------------------------------------------------------------------------------------------

NIKTO = b' "-" "Mozilla/4.75 (Nikto/1.32 )"'

HITS: list[tuple[str, bytes, str, float, str]] = [
    (
        "classic CLF example with -0700 offset",
        b'127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
        "/apache_pb.gif",
        971211336.0,  # 2000-10-10T20:55:36Z
        "127.0.0.1",
    ),
    (
        "1: escaped quote in the request (file 5 line 663)",
        b"68.49.152.86 - - [22/Apr/2004:11:53:29 -0400] "
        b'"GET /%0a%0a<script>alert(\\"Vulnerable\\")</script>.jsp HTTP/1.0" 404 328' + NIKTO,
        '/%0a%0a<script>alert(\\"Vulnerable\\")</script>.jsp',
        1082649209.0,  # 2004-04-22T15:53:29Z
        "68.49.152.86",
    ),
    (
        "1: unescaped quote in the request (file 5 line 1044)",
        b"68.49.152.86 - - [22/Apr/2004:11:55:13 -0400] "
        b'"GET" /hostadmin/?page=\' HTTP/1.0" 501 345' + NIKTO,
        "/hostadmin/",
        1082649313.0,  # 2004-04-22T15:55:13Z
        "68.49.152.86",
    ),
    (
        "1: \\xHH escapes in the referer (file 1 line 5851)",
        b'201.242.142.135 - - [19/May/2015:11:05:10 +0000] "GET /files/logstash/ HTTP/1.0" 200 '
        b'13316 "http://\\xe4\\xe5\\xe3\\xf2\\xff\\xf0\\xed\\xee\\xe5-\\xec\\xfb\\xeb\\xee.\\xf0'
        b'\\xf4/" "Mozilla/5.0 (Windows NT 6.1; rv:11.0) Gecko/20100101 Firefox/11.0"',
        "/files/logstash/",
        1432033510.0,  # 2015-05-19T11:05:10Z
        "201.242.142.135",
    ),
    (
        "2: - size, DNS host (file 3 line 159)",
        b'gw1.att.com - - [01/Aug/1995:00:03:53 -0400] "GET /shuttle/missions/sts-73/news '
        b'HTTP/1.0" 302 -',
        "/shuttle/missions/sts-73/news",
        807249833.0,  # 1995-08-01T04:03:53Z
        "gw1.att.com",
    ),
    (
        "3: IPv6 host (file 2 line 3894)",
        b"2001:4801:7824:102:8bee:6e66:ff10:6aa2 - - [18/May/2015:16:05:29 +0000] "
        b'"GET /downloads/product_1 HTTP/1.1" 200 85619205 "-" "Chef Client/12.0.3 '
        b'(ruby-2.1.4-p265; ohai-8.0.1; x86_64-linux; +http://opscode.com)"',
        "/downloads/product_1",
        1431965129.0,  # 2015-05-18T16:05:29Z
        "2001:4801:7824:102:8bee:6e66:ff10:6aa2",
    ),
    (
        "3: short IPv6 host, +0100 (file 9 line 2577)",
        b'2001:41d0:8:f69::1 - - [29/Oct/2015:06:47:36 +0100] "GET / HTTP/1.1" 200 20526 '
        b'"http://niels.basjes.nl/" "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, '
        b'like Gecko) Dragon/36.1.1.21 Chrome/36.0.1985.97 Safari/537.36"',
        "/",
        1446097656.0,  # 2015-10-29T05:47:36Z
        "2001:41d0:8:f69::1",
    ),
    (
        "3: anonymised impossible IPv4 (file 8 line 2)",
        b'237.85.78.47 - - [12/May/2024:00:06:50 +0000] "GET /erddap/version HTTP/1.1" 200 51 '
        b'"-" "curl/7.54.0"',
        "/erddap/version",
        1715472410.0,  # 2024-05-12T00:06:50Z
        "237.85.78.47",
    ),
    (
        "4: TAB inside the request (file 5 line 881)",
        b"68.49.152.86 - - [22/Apr/2004:11:54:09 -0400] "
        b'"GET /cgi-bin/handler/netsonar;cat\t/etc/passwd|?data=Download HTTP/1.0" 404 300' + NIKTO,
        "/cgi-bin/handler/netsonar;cat\t/etc/passwd|",
        1082649249.0,  # 2004-04-22T15:54:09Z
        "68.49.152.86",
    ),
    (
        "4: raw non-UTF-8 and control bytes in a path (constructed)",
        b'10.0.0.1 - - [22/Apr/2004:11:54:09 -0400] "GET /caf\xe9/\x1b[31m/\x00 HTTP/1.0" 200 1',
        "/caf\\xe9/\x1b[31m/\x00",
        1082649249.0,
        "10.0.0.1",
    ),
    (
        "4: valid UTF-8 in a path is decoded (constructed)",
        b'10.0.0.1 - - [22/Apr/2004:11:54:09 -0400] "GET /caf\xc3\xa9 HTTP/1.0" 200 1',
        "/caf\u00e9",
        1082649249.0,
        "10.0.0.1",
    ),
    (
        "5: user-agent without its closing quote (file 1 line 8899)",
        b'46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /scripts/grok-py-test/configlib.py'
        b' HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1; '
        b"+http://www.google.com/bot.html",
        "/scripts/grok-py-test/configlib.py",
        1432123517.0,  # 2015-05-20T12:05:17Z
        "46.118.127.106",
    ),
    (
        "6: HTTP/0.9 request without protocol (file 3 line 421)",
        b'pipe1.nyc.pipeline.com - - [01/Aug/1995:00:12:37 -0400] "GET '
        b'/history/apollo/apollo-13/apollo-13-patch-small.gif" 200 12859',
        "/history/apollo/apollo-13/apollo-13-patch-small.gif",
        807250357.0,  # 1995-08-01T04:12:37Z
        "pipe1.nyc.pipeline.com",
    ),
    (
        "6: HTTP/0.9 request without protocol (file 4 line 1286)",
        b'pipe6.nyc.pipeline.com - - [01/Jul/1995:00:22:43 -0400] "GET '
        b'/shuttle/missions/sts-71/movies/sts-71-mir-dock.mpg" 200 946425',
        "/shuttle/missions/sts-71/movies/sts-71-mir-dock.mpg",
        804572563.0,  # 1995-07-01T04:22:43Z
        "pipe6.nyc.pipeline.com",
    ),
    (
        "6: several spaces before the protocol (file 3 line 5218)",
        b"macip-dialup-060.cisco.com - - [01/Aug/1995:03:58:23 -0400] "
        b'"GET /facts/internet/bdgtti-1.01.html   HTTP/1.0" 200 344064',
        "/facts/internet/bdgtti-1.01.html",
        807263903.0,  # 1995-08-01T07:58:23Z
        "macip-dialup-060.cisco.com",
    ),
    (
        "6: HTTP/V1.0 (file 3 line 3808)",
        b'remote50.compusmart.ab.ca - - [01/Aug/1995:02:43:28 -0400] "GET / HTTP/V1.0" 200 7280',
        "/",
        807259408.0,  # 1995-08-01T06:43:28Z
        "remote50.compusmart.ab.ca",
    ),
    (
        "6: absolute URI with port and query (file 5 line 180)",
        b'65.33.181.178 - - [21/Apr/2004:21:55:26 -0400] "GET '
        b'http://dc.tickerbar.net:42857/tld/pxy.m?nc=9147292 HTTP/1.0" 404 281 "-" "-"',
        "/tld/pxy.m",
        1082598926.0,  # 2004-04-22T01:55:26Z
        "65.33.181.178",
    ),
    (
        "6: absolute URI (file 9 line 17)",
        b'222.88.236.235 - - [25/Oct/2015:04:39:09 +0100] "GET http://niels.basj.es/acl_users/'
        b"credentials_cookie_auth/require_login?came_from=http%3A//niels.basj.es/join_form "
        b'HTTP/1.0" 200 11713 "http://niels.basj.es/" "Mozilla/5.0 (Macintosh; Intel Mac OS X '
        b'10_10_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/39.0.2171.95 Safari/537.36"',
        "/acl_users/credentials_cookie_auth/require_login",
        1445744349.0,  # 2015-10-25T03:39:09Z
        "222.88.236.235",
    ),
    (
        "6: absolute URI without a path (constructed)",
        b'1.2.3.4 - - [21/Apr/2004:21:55:26 -0400] "GET http://example.com:8080?x=1 HTTP/1.0" '
        b"200 1",
        "/",
        1082598926.0,
        "1.2.3.4",
    ),
    (
        "6: spaces inside the target (file 5 line 1408)",
        b"68.49.152.86 - - [22/Apr/2004:11:56:14 -0400] \"GET /site/' UNION ALL SELECT "
        b"FileToClob('/etc/passwd','server')::html,0 FROM sysusers WHERE username = USER "
        b'--/.html HTTP/1.0" 404 278' + NIKTO,
        "/site/' UNION ALL SELECT FileToClob('/etc/passwd','server')::html,0 FROM sysusers "
        "WHERE username = USER --/.html",
        1082649374.0,  # 2004-04-22T15:56:14Z
        "68.49.152.86",
    ),
    (
        "6: spaces inside the target (file 5 line 1804)",
        b'68.49.152.86 - - [22/Apr/2004:11:57:16 -0400] "GET /cgi-bin/info2www '
        b"'(../../../../../../../bin/mail root </etc/passwd> HTTP/1.0\" 404 288" + NIKTO,
        "/cgi-bin/info2www '(../../../../../../../bin/mail root </etc/passwd>",
        1082649436.0,  # 2004-04-22T15:57:16Z
        "68.49.152.86",
    ),
    (
        "6: garbage method 200 (file 5 line 2832)",
        b"68.49.152.86 - - [22/Apr/2004:12:00:27 -0400] "
        b'"200 /include/oci8.php?inc_dir=<a class= HTTP/1.0" 501 369' + NIKTO,
        "/include/oci8.php",
        1082649627.0,  # 2004-04-22T16:00:27Z
        "68.49.152.86",
    ),
    (
        "6: lowercase method, no protocol (file 5 line 13802)",
        b'64.171.12.75 - - [02/May/2004:22:14:16 -0400] "get /scripts/..%c0%af..%c0%af..%c0%af'
        b'..%c0%af..%c0%af..%c0%af..%c0%af..%c0%af/winnt/system32/cmd.exe?/c%20dir" 501 - '
        b'"-" "-"',
        "/scripts/..%c0%af..%c0%af..%c0%af..%c0%af..%c0%af..%c0%af..%c0%af..%c0%af/winnt/"
        "system32/cmd.exe",
        1083550456.0,  # 2004-05-03T02:14:16Z
        "64.171.12.75",
    ),
    (
        "7: CRLF line ending (file 6 line 1)",
        b'64.242.88.10 - - [07/Mar/2004:16:05:49 -0800] "GET /twiki/bin/edit/Main/'
        b'Double_bounce_sender?topicparent=Main.ConfigurationVariables HTTP/1.1" 401 12846\r',
        "/twiki/bin/edit/Main/Double_bounce_sender",
        1078704349.0,  # 2004-03-08T00:05:49Z
        "64.242.88.10",
    ),
    (
        "8: a third quoted field after the user-agent (file 8 line 168)",
        b'237.85.78.47 - - [12/May/2024:02:00:00 +0000] "GET /erddap/tabledap/allDatasets.json'
        b"?datasetID%2CmaxTime&datasetID!=%22allDatasets%22&cdm_data_type=%22TimeSeries%22"
        b'&maxTime%3E%222024-05-11T16%3A00%3A00Z%22 HTTP/1.1" 200 372 "-" "-" "curl/7.54.0"',
        "/erddap/tabledap/allDatasets.json",
        1715479200.0,  # 2024-05-12T02:00:00Z
        "237.85.78.47",
    ),
    (
        "fragment and query are both cut (constructed)",
        b'h - - [01/Jan/1970:00:00:00 +0000] "GET /a#frag?x HTTP/1.1" 200 1',
        "/a",
        0.0,
        "h",
    ),
    (
        "percent escapes are not decoded; user field with a space (constructed)",
        b'h - John Smith [01/Jan/1970:01:00:00 +0100] "GET /a%20b?x HTTP/1.1" 200 1',
        "/a%20b",
        0.0,
        "h",
    ),
    (
        "6: CONNECT host:port (file 5 line 302)",
        b'62.233.157.194 - - [22/Apr/2004:04:07:13 -0400] "CONNECT 1.3.3.7:1337 HTTP/1.0" 405 '
        b'309 "-" "-"',
        "1.3.3.7:1337",
        1082621233.0,
        "62.233.157.194",
    ),
    (
        "6: OPTIONS * (file 5 line 3286)",
        b'217.93.102.200 - - [23/Apr/2004:04:51:23 -0400] "OPTIONS * HTTP/1.0" 200 - "-" "-"',
        "OPTIONS *",
        1082710283.0,
        "217.93.102.200",
    ),
    (
        "6: garbage method with a space: target 'found /...' (file 5 line 862)",
        b"68.49.152.86 - - [22/Apr/2004:11:54:06 -0400] "
        b'"GET!not found /cfdocs/expeval/openfile.cfm HTTP/1.0" 400 371' + NIKTO,
        "found /cfdocs/expeval/openfile.cfm",
        1082649246.0,
        "68.49.152.86",
    ),
    (
        "6: relative target (file 5 line 2008)",
        b'68.49.152.86 - - [22/Apr/2004:11:57:48 -0400] "GET photo/ HTTP/1.0" 400 339' + NIKTO,
        "photo/",
        1082649468.0,
        "68.49.152.86",
    ),
    (
        "6: relative dot target (file 5 line 655)",
        b"68.49.152.86 - - [22/Apr/2004:11:53:27 -0400] "
        b'"GET ../../../../../../../../../../etc/* HTTP/1.0" 400 368' + NIKTO,
        "../../../../../../../../../../etc/*",
        1082649207.0,
        "68.49.152.86",
    ),
]

BAD: list[tuple[str, bytes, str]] = [
    (
        '2: "-" request with status 408 (file 5 line 66)',
        b'63.206.169.171 - - [21/Apr/2004:15:43:49 -0400] "-" 408 - "-" "-"',
        "no request",
    ),
    (
        '2: empty "" request with status 400 (file 7 line 3777)',
        b'35.215.119.79 - - [19/Apr/2025:12:01:50 +0100] "" 400 0 "-" "-"',
        "empty request",
    ),
    (
        "4: binary junk without a space (file 5 line 21716)",
        b'211.196.223.10 - - [16/Jun/2004:21:32:48 -0400] "\x05\x01" 501 - "-" "-"',
        "no target in request",
    ),
    (
        "4: non-UTF-8 junk without a space (file 5 line 3519)",
        b'64.69.77.53 - - [23/Apr/2004:15:37:05 -0400] "r\xe1{x\x9c0\xdb\x91$\x80\xc4\xb4*\x0c'
        b"\x0fee'\xaes\x9b\x1ar\xe1{x\x9c0\xdb\x91$\x80\xc4\xb4*\x0c\x0fee'\xaes\x9b\x1ar\xe1{x"
        b'\x9c0\xdb\x91$\x80\xc4\xb4*\x0c\x0fee\'\xaes\x9b\x1a" 400 386 "-" "-"',
        "no target in request",
    ),
    (
        "5: UA-only redaction stub (file 8 line 19)",
        b' "curl/7.54.0"',
        "not an access log line",
    ),
    (
        "5: UA-only redaction stub (file 8 line 1810)",
        b' "kmdjdheyytgebfghehhenegsdfsdf"',
        "not an access log line",
    ),
    ("empty line", b"", "empty line"),
    ("blank line", b"  \t ", "empty line"),
    (
        "host over the user limit",
        b"h" * 1025 + b' - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1',
        "user longer than 1024 characters",
    ),
    ("CR only", b"\r", "empty line"),
    (
        "ndjson",
        b'{"endpoint": "/api", "ts": 1700000000.25, "user": "u42"}',
        "not an access log line",
    ),
    ("csv", b"/api,1700000000,u42", "not an access log line"),
    ("method only", b'h - - [10/Oct/2000:13:55:36 -0700] "GET" 200 1', "no target in request"),
    (
        "a query without a path",
        b'h - - [10/Oct/2000:13:55:36 -0700] "GET ?x=1 HTTP/1.0" 200 1',
        "no path before the query in target",
    ),
    (
        "protocol only",
        b'h - - [10/Oct/2000:13:55:36 -0700] "GET HTTP/1.0" 200 1',
        "no target in request",
    ),
    ("bad month", b'h - - [10/Foo/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1', "bad timestamp"),
    ("31 February", b'h - - [31/Feb/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1', "bad timestamp"),
    ("year 0", b'h - - [01/Jan/0000:13:55:36 -0700] "GET / HTTP/1.0" 200 1', "bad timestamp"),
    ("hour 24", b'h - - [10/Oct/2000:24:00:00 -0700] "GET / HTTP/1.0" 200 1', "bad timestamp"),
    ("offset -2400", b'h - - [10/Oct/2000:13:55:36 -2400] "GET / HTTP/1.0" 200 1', "bad timestamp"),
    ("ISO time", b'h - - [2000-10-10T13:55:36Z] "GET / HTTP/1.0" 200 1', "bad timestamp"),
    ("no quoted request", b"h - - [10/Oct/2000:13:55:36 -0700] GET / 200 1", "no quoted request"),
    (
        "no status",
        b'h - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0"',
        "no status and size after request",
    ),
    (
        "no size",
        b'h - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200',
        "no status and size after request",
    ),
    (
        "size glued to a quote",
        b'h - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1"x"',
        "no status and size after request",
    ),
]


@pytest.mark.parametrize(("case", "line", "endpoint", "ts", "user"), HITS, ids=[h[0] for h in HITS])
def test_hit(case: str, line: bytes, endpoint: str, ts: float, user: str) -> None:
    expected = Hit(endpoint, ts, user)
    assert parse_combined(line) == expected, case
    assert parse_common(line) == expected, case


@pytest.mark.parametrize(("case", "line", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_line(case: str, line: bytes, reason: str) -> None:
    for parse in (parse_combined, parse_common):
        with pytest.raises(BadLine) as caught:
            parse(line)
        assert caught.value.reason == reason, case


def test_unescaped_quote_does_not_shift_fields() -> None:
    # The status/size after the request, not the quotes, decide where the request ends.
    line = (
        b"68.49.152.86 - - [22/Apr/2004:11:56:54 -0400] "
        b'"GET" /cgi-bin/cart.pl?db=\' HTTP/1.0" 404 287' + NIKTO
    )
    assert parse_combined(line).endpoint == "/cgi-bin/cart.pl"
    # A status-like text inside the user-agent does not move the request's end.
    line = b'h - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 5 "-" "x" 200 5 "y"'
    assert parse_combined(line).endpoint == "/a"


def test_time_limits() -> None:
    first = b'h - - [01/Jan/1970:00:00:00 +0000] "GET / HTTP/1.0" 200 1'
    assert parse_combined(first).ts == 0.0
    with pytest.raises(BadLine, match="before 1970"):
        parse_combined(first.replace(b"+0000", b"+0001"))
    last = b'h - - [31/Dec/9999:23:59:59 +0000] "GET / HTTP/1.0" 200 1'
    with pytest.raises(BadLine, match="more than a year in the future"):
        parse_combined(last)  # a line dated far ahead would prune every real hit
    with pytest.raises(BadLine, match="after year 9999"):
        parse_combined(last.replace(b"+0000", b"-0001"))
    soon = b'h - - [31/Dec/2026:23:59:59 +0000] "GET / HTTP/1.0" 200 1'
    assert parse_combined(soon).ts == 1798761599.0  # next month is fine
    leap = b'h - - [29/Feb/2000:23:59:60 +0000] "GET / HTTP/1.0" 200 1'
    assert parse_combined(leap).ts == 951868800.0  # 2000-03-01T00:00:00Z


def test_endpoint_length_limit() -> None:
    def line(path: bytes) -> bytes:
        return b'h - - [10/Oct/2000:13:55:36 -0700] "GET ' + path + b' HTTP/1.0" 200 1'

    kept = MAX_ENDPOINT_CHARS - len(TRUNCATED_MARK)
    longest = b"/" + b"a" * (MAX_ENDPOINT_CHARS - 1)
    assert parse_combined(line(longest)).endpoint == longest.decode()
    assert parse_combined(line(longest + b"b")).endpoint == longest.decode()[:kept] + TRUNCATED_MARK
    # The limit counts characters: 3-byte UTF-8 characters fit up to the same count.
    wide = b"/" + "\u20ac".encode() * (MAX_ENDPOINT_CHARS - 1)
    assert len(parse_combined(line(wide)).endpoint) == MAX_ENDPOINT_CHARS
    cut = parse_combined(line(wide + "\u20ac".encode())).endpoint
    assert cut == "/" + "\u20ac" * (kept - 1) + TRUNCATED_MARK
    # An undecodable byte becomes 4 characters (\xHH).
    dirty = parse_combined(line(b"/" + b"\xff" * 1024)).endpoint
    assert dirty == ("/" + "\\xff" * 1024)[:kept] + TRUNCATED_MARK
    # Only the path counts, not the query.
    assert parse_combined(line(b"/q?" + b"x" * 10000)).endpoint == "/q"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (HITS[1][1], "combined"),
        (HITS[0][1], "common"),
        (b'gw1.att.com - - [01/Aug/1995:00:03:53 -0400] "GET /x HTTP/1.0" 302 -\r\n', "common"),
        (b'h - - [07/Mar/2004:16:05:49 -0800] "GET /x HTTP/1.1" 401 12846\r', "common"),
        (b'63.206.169.171 - - [21/Apr/2004:15:43:49 -0400] "-" 408 - "-" "-"', "combined"),
        (b' "curl/7.54.0"', None),
        (b'{"endpoint": "/api", "ts": 1700000000.25}', None),
        (b"endpoint,timestamp,user", None),
        (b"", None),
    ],
)
def test_sniff(line: bytes, expected: str | None) -> None:
    assert sniff_access_log(line) == expected


# --------------------------------------------------------------------------------------------
# Property tests: any bytes give a Hit or a BadLine, never another exception.
# --------------------------------------------------------------------------------------------


def check_outcome(line: bytes) -> Hit | None:
    """Parse with both parsers; they must agree, and a hit must be well formed."""
    try:
        hit = parse_combined(line)
    except BadLine as bad:
        assert isinstance(bad.reason, str)
        assert bad.reason
        with pytest.raises(BadLine):
            parse_common(line)
        return None
    assert parse_common(line) == hit
    assert isinstance(hit.endpoint, str)
    assert 0 < len(hit.endpoint) <= MAX_ENDPOINT_CHARS
    assert (
        len(hit.endpoint) < MAX_ENDPOINT_CHARS
        or hit.endpoint.endswith(TRUNCATED_MARK)
        or (len(hit.endpoint.encode()) <= 4 * MAX_ENDPOINT_CHARS)
    )
    assert isinstance(hit.ts, float)
    assert math.isfinite(hit.ts)
    assert 0.0 <= hit.ts <= MAX_TS
    assert isinstance(hit.user, str)
    assert hit.user
    assert " " not in hit.user
    assert sniff_access_log(line) in ("common", "combined")
    return hit


SEEDS = [case[1] for case in HITS] + [case[1] for case in BAD]
INTERESTING = [
    b'"', b" ", b"[", b"]", b"/", b"?", b"#", b"\r", b"\n", b"\x00", b"\xff", b"\\", b"-",
    b"0", b"9", b"+", b":", b"HTTP/1.1", b"://", b"\xc3\xa9", b'" 200 1 "', b"\t", b"%",
]  # fmt: skip


@st.composite
def mutated_lines(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, len(line)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "insert":
            chunk = draw(st.one_of(st.sampled_from(INTERESTING), st.binary(min_size=1, max_size=8)))
            line[where:where] = chunk
        elif action == "delete":
            del line[where : where + draw(st.integers(1, 12))]
        else:
            line[where : where + 1] = draw(st.sampled_from(INTERESTING))
    return bytes(line)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(line: bytes) -> None:
    check_outcome(line)
    assert sniff_access_log(line) in (None, "common", "combined")


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_lines())
def test_mutated_real_lines_never_crash(line: bytes) -> None:
    check_outcome(line)
    assert sniff_access_log(line) in (None, "common", "combined")


@settings(max_examples=300, deadline=None)
@given(pad=st.integers(0, MAX_ENDPOINT_CHARS), tail=st.binary(max_size=64))
def test_path_bytes_decode_like_backslashreplace(pad: int, tail: bytes) -> None:
    # Paths near the length limit, with any bytes: the endpoint is the backslashreplace decoding,
    # and the limit applies to its length in characters.
    path = b"/" + b"a" * pad + tail.translate(None, b' ?#"')
    line = b'h - - [10/Oct/2000:13:55:36 -0700] "GET ' + path + b' HTTP/1.0" 200 1'
    text = path.decode("utf-8", "backslashreplace")
    if len(text) > MAX_ENDPOINT_CHARS:
        kept = MAX_ENDPOINT_CHARS - len(TRUNCATED_MARK)
        assert parse_combined(line).endpoint == text[:kept] + TRUNCATED_MARK
    else:
        assert parse_combined(line).endpoint == text


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
PATH_TEXT = st.text(
    alphabet=st.characters(blacklist_characters=' ?#"\n\r', blacklist_categories=["Cs"]),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2026, 1, 1)),
    offset_minutes=st.integers(-12 * 60, 14 * 60),  # the offsets places use
    host=st.from_regex(r"\A[A-Za-z0-9.:-]{1,40}\Z"),
    path=PATH_TEXT,
    query=st.one_of(st.just(""), PATH_TEXT.map(lambda q: "?" + q)),
    combined=st.booleans(),
)
def test_generated_lines_parse_exactly(
    moment: datetime,
    offset_minutes: int,
    host: str,
    path: str,
    query: str,
    combined: bool,
) -> None:
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    stamp = (
        f"{moment.day:02d}/{MONTHS[moment.month - 1]}/{moment.year:04d}:"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {sign}{hours:02d}{minutes:02d}"
    )
    target = ("/" + path + query).encode()
    line = f"{host} - - [{stamp}] ".encode() + b'"GET ' + target + b' HTTP/1.1" 200 5'
    if combined:
        line += b' "-" "agent"'
    zone = timezone(timedelta(minutes=offset_minutes))
    expected_ts = moment.replace(microsecond=0, tzinfo=zone).timestamp()
    assert parse_combined(line) == Hit("/" + path, expected_ts, host)
    assert sniff_access_log(line) == ("combined" if combined else "common")


# --------------------------------------------------------------------------------------------
# The nine real logs, against an independent oracle: split on '"', datetime.strptime,
# str.split for the request words and urllib's urlsplit for absolute URIs.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What one real log must give."""

    lines: int
    hits: int
    bad: dict[str, int]
    lateness: float  # max over hits of (running max ts - ts)
    windows: tuple[tuple[str, int, int], ...]  # (endpoint, N, hits in (now - N, now])
    sniffed: str


DAY = 86400
EXPECTED: dict[str, Expected] = {
    "elastic_apache_logs_2015-05": Expected(
        lines=10_000,
        hits=10_000,
        bad={},
        lateness=59.0,  # the upstream minute = month defect scrambles seconds within an hour
        windows=(("/favicon.ico", 3600, 4), ("/favicon.ico", DAY, 254), ("/", DAY, 132)),
        sniffed="combined",
    ),
    "elastic_nginx_logs_2015-05": Expected(
        lines=51_462,
        hits=51_462,
        bad={},
        lateness=59.0,
        windows=(
            ("/downloads/product_1", 60, 28),
            ("/downloads/product_1", 3600, 41),
            ("/downloads/product_2", DAY, 1120),
            ("/downloads/product_3", 7 * DAY, 30),
        ),
        sniffed="combined",
    ),
    "nasa_http_aug95_first20k": Expected(
        lines=20_000,
        hits=20_000,
        bad={},
        lateness=0.0,
        windows=(
            ("/images/NASA-logosmall.gif", 60, 6),
            ("/images/NASA-logosmall.gif", 600, 56),
            ("/images/NASA-logosmall.gif", 3600, 303),
            ("/images/MOSAIC-logosmall.gif", 21600, 840),
        ),
        sniffed="common",
    ),
    "nasa_http_jul95_first4k": Expected(
        lines=4_000,
        hits=4_000,
        bad={},
        lateness=0.0,
        windows=(
            ("/images/NASA-logosmall.gif", 600, 32),
            ("/images/NASA-logosmall.gif", 3600, 213),
            ("/shuttle/countdown/", 3600, 155),
        ),
        sniffed="common",
    ),
    "honeynet_rh71_httpd_access_2004": Expected(
        lines=38_487,
        hits=38_217,  # with the 1,048 SEARCH floods, 427 CONNECTs and 26 odd targets
        bad={
            "no request": 229,  # the "-" requests with status 408
            # binary junk without a space, and one Code Red blob in the method's place
            # followed by HTTP/1.1 alone
            "no target in request": 41,
        },
        lateness=0.0,
        windows=(
            ("/", 3600, 9),
            ("/", 7 * DAY, 331),
            ("/sumthin", DAY, 21),
            ("/sumthin", 30 * DAY, 62),
        ),
        sniffed="combined",
    ),
    "monitorware_twiki_access_log_2004": Expected(
        lines=1_535,
        hits=1_535,
        bad={},
        lateness=0.0,
        windows=(("/", 21600, 3), ("/", DAY, 7), ("/twiki/bin/view/Main/WebHome", 7 * DAY, 49)),
        sniffed="common",
    ),
    "wordpress_hackathon_nginx_2025": Expected(
        lines=10_000,
        hits=9_999,
        bad={"empty request": 1},
        lateness=0.0,
        windows=(("/wp-cron.php", 600, 3), ("/wp-cron.php", 3600, 21), ("/robots.txt", DAY, 17)),
        sniffed="combined",
    ),
    "erddap_voto_nginx_2024-05": Expected(
        lines=16_275,
        hits=10_479,
        bad={"not an access log line": 5796},  # the UA-only redaction stubs
        lateness=0.0,
        windows=(
            ("/erddap/tabledap/allDatasets.csv", 3600, 3),
            ("/erddap/version", DAY, 41),
            ("/erddap/version", 7 * DAY, 633),
        ),
        sniffed="combined",
    ),
    "basjes_howto_hackers_access_2015-10": Expected(
        lines=3_456,
        hits=3_456,
        bad={},
        lateness=0.0,
        windows=(("/join_form", 60, 2), ("/join_form", DAY, 213), ("/login_form", 7 * DAY, 1023)),
        sniffed="combined",
    ),
}


def oracle(line: bytes) -> tuple[str, float, str] | None:
    """(endpoint, ts, user) of a line, or None for a bad line; shares no code with the parser."""
    if line.endswith(b"\r"):
        line = line[:-1]
    pieces = line.split(b'"')
    head = pieces[0]
    if len(pieces) < 3 or not head.endswith(b"] ") or b"[" not in head:
        return None
    before, _, stamp = head[:-2].partition(b"[")
    fields = before.split(b" ", 2)
    if len(fields) < 3 or not fields[0] or not fields[1]:
        return None
    try:
        moment = datetime.strptime(stamp.decode("ascii"), "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        return None
    # The request ends at the first quote that is followed by " status size" and then a space
    # or the end of the line.
    for end in range(2, len(pieces)):
        words = pieces[end].split(b" ")
        if (
            len(words) >= 3
            and words[0] == b""
            and len(words[1]) == 3
            and words[1].isdigit()
            and (words[2].isdigit() or words[2] == b"-")
            and (len(words) > 3 or end == len(pieces) - 1)
        ):
            request = b'"'.join(pieces[1:end])
            break
    else:
        return None
    words = [word for word in request.split(b" ") if word]
    if len(words) >= 2 and words[-1].upper().startswith(b"HTTP/"):
        words.pop()
    if len(words) < 2:
        return None
    method, target = words[0], b" ".join(words[1:])
    scheme = urlsplit(target.decode("latin-1")).scheme if b"://" in target else ""
    if target == b"*":
        path = method + b" *"
    elif method.upper() == b"CONNECT":  # the authority as written
        path = target
    elif scheme and not target.startswith(b"/"):
        path = urlsplit(target.decode("latin-1")).path.encode("latin-1") or b"/"
    else:  # a path, or a relative target as written
        path = re.split(rb"[?#]", target, maxsplit=1)[0]
        if not path:
            return None
    endpoint = path.decode("utf-8", "backslashreplace")
    if len(endpoint) > MAX_ENDPOINT_CHARS:
        endpoint = endpoint[: MAX_ENDPOINT_CHARS - len(TRUNCATED_MARK)] + TRUNCATED_MARK
    return endpoint, moment.timestamp(), fields[0].decode("utf-8", "backslashreplace")


@cache
def real_lines(name: str) -> tuple[bytes, ...]:
    with gzip.open(REAL / f"{name}.log.gz", "rb") as stream:
        data = stream.read()
    assert data.endswith(b"\n")
    return tuple(data[:-1].split(b"\n"))


def window_count(hits: list[tuple[str, float, str]], endpoint: str, last: int) -> int:
    """Hits of endpoint in (now - last, now], now = the latest ts (the replay clock)."""
    now = max(ts for _, ts, _ in hits)
    return sum(1 for name, ts, _ in hits if name == endpoint and now - last < ts <= now)


def lateness(timestamps: list[float]) -> float:
    """The largest (running max - ts) over the timestamps in arrival order."""
    latest = -math.inf
    worst = 0.0
    for ts in timestamps:
        latest = max(latest, ts)
        worst = max(worst, latest - ts)
    return worst


def test_expected_covers_every_real_log() -> None:
    if REAL.is_dir():
        assert sorted(EXPECTED) == sorted(p.name[: -len(".log.gz")] for p in REAL.glob("*.log.gz"))


@pytest.mark.slow
@needs_real_logs
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_log(name: str) -> None:
    expected = EXPECTED[name]
    lines = real_lines(name)
    assert len(lines) == expected.lines

    # The parser, chosen by sniffing the first line as the CLI would.
    assert sniff_access_log(lines[0]) == expected.sniffed
    parse = parse_combined if expected.sniffed == "combined" else parse_common
    parsed: list[tuple[str, float, str] | None] = []
    reasons: Counter[str] = Counter()
    for line in lines:
        try:
            hit = parse(line)
        except BadLine as bad:
            reasons[bad.reason] += 1
            parsed.append(None)
        else:
            assert hit.user is not None
            parsed.append((hit.endpoint, hit.ts, hit.user))
    hits = [hit for hit in parsed if hit is not None]
    assert len(hits) == expected.hits
    assert dict(reasons) == expected.bad
    assert lateness([ts for _, ts, _ in hits]) == expected.lateness

    # The oracle agrees line by line: same lines rejected, same endpoint, ts and user.
    from_oracle = [oracle(line) for line in lines]
    assert sum(1 for hit in from_oracle if hit is not None) == expected.hits
    mismatches = [
        (number, mine, theirs)
        for number, (mine, theirs) in enumerate(zip(parsed, from_oracle, strict=True), start=1)
        if mine != theirs
    ]
    assert mismatches[:5] == []

    oracle_hits = [hit for hit in from_oracle if hit is not None]
    for endpoint, last, count in expected.windows:
        assert window_count(oracle_hits, endpoint, last) == count, (endpoint, last)
        assert window_count(hits, endpoint, last) == count, (endpoint, last)


@pytest.mark.slow
@needs_real_logs
def test_real_oddity_lines_are_the_quoted_ones() -> None:
    # The hand-written cases above copy these real lines byte for byte.
    honeynet = real_lines("honeynet_rh71_httpd_access_2004")
    by_case = {case[0]: case[1] for case in HITS + [(b[0], b[1], "", 0.0, "") for b in BAD]}
    assert honeynet[662] == by_case["1: escaped quote in the request (file 5 line 663)"]
    assert honeynet[1043] == by_case["1: unescaped quote in the request (file 5 line 1044)"]
    assert honeynet[65] == by_case['2: "-" request with status 408 (file 5 line 66)']
    assert honeynet[301] == by_case["6: CONNECT host:port (file 5 line 302)"]
    assert honeynet[3518] == by_case["4: non-UTF-8 junk without a space (file 5 line 3519)"]
    assert (
        real_lines("elastic_apache_logs_2015-05")[8898]
        == by_case["5: user-agent without its closing quote (file 1 line 8899)"]
    )
    assert (
        real_lines("monitorware_twiki_access_log_2004")[0]
        == by_case["7: CRLF line ending (file 6 line 1)"]
    )
    assert (
        real_lines("erddap_voto_nginx_2024-05")[167]
        == by_case["8: a third quoted field after the user-agent (file 8 line 168)"]
    )
    # The real SEARCH flood (line 15) is counted under its truncated endpoint.
    flood = parse_combined(honeynet[14]).endpoint
    assert flood.startswith("/\\x90\x02\\xb1\x02") and flood.endswith(TRUNCATED_MARK)
    assert len(flood) == MAX_ENDPOINT_CHARS


def test_a_search_flood_counts_under_one_truncated_endpoint() -> None:
    def flood(filler: bytes) -> bytes:
        return (
            b'63.202.172.242 - - [21/Apr/2004:12:45:13 -0400] "SEARCH /\x90\x02'
            + filler * 2100
            + b'" 414 340 "-" "-"'
        )

    first, second = parse_combined(flood(b"\xb1\x02")), parse_combined(flood(b"\xb1\x03"))
    assert len(first.endpoint) == MAX_ENDPOINT_CHARS
    assert first.endpoint.endswith(TRUNCATED_MARK)
    assert first.endpoint.startswith("/\\x90\x02\\xb1\x02\\xb1")
    assert second.endpoint != first.endpoint  # what differs in the kept prefix still counts apart


def test_the_readme_table_of_access_log_targets_holds_from_the_cli(tmp_path: Path) -> None:

    def line(request: bytes) -> bytes:
        return b'1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "' + request + b'" 200 1 "-" "ua"\n'

    requests = [
        b"GET /api/login?user=x HTTP/1.1",
        b"GET http://example.com:8080/a?b HTTP/1.0",
        b"CONNECT 1.3.3.7:1337 HTTP/1.0",
        b"OPTIONS * HTTP/1.0",
        b"GET * HTTP/1.1",
        b"GET photo/ HTTP/1.0",
        b"GET ../../etc/* HTTP/1.0",
        b"SEARCH /" + b"A" * 5000 + b" HTTP/1.1",
        b"-",
        b"",
        b"GET",
        b"GET ?x HTTP/1.0",
    ]
    log = tmp_path / "access.log"
    log.write_bytes(b"".join(line(request) for request in requests))
    state = str(tmp_path / "state.json")
    replayed = ok(["--state", state, "replay", str(log), "--format", "combined"])
    assert "8 hits kept" in replayed.stdout
    assert "4 bad lines" in replayed.stdout
    top = json.loads(ok(["--state", state, "top", "--last", "1d", "--json"]).stdout)
    names = {row["endpoint"] for row in top}
    flood = "/" + "A" * (MAX_ENDPOINT_CHARS - len(TRUNCATED_MARK) - 1) + TRUNCATED_MARK
    assert names == {
        "/api/login", "/a", "1.3.3.7:1337", "OPTIONS *", "GET *", "photo/", "../../etc/*",
        flood,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "east_s"),
    [("+1400", 50400), ("-1200", -43200), ("+0530", 19800), ("+1401", None), ("+2359", None),
     ("-1201", None), ("-2300", None)],
)  # fmt: skip
def test_only_offsets_some_place_uses_are_read(zone: str, east_s: int | None) -> None:
    """UTC-12:00 to UTC+14:00; `+2359` moved a hit by almost a day with no word (QA G8). The
    C scanner steps aside for the same lines, so the per-line parser decides on both paths."""  # noqa: D205, D209
    line = f'1.2.3.4 - - [27/Nov/2026:12:00:00 {zone}] "GET /x HTTP/1.0" 200 5'.encode()
    local = 1_795_780_800.0  # 2026-11-27T12:00:00Z
    if east_s is None:
        with pytest.raises(BadLine, match="bad timestamp"):
            parse_common(line)
    else:
        assert parse_common(line).ts == local - east_s
    if fast.native is None:
        return  # an install without the C scanner: the per-line parser reads every line
    scanned = fast.native.scan_lines(line + b"\n", 1, True, 1e12, 7, 0, 1, 2)
    assert (len(scanned[5]) == 0) is (east_s is not None)  # read by C, or handed back


@pytest.mark.parametrize(
    ("zone", "east_s"),
    [("+14:00", 50400), ("-12:00", -43200), ("+05:30", 19800), ("+14:01", None),
     ("+23:59", None), ("-12:01", None), ("-23:00", None), ("+00:99", None), ("+00:60", None),
     ("+13:60", None)],
)  # fmt: skip
def test_iso_times_take_only_offsets_some_place_uses_too(zone: str, east_s: int | None) -> None:
    """NDJSON and CSV times follow the access logs' rule (QA H6): `+23:59` is garbled. The C
    scanner hands such a line back, so the per-line parser gives the reason on both paths."""  # noqa: D205, D209
    text = f"2026-11-27T12:00:00{zone}"
    if east_s is None:
        with pytest.raises(BadLine, match="an offset"):
            epoch_from_iso(text)
    else:
        assert epoch_from_iso(text) == 1_795_780_800.0 - east_s
    if fast.native is None:
        return  # an install without the C scanner: the per-line parser reads every line
    line = f'{{"endpoint": "/x", "ts": "{text}"}}\n'.encode()
    scanned = fast.native.scan_lines(line, 0, False, 1e12, 0, 0, 1, 2)  # NDJSON
    assert (len(scanned[5]) == 0) is (east_s is not None)  # read by C, or handed back
