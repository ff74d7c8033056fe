"""Access logs in a custom layout, given as nginx `log_format` or Apache `LogFormat` text.

`replay --log-format '$remote_addr [$time_local] "$request" $status $request_time'` (nginx)
or `--log-format '%h %l %u %t "%r" %>s %b %D'` (Apache) reads lines of that shape. Each
variable's value runs up to the text that follows it in the layout (`_Layout` says how a
line that does not fit is tried again); literal text must match as written. The hit's time
comes from `$time_local` / `%t`, `$time_iso8601` or `$msec`; its endpoint from `$request` /
`%r` (as the combined parser reads a request), else `$request_uri` / `%U` / `$uri`; its user
from `$remote_addr` / `%h`. Every variable is a field for `--key` and `--where` under its
nginx name (`status`, `request_method`, `host`, `http_user_agent`); `method`, `path` and
`status_class` are there too.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from hitcount.errors import ConfigurationError
from hitcount.ingest.formats.access_log import endpoint_of_request, endpoint_of_target
from hitcount.model.hits import (
    BadLine,
    Hit,
    check_endpoint,
    check_ts,
    check_user,
    epoch_from_iso,
    is_earth_offset,
    plain_float,
)
from hitcount.model.keys import status_class

#: Apache `LogFormat` directives and the nginx variable each stands for (`%{Name}i` and
#: the other `%{...}x` forms: `_apache_braced`).
APACHE = {
    "%h": "remote_addr", "%a": "remote_addr", "%A": "server_addr", "%l": "remote_logname",
    "%u": "remote_user", "%t": "time_local", "%r": "request", "%>s": "status", "%s": "status",
    "%<s": "original_status", "%b": "body_bytes_sent", "%B": "body_bytes_sent",
    "%D": "request_time_us", "%T": "request_time", "%U": "uri", "%m": "request_method",
    "%q": "args", "%H": "server_protocol", "%v": "host", "%V": "host", "%p": "server_port",
    "%P": "pid", "%I": "bytes_received", "%O": "bytes_sent", "%S": "bytes_transferred",
    "%L": "request_log_id", "%k": "connection_requests", "%X": "connection_status",
    "%R": "handler", "%f": "request_filename",
}  # fmt: skip
#: `%{...}T`, `%{...}p` and `%{sec}t`: their variables.
_BRACED = {
    ("s", "T"): "request_time", ("ms", "T"): "request_time_ms", ("us", "T"): "request_time_us",
    ("canonical", "p"): "server_port", ("local", "p"): "server_port",
    ("remote", "p"): "remote_port", ("c", "a"): "remote_addr", ("sec", "t"): "msec",
}  # fmt: skip
#: `%{Name}i` (a request header), `o` (a response header), `C` (a cookie), `e`, `n`.
_HEADER_KINDS = {"i": "http_", "o": "sent_http_", "C": "cookie_", "e": "env_", "n": "note_"}
_APACHE_TOKEN = re.compile(r"%(?:%|\{([^}]*)\}([a-zA-Z])|[<>]?[a-zA-Z])")
_NGINX_TOKEN = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
#: How a variable's value may look when it has a known shape (others: up to the next text).
_SHAPES = {
    "time_local": r"[^\]]+", "status": r"\d{3}", "remote_addr": r"\S+",
    "body_bytes_sent": r"\d+|-", "bytes_sent": r"\d+|-", "request_time": r"\d+(?:\.\d+)?|-",
    "request_time_us": r"\d+|-", "msec": r"\d+(?:\.\d+)?", "bytes_received": r"\d+|-",
}  # fmt: skip
_TIMES = ("time_local", "time_iso8601", "msec")


def nginx_variables(layout: str) -> str:
    """An Apache `LogFormat` in nginx terms (`%h` -> `$remote_addr`, `%{X-Id}i` ->
    `$http_x_id`, `%%` -> `%`); nginx text unchanged. A `\\"` copied from a config file's
    quoted string is the quote it stands for.

    Raises:
        ConfigurationError: an Apache directive hitcount does not know.
    """  # noqa: D205, D301
    layout = layout.replace('\\"', '"')
    if "%" not in layout:
        return layout

    def name(found: re.Match[str]) -> str:
        token = found.group(0)
        if token == "%%":
            return "%"
        variable = APACHE.get(token) or _apache_braced(found.group(1), found.group(2))
        if variable is None:
            raise ConfigurationError(
                f"--log-format: unknown directive {token}",
                hint=f"known: {' '.join(APACHE)} %{{Header}}i %{{Header}}o %{{Cookie}}C"
                " %{ms}T %{us}T %{sec}t (a %{format}t time: log %t or %{sec}t instead)",
            )
        return "${" + variable + "}"

    return _APACHE_TOKEN.sub(name, layout.replace("[%t]", "%t")).replace(
        "${time_local}", "[${time_local}]"
    )


def canonical_layout(layout: str) -> str:
    """A layout in the one form layouts are kept and compared in: nginx's, every variable
    written `${name}` (`$host` and `${host}`, `%{Host}i` and `%{host}i` are one)."""  # noqa: D205, D209
    return _NGINX_TOKEN.sub(lambda found: "${" + _variable(found) + "}", nginx_variables(layout))


def _apache_braced(inside: str | None, kind: str | None) -> str | None:
    """The variable of `%{inside}kind` (None: unknown); headers as nginx names them."""
    if inside is None or kind is None:
        return None
    if kind in _HEADER_KINDS and inside:
        header = re.sub(r"[^a-z0-9]", "_", inside.lower())
        return "host" if (kind, header) == ("i", "host") else _HEADER_KINDS[kind] + header
    return _BRACED.get((inside, kind))


#: A line the exact patterns miss is tried by the lenient one only when it is this short and
#: holds at most `_LENIENT_EXTRA` more of the texts that end values than the layout: each is
#: a place a value may end, and the tries multiply.
_LENIENT_MAX_CHARS = 8192
_LENIENT_EXTRA = 8
#: The longest line a layout reads where a variable sits right before one of a set shape
#: (`$method$status`): nothing marks where the first ends, so each place is tried, and time
#: grows with a power of the length (about 0.1 s at this length for a line that does not
#: fit). Before a variable of any shape (`$host$request_uri`), the first value is empty and
#: the second takes it all, as a lazy match of both did: no limit.
SIDE_BY_SIDE_MAX_CHARS = 1024


class _Layout:
    r"""A layout's patterns, tried in turn on a line (each a group `v<i>` per variable).

    1. exact: each value runs up to the first character of the text after it in the layout
       (inside quotes, Apache's `\"` escape is part of it; nginx writes `\x22`), so a line
       that does not fit fails in time linear in its length;
    2. the same, then more fields after a space (a log with fields the layout leaves out);
    3. lenient, for short lines: a value may hold the text that ends it where the rest
       still fits (a client's unescaped `"` in a request, garbled lines).
    """

    def __init__(self, layout: str) -> None:
        self.names: list[str] = []
        exact, lenient, position = [], [], 0
        tokens = list(_NGINX_TOKEN.finditer(layout))
        #: Whether a value has no text after it and a value of a set shape right after.
        self.side_by_side = False
        #: Variables with no text between them, the first read empty (`$host$request_uri`).
        self.together: list[tuple[str, str]] = []
        #: The texts after the values the lenient pattern lets run across them, and how
        #: often the layout itself holds them (see `_lenient_fits`).
        self.stops: set[str] = set()
        for index, found in enumerate(tokens):
            text = re.escape(layout[position : found.start()])
            name = _variable(found)
            last = index + 1 == len(tokens)
            after = layout[found.end() : len(layout) if last else tokens[index + 1].start()]
            shape = _SHAPES.get(name)
            if shape is None and after:
                self.stops.add(after)
            if not (after or last or shape):  # `$a$b`: nothing marks where `$a` ends
                following = _variable(tokens[index + 1])
                # the next value takes it all when it may (as a lazy match of both did)
                free = _SHAPES.get(following, r"\S+") == r"\S+"
                shape = "" if free else r"\S*?"
                self.side_by_side |= not free
                if free:
                    self.together.append((name, following))
            group = f"(?P<v{len(self.names)}>"
            exact.append(f"{text}{group}{_value_until(after, last) if shape is None else shape})")
            lenient.append(
                f"{text}{group}{_value_across(after, last) if shape is None else shape})"
            )
            self.names.append(name)
            position = found.end()
        tail = re.escape(layout[position:])
        ends_free = not tail and bool(tokens) and self.names[-1] not in _SHAPES
        self.exact = re.compile("".join(exact) + tail + r"\s*\Z", re.S)
        extra = "".join(exact) + tail + r"\s.*\Z"
        self.extra = None if ends_free else re.compile(extra, re.S)
        self.lenient = re.compile("".join(lenient) + tail + r"\s*\Z", re.S)
        skeleton = _NGINX_TOKEN.sub("\0", layout)
        self.held = sum(skeleton.count(stop) for stop in self.stops)

    def match(self, text: str) -> re.Match[str] | None:
        """The first pattern that reads `text` whole (None: none does).

        Raises:
            BadLine: a line too long for a layout with values side by side.
        """
        if self.side_by_side and len(text) > SIDE_BY_SIDE_MAX_CHARS:
            raise BadLine(
                f"line longer than {SIDE_BY_SIDE_MAX_CHARS} characters, the most a layout with a"
                " variable right before one of a set shape ($a$status) reads"
            )
        found = self.exact.match(text)
        if found is None and self.extra is not None:
            found = self.extra.match(text)
        if found is None and self._lenient_fits(text):
            found = self.lenient.match(text)
        return found

    def _lenient_fits(self, text: str) -> bool:
        """Whether the lenient pattern may try `text`: each more place a value could end
        multiplies its tries, so only a short line with few of them more than the layout."""  # noqa: D205, D209
        if len(text) > _LENIENT_MAX_CHARS:
            return False
        return sum(text.count(stop) for stop in self.stops) <= self.held + _LENIENT_EXTRA


def _variable(token: re.Match[str]) -> str:
    """The name of a `$name` or `${name}` token."""
    return token.group(1) or token.group(2)


def _value_until(text: str, last: bool) -> str:
    """A value up to the first character of `text` (the layout after the variable)."""
    if not text:
        return _value_at_end(last)
    if text[0] == '"':
        return r'(?:[^"\\]|\\.)*'
    return f"[^{re.escape(text[0])}]*"


def _value_across(text: str, last: bool) -> str:
    """A value that may hold the first character of `text`: runs of other characters
    joined by it, as few as fit (backtracking only where that character is)."""  # noqa: D205, D209
    if not text:
        return _value_at_end(last)
    stop = re.escape(text[0])
    return f"[^{stop}]*(?:{stop}[^{stop}]*)*?"


def _value_at_end(last: bool) -> str:
    """A value with no text after it: the last one, the rest of the line but its trailing
    spaces (one greedy run, then back over the spaces)."""  # noqa: D205, D209
    return r"(?:.*\S)?" if last else ".*?"


class LogFormatParser:
    """Lines of one custom layout, each a hit and its named fields."""

    name = "log_format"

    def __init__(self, layout: str) -> None:
        """Compile `layout`.

        Raises:
            ConfigurationError: no variable for the time or for the endpoint.
        """
        self.layout = nginx_variables(layout)
        self.patterns = _Layout(self.layout)
        self.names = self.patterns.names
        if not any(name in self.names for name in _TIMES):
            raise ConfigurationError(
                "--log-format needs a time: $time_local (%t), $time_iso8601 or $msec"
            )
        if not {"request", "request_uri", "uri"} & set(self.names):
            raise ConfigurationError(
                "--log-format needs a request: $request (%r), $request_uri or $uri (%U)"
            )
        self._refuse_unsplit_hits()

    def _refuse_unsplit_hits(self) -> None:
        """Refuse a layout whose endpoint or time comes from one of two variables with no
        text between them (`$request_method$request_uri`): the first always reads empty and
        the second both, so every endpoint would be wrong.

        Raises:
            ConfigurationError: naming the two variables.
        """  # noqa: D205
        used = {"request"} if "request" in self.names else {"request_uri", "uri"}
        used.update(name for name in _TIMES if name in self.names)
        for first, second in self.patterns.together:
            if {first, second} & used:
                raise ConfigurationError(
                    f"--log-format: ${first} and ${second} have no text between them, so"
                    " where one ends is unknown",
                    hint="write the text the log has between them into the layout, or take"
                    " the endpoint from $request",
                )

    def parse(self, line: bytes) -> Hit | None:
        """The hit on this line, or None for a blank line.

        Raises:
            BadLine: the line does not have the layout, or no usable time or endpoint.
        """
        found = self.record(line)
        return None if found is None else found[0]

    def record(self, line: bytes) -> tuple[Hit, dict[str, Any]] | None:
        """The hit on this line and its fields (None for a blank line).

        Raises:
            BadLine: as `parse`.
        """
        text = line.decode("utf-8", "backslashreplace").rstrip("\r")
        if not text.strip():
            return None
        found = self.patterns.match(text)
        if found is None:
            raise BadLine("line does not have the --log-format layout")
        fields: dict[str, Any] = {
            name: found.group(f"v{index}") for index, name in enumerate(self.names)
        }
        hit = Hit(check_endpoint(self._endpoint(fields)), self._ts(fields),
                  check_user(fields.get("remote_addr")))  # fmt: skip
        fields.update(path=hit.endpoint, ts=hit.ts, user=hit.user)
        fields.setdefault("host", fields.get("remote_addr"))
        if "status" in fields:
            fields["status"] = int(fields["status"])
            fields["status_class"] = status_class(fields["status"])
        if "request" in fields:
            fields.setdefault("request_method", fields["request"].partition(" ")[0])
        if "request_method" in fields:
            fields["method"] = fields["request_method"]
        return hit, fields

    def _endpoint(self, fields: dict[str, Any]) -> str:
        if "request" in fields:
            return endpoint_of_request(fields["request"].encode("utf-8", "surrogateescape"))
        target = fields.get("request_uri") or fields.get("uri") or ""
        method = fields.get("request_method")
        raw = None if not method else method.encode("utf-8", "surrogateescape")
        return endpoint_of_target(target.encode("utf-8", "surrogateescape"), raw)

    def _ts(self, fields: dict[str, Any]) -> float:
        try:
            if "time_local" in fields:
                moment = datetime.strptime(fields["time_local"], "%d/%b/%Y:%H:%M:%S %z")
                east = moment.utcoffset()
                if east is None or not is_earth_offset(east.total_seconds()):
                    raise ValueError("an offset no place uses")
            elif "time_iso8601" in fields:
                return epoch_from_iso(fields["time_iso8601"])  # as NDJSON and CSV read it
            else:
                return check_ts(plain_float(fields["msec"]))
        except ValueError as err:
            raise BadLine("bad timestamp") from err
        return check_ts(moment.timestamp())
