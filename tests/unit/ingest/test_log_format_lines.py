"""`--log-format` lines: what each layout reads, and that no line costs more than its length."""

from __future__ import annotations

import contextlib
import time

import pytest

from hitcount.errors import ConfigurationError
from hitcount.ingest.formats.log_format import LogFormatParser
from hitcount.model.hits import BadLine

APACHE_COMBINED = '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"'
NGINX_CUSTOM = '$remote_addr [$time_local] "$request" $status $request_time "$http_user_agent"'
MANY_VALUES = '$remote_addr $a $b $c $d $e [$time_local] "$request" $status'
START = '10.0.0.2 - - [27/Nov/2026:12:00:01 +0000] "GET /x'

#: Malformed lines whose cost grew with a power of their length (QA I1): Apache's escaped
#: quotes in a request and a user agent cut off; unescaped ones under an nginx layout; a
#: run of words before a layout's many space-separated values.
SLOW_BEFORE = [
    (APACHE_COMBINED, lambda n: START + '\\" 200 1 \\"' * n + ' HTTP/1.1" 200 5 "-" "cut off'),
    (NGINX_CUSTOM, lambda n: '1.2.3.4 [27/Nov/2026:12:00:00 +0000] "GET /' + 'x " 200 0.1 "' * n
     + ' HTTP/1.1" 200 0.1 "ua'),
    (MANY_VALUES, lambda n: "1.2.3.4 " + "a " * n),
    # a layout ending in a variable, and variables side by side (QA K1)
    ('%h %l %u %t "%r" %>s %b', lambda n: START + ' HTTP/1.1" 200 5' + " " * n + "x"),
    ('$remote_addr [$time_local] "$request" $status $upstream_addr',
     lambda n: '1.2.3.4 [27/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 a' + " " * n + "x"),
    ('$remote_addr [$time_local] "$request" $request_method$request_uri$status',
     lambda n: '1.2.3.4 [27/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" GET' + "/a" * n + "x"),
    ('$remote_addr [$time_local] "$request" "$host$request_uri" $status',
     lambda n: '1.2.3.4 [27/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" "h' + "/a" * n + "x"),
    ('$remote_addr [$time_local] "$request" $a$request_time',
     lambda n: '1.2.3.4 [27/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" ' + "1" * n + "x"),
]  # fmt: skip


def _fields(layout: str, line: str) -> dict[str, object]:
    found = LogFormatParser(layout).record(line.encode())
    assert found is not None
    return found[1]


@pytest.mark.parametrize(("layout", "make"), SLOW_BEFORE)
def test_a_malformed_line_costs_time_linear_in_its_length(layout: str, make) -> None:  # type: ignore[no-untyped-def]
    """Each took seconds at a few thousand repeats before (79 s for 176 KB): now a line of
    up to a megabyte is read or refused in well under a second."""  # noqa: D205, D209
    parser = LogFormatParser(layout)
    for repeats in (4_000, 80_000):
        line = make(repeats).encode()
        started = time.perf_counter()
        with contextlib.suppress(BadLine):
            parser.parse(line)
        assert time.perf_counter() - started < 1.0, (len(line), layout)


def test_escaped_quotes_stay_inside_their_value() -> None:
    line = START + '?q=\\"a b\\" HTTP/1.1" 200 5 "-" "agent \\"x\\""'
    fields = _fields(APACHE_COMBINED, line)
    assert fields["request"] == 'GET /x?q=\\"a b\\" HTTP/1.1'
    assert fields["http_user_agent"] == 'agent \\"x\\"'
    assert fields["path"] == "/x"


def test_fields_after_the_layout_are_left_out() -> None:
    """A log writing more fields than the layout names (`"$http_x_forwarded_for"` at the
    end): each value is its own, the rest of the line is not part of the last one."""  # noqa: D205, D209
    line = START + ' HTTP/1.1" 200 5 "-" "curl/8" "10.9.9.9" 0.004'
    fields = _fields(APACHE_COMBINED, line)
    assert (fields["http_referer"], fields["http_user_agent"]) == ("-", "curl/8")
    assert fields["status"] == 200


def test_an_unescaped_quote_inside_a_request_is_still_read() -> None:
    """A scanner's raw request (`"GET" /a?x=' HTTP/1.0"`, in a real honeypot log): the request
    runs to the quote the rest of the layout follows, as the combined parser reads it."""  # noqa: D205, D209
    line = '1.2.3.4 - - [22/Apr/2004:11:55:13 -0400] "GET" /a?x=\' HTTP/1.0" 501 345 "-" "Nikto"'
    fields = _fields(APACHE_COMBINED, line)
    assert fields["request"] == "GET\" /a?x=' HTTP/1.0"
    assert (fields["status"], fields["http_user_agent"]) == (501, "Nikto")


def test_a_line_of_the_layout_reads_every_value() -> None:
    line = '1.2.3.4 [27/Nov/2026:12:00:00 +0100] "POST /api/login HTTP/1.1" 503 1.5 "Moz 5"'
    fields = _fields(NGINX_CUSTOM, line)
    assert fields["ts"] == 1_795_777_200.0  # 11:00:00Z
    assert (fields["path"], fields["status"], fields["request_time"]) == ("/api/login", 503, "1.5")
    assert fields["http_user_agent"] == "Moz 5"


@pytest.mark.parametrize(
    ("zone", "read"), [("+14:00", True), ("+23:59", False), ("Z", True), ("+00:99", False)]
)
def test_a_time_iso8601_takes_only_offsets_some_place_uses(zone: str, read: bool) -> None:
    parser = LogFormatParser('$remote_addr $time_iso8601 "$request"')
    line = f'1.2.3.4 2026-11-27T12:00:00{zone} "GET /a HTTP/1.1"'.encode()
    if read:
        assert parser.parse(line) is not None
    else:
        with pytest.raises(BadLine, match="an offset"):
            parser.parse(line)


@pytest.mark.parametrize(
    ("target", "endpoint"),
    [("*", "OPTIONS *"), ("/a?x=1", "/a"), ("http://h:80/abs?q", "/abs"), ("/frag#x", "/frag"),
     ("HTTPS://[::1]:443/x", "/x")],
)  # fmt: skip
@pytest.mark.parametrize("method", ["", '"OPTIONS" '])
def test_a_request_uri_is_read_as_the_built_in_parsers_read_a_target(
    target: str, endpoint: str, method: str
) -> None:
    """`$request_uri` kept `*` (which reads as a glob), absolute URIs and fragments whole, so
    one request counted under another endpoint than with `$request` (QA I6)."""  # noqa: D205, D209
    layout = "$remote_addr [$time_local] " + ('"$request_method" ' if method else "")
    parser = LogFormatParser(layout + "$request_uri $status")
    line = f"1.2.3.4 [27/Nov/2026:12:00:00 +0000] {method}{target} 200".encode()
    hit = parser.parse(line)
    assert hit is not None and hit.endpoint == endpoint
    request = LogFormatParser('$remote_addr [$time_local] "$request" $status')
    line = f'1.2.3.4 [27/Nov/2026:12:00:00 +0000] "OPTIONS {target} HTTP/1.1" 200'.encode()
    assert request.parse(line) == hit


@pytest.mark.parametrize(
    ("layout", "field", "value"),
    [('%h %l %u %t "%r" %>s %b', "body_bytes_sent", "5"),
     ('%h %l %u %t "%r" %>s', "status", 200),
     ('$remote_addr [$time_local] "$request" $status $request_time', "request_time", "0.5")],
)  # fmt: skip
def test_a_layout_ending_in_a_value_of_set_shape_leaves_extra_fields_out(
    layout: str, field: str, value: object
) -> None:
    """A combined line under the common layout: `%b` took `5 "-" "Mozilla/5.0"`, and a
    layout ending in `%>s` refused the line (QA K2)."""  # noqa: D205, D209
    time = "[27/Nov/2026:12:00:00 +0000]"
    extra = ' "-" "Mozilla/5.0"'
    if "$request_time" in layout:
        line = f'10.0.0.2 {time} "GET /x HTTP/1.1" 200 0.5{extra}'
    else:
        line = f'10.0.0.2 - - {time} "GET /x HTTP/1.1" 200 5{extra}'
    assert _fields(layout, line)[field] == value


def test_a_layout_ending_in_a_free_value_takes_the_rest_of_the_line() -> None:
    line = '1.2.3.4 [27/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 10.0.0.1:80, 10.0.0.2:80  '
    layout = '$remote_addr [$time_local] "$request" $status $upstream_addr'
    assert _fields(layout, line)["upstream_addr"] == "10.0.0.1:80, 10.0.0.2:80"


@pytest.mark.parametrize(
    ("layout", "line", "values"),
    [('$remote_addr [$time_local] "$request" "$host$request_uri" $status',
      '1.2.3.4 [27/Nov/2026:12:00:00 +0000] "GET /a HTTP/1.1" "h.example/a?b=1" 200',
      {"host": "", "request_uri": "h.example/a?b=1", "path": "/a"}),
     ('$remote_addr [$time_local] "$request" $request_method$status',
      '1.2.3.4 [27/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" GET200',
      {"request_method": "GET", "status": 200})],
)  # fmt: skip
def test_variables_side_by_side_split_as_a_lazy_match_did(
    layout: str, line: str, values: dict[str, object]
) -> None:
    fields = _fields(layout, line)
    assert {name: fields[name] for name in values} == values


@pytest.mark.parametrize(
    "layout",
    ['[$time_local]$remote_addr|$request_method$request_uri $status',
     '$remote_addr [$time_local] "$host$uri" $status',
     '$remote_addr $time_iso8601$request_uri $status'],
)  # fmt: skip
def test_a_layout_whose_hit_needs_two_variables_side_by_side_is_refused(layout: str) -> None:
    """The first of the two always read empty, so every endpoint came out as `GET/path`,
    with no word (QA K8)."""  # noqa: D205, D209
    with pytest.raises(ConfigurationError, match="have no text between them"):
        LogFormatParser(layout)
