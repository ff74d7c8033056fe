"""Access logs in a custom layout, given as nginx `log_format` or Apache `LogFormat` text.

`replay --log-format '$remote_addr [$time_local] "$request" $status $request_time'` (nginx)
or `--log-format '%h %l %u %t "%r" %>s %b %D'` (Apache) reads lines of that shape. Each
variable matches up to the text that follows it in the format; literal text must match as
written. The hit's time comes from `$time_local` / `%t`, `$time_iso8601` or `$msec`; its
endpoint from `$request` / `%r` (as the combined parser reads a request), else `$request_uri`
/ `%U` / `$uri`; its user from `$remote_addr` / `%h`. Every variable is a field for `--key`
and `--where` under its nginx name (`status`, `request_method`, `host`, `http_user_agent`);
`method`, `path` and `status_class` are there too.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from hitcount.errors import ConfigurationError
from hitcount.ingest.formats.access_log import endpoint_of_request, is_earth_offset
from hitcount.model.hits import BadLine, Hit, check_endpoint, check_ts, check_user, plain_float
from hitcount.model.keys import status_class

#: Apache `LogFormat` directives and the nginx variable each stands for.
APACHE = {
    "%h": "remote_addr", "%a": "remote_addr", "%l": "remote_logname", "%u": "remote_user",
    "%t": "time_local", "%r": "request", "%>s": "status", "%s": "status",
    "%b": "body_bytes_sent", "%B": "body_bytes_sent", "%D": "request_time_us",
    "%T": "request_time", "%U": "uri", "%m": "request_method", "%q": "args",
    "%H": "server_protocol", "%v": "host", "%V": "host", "%{Referer}i": "http_referer",
    "%{User-Agent}i": "http_user_agent", "%{Host}i": "host",
}  # fmt: skip
_APACHE_TOKEN = re.compile(r"%(?:\{[^}]*\}[a-zA-Z]|>?[a-zA-Z])")
_NGINX_TOKEN = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
#: How a variable's value may look when it has a known shape (others: up to the next text).
_SHAPES = {"time_local": r"[^\]]+", "status": r"\d{3}", "remote_addr": r"\S+"}
_TIMES = ("time_local", "time_iso8601", "msec")


def nginx_variables(layout: str) -> str:
    """An Apache `LogFormat` in nginx terms (`%h` -> `$remote_addr`); nginx text unchanged.

    Raises:
        ConfigurationError: an Apache directive hitcount does not know.
    """
    if "%" not in layout:
        return layout

    def name(found: re.Match[str]) -> str:
        token = found.group(0)
        if token not in APACHE:
            raise ConfigurationError(
                f"--log-format: unknown directive {token}",
                hint=f"known: {' '.join(APACHE)}",
            )
        return "${" + APACHE[token] + "}"

    return _APACHE_TOKEN.sub(name, layout.replace("[%t]", "%t")).replace(
        "${time_local}", "[${time_local}]"
    )


class LogFormatParser:
    """Lines of one custom layout, each a hit and its named fields."""

    name = "log_format"

    def __init__(self, layout: str) -> None:
        """Compile `layout`.

        Raises:
            ConfigurationError: no variable for the time or for the endpoint.
        """
        self.layout = nginx_variables(layout)
        self.names: list[str] = []
        parts, position = [], 0
        for found in _NGINX_TOKEN.finditer(self.layout):
            parts.append(re.escape(self.layout[position : found.start()]))
            name = found.group(1) or found.group(2)
            parts.append(f"(?P<v{len(self.names)}>{_SHAPES.get(name, '.*?')})")
            self.names.append(name)
            position = found.end()
        parts.append(re.escape(self.layout[position:]))
        self.pattern = re.compile("".join(parts) + r"\s*\Z", re.S)
        if not any(name in self.names for name in _TIMES):
            raise ConfigurationError(
                "--log-format needs a time: $time_local (%t), $time_iso8601 or $msec"
            )
        if not {"request", "request_uri", "uri"} & set(self.names):
            raise ConfigurationError(
                "--log-format needs a request: $request (%r), $request_uri or $uri (%U)"
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
        found = self.pattern.match(text)
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
        path = target.partition("?")[0]
        if not path:
            raise BadLine("no path in the request")
        return str(path)

    def _ts(self, fields: dict[str, Any]) -> float:
        try:
            if "time_local" in fields:
                moment = datetime.strptime(fields["time_local"], "%d/%b/%Y:%H:%M:%S %z")
                east = moment.utcoffset()
                if east is None or not is_earth_offset(east.total_seconds()):
                    raise ValueError("an offset no place uses")
            elif "time_iso8601" in fields:
                moment = datetime.fromisoformat(fields["time_iso8601"].replace("Z", "+00:00"))
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=timezone.utc)
            else:
                return check_ts(plain_float(fields["msec"]))
        except ValueError as err:
            raise BadLine("bad timestamp") from err
        return check_ts(moment.timestamp())
