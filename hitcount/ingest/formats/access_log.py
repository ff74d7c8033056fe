r"""Apache/nginx access log lines (Common Log Format and Combined) as hits.

A line looks like::

    host ident user [10/Oct/2000:13:55:36 -0700] "GET /path?q HTTP/1.0" 200 2326 "ref" "UA"

Only the host (the user of the hit), the time and the request (its path is the endpoint) are
needed, so the Common and the Combined parser share one core and accept each other's lines:
everything after the status and the size (referer, user-agent, extra fields, or nothing) is
ignored. The parser works on bytes; ``line`` has no trailing ``\n`` and may end with ``\r``.

How the request is found: it starts at the first ``"`` after the ``[time]`` and ends at the
first ``"`` that is followed by `` NNN SIZE`` (a three-digit status, then digits or ``-``, then
a space or the end of the line). Searching from the left, not the right, keeps fields from
shifting on lines with an unescaped ``"`` in the request, with a third quoted field after the
user-agent, and with a user-agent cut off before its closing quote. A request may then contain
``"`` itself; only a request that contains ``" NNN SIZE `` would be cut short there, and since
the client chose that text, the endpoint is still its own choice.

The target is everything between the method (the first space-separated token) and the final
space-separated ``HTTP/...`` token when there is one, with surrounding spaces removed. Every
request that names a target is a hit; only a line with no request at all (``"-"``, ``""``,
a method alone) is bad. The endpoint is the target up to the first ``?`` or ``#``; an
absolute URI (``scheme://authority``) gives its path, or ``/`` when it has none; ``CONNECT``
gives its authority (``host:port``); ``OPTIONS *`` gives ``OPTIONS *`` (and ``GET *``,
``GET *``). A target longer than an endpoint may be (4096 characters) is cut and marked:
its first characters, then ``...[truncated]``, so a flood of long requests is counted under
one visible endpoint.
Bytes are decoded as UTF-8 with
``errors="backslashreplace"``; nothing is percent-decoded or unescaped (a logged ``\"`` or
``\xHH`` stays as logged), and control characters stay in the endpoint as data.

Decisions for the oddities listed in ``shared/data/real/SOURCES.md`` (hit = parsed; otherwise
the BadLine reason is given):

| SOURCES.md oddity                               | decision                                     |
| ----------------------------------------------- | -------------------------------------------- |
| 1 escaped ``\"`` in the request                 | hit; the backslash stays in the endpoint     |
| 1 unescaped ``"``: ``"GET" /hostadmin/?page='`` | hit ``/hostadmin/`` (method ``GET"``)        |
| 1 ``\xHH`` escapes in the referer               | hit (the referer is not read)                |
| 2 ``-`` size                                    | hit                                          |
| 2 ``"-"`` request (status 408)                  | BadLine ``no request``                       |
| 2 empty ``""`` request (status 400)             | BadLine ``empty request``                    |
| 3 IPv6, DNS name or impossible IPv4 host        | hit; user = the first field as written       |
| 4 raw non-UTF-8 bytes in the target             | hit; each bad byte becomes ``\xHH`` text     |
| 4 control bytes, TAB in the target              | hit; kept in the endpoint as data            |
| 4 binary junk without a space (``\x05\x01``)    | BadLine ``no target in request``             |
| 4/9 path over 4096 chars (SEARCH floods)        | hit; first chars + ``...[truncated]``        |
| 5 user-agent without its closing quote          | hit: host, time and request are intact       |
| 5 UA-only redaction stub `` "curl/7.54.0"``     | BadLine ``not an access log line``           |
| 6 HTTP/0.9 request, no protocol                 | hit; target = all after the method           |
| 6 several spaces before the protocol            | hit; the spaces are stripped                 |
| 6 ``HTTP/V1.0`` (last token ``HTTP/...``)       | hit; the protocol is not validated           |
| 6 absolute URI ``GET http://h:p/path?q``        | hit ``/path`` (``/`` when it has no path)    |
| 6 ``CONNECT host:port``                         | hit ``host:port`` (the authority)            |
| 6 ``OPTIONS *`` (any method with target ``*``) | hit ``OPTIONS *`` (``*`` would be a glob)    |
| 6 relative ``GET photo/``, ``../../etc/*``      | hit; the target as written, no query         |
| 6 spaces inside the target                      | hit; the endpoint keeps its inner spaces     |
| 6 lowercase/garbage method (``get``, ``200``)   | hit; the method is not read                  |
| 6 ``GET!not found /x HTTP/1.0``                 | hit ``found /x`` (what follows the method)   |
| 6 ``GET HTTP/1.0``, method only                 | BadLine ``no target in request``             |
| 6 ``GET ?x=1`` (a query, no path)               | BadLine ``no path before the query ...``     |
| 7 CRLF line endings                             | hit; the ``\r`` is stripped                  |
| 8 a third quoted field after the user-agent     | hit (all after the size is ignored)          |
| 10 an offset -1200..+1400, out-of-order seconds | hit; ts = UTC epoch seconds                  |
| 11 any three-digit status (499 ...)             | hit; the status is read only for ``--key``    |
| bad month, day, hour or offset in ``[time]``    | BadLine ``bad timestamp``                    |
| time before 1970 or after 9999 (UTC)            | BadLine from ``check_ts``                    |
| no ``[time]`` after host, ident and user        | BadLine ``not an access log line``           |
| no quote + status + size after the request      | BadLine ``no status and size after request`` |
| empty or blank line                             | BadLine ``empty line``                       |
| no ``"`` right after ``[time]``                 | BadLine ``no quoted request``                |
| host over 1024 characters                       | BadLine ``user longer than 1024 characters`` |

Every failure raises :class:`~hitcount.model.hits.BadLine`; no other exception escapes for
any ``bytes`` input.
"""

from __future__ import annotations

import datetime as _dt
import re

from hitcount.model.hits import (
    MAX_ENDPOINT_CHARS,
    MAX_TS,
    MAX_USER_CHARS,
    TRUNCATED_MARK,
    BadLine,
    Hit,
    check_ts,
    is_earth_offset,
    latest_plausible_ts,
)

__all__ = [
    "endpoint_of_request",
    "endpoint_of_target",
    "parse_combined",
    "parse_common",
    "sniff_access_log",
]

# host ident user [dd/Mon/yyyy:hh:mm:ss +hhmm] "request" status size( rest)
# The user field may hold spaces (an authenticated name), but never "[", so "[^\[]*" can only
# stop at the time. The request is the shortest text up to a quote followed by status and size;
# it is matched as runs of non-quotes joined by quotes, which is linear and about five times
# faster on 8 KB lines than a lazy ".*?".
_LINE = re.compile(
    rb"([^ ]+) [^ ]+ [^\[]*\["
    rb"(\d\d/[A-Za-z]{3}/\d{4}):(\d\d:\d\d:\d\d) ([+-]\d{4})\]"
    rb' "([^"]*(?:"[^"]*)*?)" (\d{3}) (?:\d+|-)(?= |\Z)',
)
# Used only to explain why a line failed to match _LINE.
_HAS_TIME = re.compile(rb"[^ ]+ [^ ]+ [^\[]*\[[^\]]*\]", re.DOTALL)
_GOOD_TIME = re.compile(
    rb"[^ ]+ [^ ]+ [^\[]*\[\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]", re.DOTALL
)
_HAS_REQUEST = re.compile(rb'[^ ]+ [^ ]+ [^\[]*\[[^\]]*\] ".*"', re.DOTALL)
# scheme "://" authority, then "/" if the URI has a path.
_ABSOLUTE = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*://[^/?#]*(/?)")

_MONTHS: dict[bytes, int] = {}
for _number, _name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
):
    for _spelling in (_name, _name.upper(), _name.lower()):
        _MONTHS[_spelling.encode()] = _number

_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
_CACHE_LIMIT = 4096
# Caches of the validated parts of a time. Only valid keys are stored, so the clock and offset
# caches cannot exceed 87,840 and 2,880 entries; the day cache is emptied at _CACHE_LIMIT.
#: b"10/Oct/2000" -> epoch seconds of that day's midnight UTC.
_day_cache: dict[bytes, int] = {}
#: b"13:55:36" -> seconds since midnight.
_clock_cache: dict[bytes, int] = {}
#: b"-0700" -> seconds east of UTC (subtract from local time to get UTC).
_offset_cache: dict[bytes, int] = {}


def _day_start(date: bytes) -> int:
    """Epoch seconds at 00:00 UTC of ``dd/Mon/yyyy``; the format is already checked."""
    month = _MONTHS.get(date[3:6])
    if month is None:
        raise BadLine("bad timestamp")
    try:
        day = _dt.date(int(date[7:11]), month, int(date[0:2]))
    except ValueError as err:
        raise BadLine("bad timestamp") from err
    start = (day.toordinal() - _EPOCH_ORDINAL) * 86400
    if len(_day_cache) >= _CACHE_LIMIT:
        _day_cache.clear()
    _day_cache[date] = start
    return start


def _clock(text: bytes) -> int:
    """Seconds since midnight for ``hh:mm:ss``; the format is already checked."""
    hours = int(text[0:2])
    minutes = int(text[3:5])
    seconds = int(text[6:8])
    if hours > 23 or minutes > 59 or seconds > 60:
        raise BadLine("bad timestamp")
    total = hours * 3600 + minutes * 60 + seconds
    _clock_cache[text] = total
    return total


def _offset(text: bytes) -> int:
    """Seconds east of UTC for ``+hhmm`` / ``-hhmm``; the format is already checked."""
    hours = int(text[1:3])
    minutes = int(text[3:5])
    if hours > 23 or minutes > 59:
        raise BadLine("bad timestamp")
    seconds = hours * 3600 + minutes * 60
    if text[0:1] == b"-":
        seconds = -seconds
    if not is_earth_offset(seconds):
        raise BadLine("bad timestamp")
    _offset_cache[text] = seconds
    return seconds


def _no_match(line: bytes) -> BadLine:
    """The BadLine for a line that _LINE does not match, with the most useful reason."""
    if not line.strip():
        return BadLine("empty line")
    if not _HAS_TIME.match(line):
        return BadLine("not an access log line")
    if not _GOOD_TIME.match(line):
        return BadLine("bad timestamp")
    if not _HAS_REQUEST.match(line):
        return BadLine("no quoted request")
    return BadLine("no status and size after request")


def _decode_dirty(path: bytes) -> str:
    r"""Decode a path that is not valid UTF-8, each undecodable byte becoming ``\xHH`` text.

    The backslashreplace handler costs about 0.15 us per undecodable byte (600 us for one of
    the 8 KB SEARCH floods), so the length is checked first with the fast "surrogateescape" and
    "ignore" handlers. All three see the same undecodable bytes: "ignore" drops each one,
    "surrogateescape" makes each one character, and backslashreplace makes each four. A path
    too long for an endpoint is decoded only as far as its truncated endpoint needs.
    """
    lenient = len(path.decode("utf-8", "surrogateescape"))
    valid = len(path.decode("utf-8", "ignore"))
    if lenient > MAX_ENDPOINT_CHARS or valid + 4 * (lenient - valid) > MAX_ENDPOINT_CHARS:
        return _truncated(path)
    return path.decode("utf-8", "backslashreplace")


def _truncated(path: bytes) -> str:
    """The endpoint of a path too long to keep: its first characters, then `TRUNCATED_MARK`.

    Only a prefix of the bytes is decoded, doubled until it holds more characters than are
    kept, plus room for a character that the cut splits (at most 3 bytes, 12 characters).
    """
    keep = MAX_ENDPOINT_CHARS - len(TRUNCATED_MARK)
    size = keep // 4 + 1
    while True:
        text = path[:size].decode("utf-8", "backslashreplace")
        if len(text) > keep + 12 or size >= len(path):
            return text[:keep] + TRUNCATED_MARK
        size *= 2


def _endpoint(request: bytes) -> str:
    """The endpoint of a request line ``METHOD target [HTTP/x.y]``."""
    request = request.strip(b" ")
    if request == b"-":
        raise BadLine("no request")
    if not request:
        raise BadLine("empty request")
    method, _, rest = request.partition(b" ")
    head, space, last = rest.rpartition(b" ")
    target = (head if space else b"") if last[:5].upper() == b"HTTP/" else rest
    return endpoint_of_target(target, method)


def endpoint_of_target(target: bytes, method: bytes | None = None) -> str:
    """The endpoint of a request's target (`$request_uri`), as the parsers read a request:
    the path of an absolute URI, without its query and fragment; `*` is `METHOD *` (only
    `OPTIONS` asks it: `OPTIONS *` when the method is unknown), `CONNECT`'s authority whole.

    Raises:
        BadLine: no target, or no path before its query.
    """  # noqa: D205
    target = target.strip(b" ")
    if not target:
        raise BadLine("no target in request")
    if target == b"*":  # `OPTIONS *` asks about the server; "*" alone would read as a glob
        return (method or b"OPTIONS").decode("utf-8", "backslashreplace") + " *"
    if method is not None and method.upper() == b"CONNECT":  # the authority, host:port
        return _decoded(target)
    found = _ABSOLUTE.match(target) if target[:1] != b"/" else None
    if found is not None:
        if not found.group(1):
            return "/"
        target = target[found.end() - 1 :]
    path = target.partition(b"?")[0].partition(b"#")[0]
    if not path:
        raise BadLine("no path before the query in target")
    return _decoded(path)


def endpoint_of_request(request: bytes) -> str:
    """The endpoint of a request line ``METHOD target [HTTP/x.y]``, as the parsers read it.

    Raises:
        BadLine: no request, or no usable target.
    """
    return _endpoint(request)


def _decoded(path: bytes) -> str:
    """A path (or any target) as endpoint text: UTF-8, else backslash escapes; truncated."""
    if len(path) > 4 * MAX_ENDPOINT_CHARS:  # a character is made of at most four bytes
        return _truncated(path)
    try:
        endpoint = path.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_dirty(path)
    return endpoint if len(endpoint) <= MAX_ENDPOINT_CHARS else _truncated(path)


def _parse(line: bytes) -> Hit:
    """The shared core of parse_common and parse_combined."""
    return _parse_match(_match(line))


def _match(line: bytes) -> re.Match[bytes]:
    if line[-1:] == b"\r":
        line = line[:-1]
    found = _LINE.match(line)
    if found is None:
        raise _no_match(line)
    return found


def access_record(line: bytes) -> tuple[Hit, dict[str, object]]:
    r"""The hit of an access-log line and the fields `--key`/`--where` may name.

    Fields: ``path`` (the endpoint), ``method`` (as logged), ``status`` (a number),
    ``status_class`` (``5xx``), ``host`` and ``user`` (the client host), ``ts``.

    Raises:
        BadLine: as `parse_combined`.
    """
    found = _match(line)
    hit = _parse_match(found)
    method = found.group(5).strip(b" ").partition(b" ")[0].decode("utf-8", "backslashreplace")
    status = int(found.group(6))
    fields: dict[str, object] = {
        "path": hit.endpoint, "ts": hit.ts, "user": hit.user, "host": hit.user,
        "method": method, "status": status, "status_class": f"{status // 100}xx",
    }  # fmt: skip
    return hit, fields


def _parse_match(found: re.Match[bytes]) -> Hit:
    host, date, clock, zone, request, _status = found.groups()
    start = _day_cache.get(date)
    if start is None:
        start = _day_start(date)
    since_midnight = _clock_cache.get(clock)
    if since_midnight is None:
        since_midnight = _clock(clock)
    east = _offset_cache.get(zone)
    if east is None:
        east = _offset(zone)
    ts = float(start + since_midnight - east)
    if ts < 0.0 or ts > MAX_TS:
        check_ts(ts)  # raises the reason
    if ts > latest_plausible_ts():
        check_ts(ts)
    user = host.decode("utf-8", "backslashreplace")
    if len(user) > MAX_USER_CHARS:
        raise BadLine(f"user longer than {MAX_USER_CHARS} characters")
    return Hit(_endpoint(request), ts, user)


def parse_common(line: bytes) -> Hit:
    r"""Parse one Common Log Format line (``%h %l %u %t "%r" %>s %b``) into a hit.

    Combined lines are accepted too: whatever follows the size is ignored.

    Args:
        line: one log line as bytes, without ``\n``; a trailing ``\r`` is stripped.

    Returns:
        The hit: endpoint = request path without query or fragment, ts = epoch seconds,
        user = client host.

    Raises:
        BadLine: the line is not an access log line, or has no usable request path or time.
    """
    return _parse(line)


def parse_combined(line: bytes) -> Hit:
    r"""Parse one Combined Log Format line (Common plus ``"referer" "user-agent"``) into a hit.

    Common lines, lines with extra trailing fields and lines whose user-agent lost its closing
    quote are accepted too: referer and user-agent are not needed.

    Args:
        line: one log line as bytes, without ``\n``; a trailing ``\r`` is stripped.

    Returns:
        The hit: endpoint = request path without query or fragment, ts = epoch seconds,
        user = client host.

    Raises:
        BadLine: the line is not an access log line, or has no usable request path or time.
    """
    return _parse(line)


def sniff_access_log(line: bytes) -> str | None:
    r"""Guess the access log format from a (first) line.

    The line needs only the shape of an access log line (host, ident, user, a valid-looking
    ``[time]``, a quoted request, status and size); its request need not yield an endpoint.

    Args:
        line: one line as bytes, with or without a trailing ``\r\n``.

    Returns:
        ``"combined"`` when a quoted field follows the size, ``"common"`` when the line ends
        after the size (or continues with something else), None when it is not an access log
        line.
    """
    line = line.rstrip(b"\r\n")
    found = _LINE.match(line)
    if found is None:
        return None
    if line[found.end() : found.end() + 2] == b' "':
        return "combined"
    return "common"
