"""NDJSON input: `{"endpoint": "/api", "ts": 1700000000.25, "user": "u42"}` per line.

`ts` (or `timestamp`) is epoch seconds (int or float), epoch milliseconds when above 1e11,
or an ISO 8601 string (with an offset; without one it is read as UTC). Other fields are
ignored.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from hitcount.model.hits import BadLine, Hit, check_endpoint, check_user, epoch_from_value


class _Line(msgspec.Struct):
    endpoint: Any = None
    ts: Any = None
    timestamp: Any = None
    user: Any = None


_decoder = msgspec.json.Decoder(_Line)
#: A `\uD800`-`\uDBFF` escape: the first half of a UTF-16 surrogate pair.
_HIGH_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")


class NdjsonParser:
    """Parses one NDJSON line into a hit."""

    name = "ndjson"

    def parse(self, line: bytes) -> Hit | None:
        """The hit on this line, or None for a blank line.

        Raises:
            BadLine: invalid JSON, not an object, missing or invalid field.
        """
        if not line.strip():
            return None
        try:
            record = _decoder.decode(line)
        except msgspec.ValidationError as err:
            if str(err).startswith("Expected `object`"):
                raise BadLine(f"not a JSON object ({err})") from err
            raise BadLine(f"invalid value ({err})") from err
        except msgspec.DecodeError as err:
            raise invalid_json(err, line) from err
        except UnicodeDecodeError as err:
            raise BadLine(f"invalid JSON (not UTF-8 at byte {err.start})") from err
        except RecursionError as err:
            raise BadLine("invalid JSON (values nested too deeply)") from err
        return ndjson_hit(record.endpoint, record.ts, record.timestamp, record.user)


def invalid_json(err: Exception, line: bytes) -> BadLine:
    """The bad line a JSON decoding error makes: msgspec says a lone high-surrogate escape
    (its pair missing) "was truncated"; the line was not."""  # noqa: D205, D209
    reason = str(err)
    if reason == "Input data was truncated" and _HIGH_SURROGATE.search(line):
        reason = "a \\uD800-\\uDBFF escape without the low surrogate that must follow it"
    return BadLine(f"invalid JSON ({reason})")


def ndjson_hit(endpoint: Any, ts: Any, timestamp: Any, user: Any) -> Hit:
    """The hit of a decoded line's fields, checked (`ts` first, else `timestamp`).

    Raises:
        BadLine: a missing or invalid field.
    """
    if endpoint is None:
        raise BadLine("missing field 'endpoint'")
    raw_ts = ts if ts is not None else timestamp
    if raw_ts is None:
        raise BadLine("missing field 'ts' (or 'timestamp')")
    return Hit(check_endpoint(endpoint), epoch_from_value(raw_ts), check_user(user))
