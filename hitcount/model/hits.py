"""The record every input format produces, and the checks every format shares."""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timezone

import msgspec

#: Longest endpoint accepted, in characters; longer ones are bad lines.
MAX_ENDPOINT_CHARS = 4096
#: How an endpoint cut to MAX_ENDPOINT_CHARS ends (access-log targets longer than that).
TRUNCATED_MARK = "...[truncated]"
#: Longest user (client id) kept, in characters; longer ones are bad lines.
MAX_USER_CHARS = 1024
#: Epoch values above this are read as milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
EPOCH_MS_THRESHOLD = 1e11
#: Latest timestamp a state may hold (epoch seconds): 9999-12-31T23:59:59Z.
MAX_TS = 253402300799.0
#: How far past the wall clock an input timestamp may be before it is absurd, in seconds.
FUTURE_SLACK_S = 366 * 86400.0


class Hit(msgspec.Struct, frozen=True):
    """One hit: an endpoint at a time (epoch seconds), with an optional user."""

    endpoint: str
    ts: float
    user: str | None = None


class BadLine(Exception):  # noqa: N818 - a bad line is an expected outcome, not an error
    """Raised by a line parser when a line cannot become a hit; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_endpoint(endpoint: object) -> str:
    """Return `endpoint` if it is a usable endpoint string.

    Raises:
        BadLine: not a string, empty, or longer than MAX_ENDPOINT_CHARS.
    """
    if not isinstance(endpoint, str):
        raise BadLine(f"endpoint must be a string, got {type(endpoint).__name__}")
    if not endpoint:
        raise BadLine("empty endpoint")
    if len(endpoint) > MAX_ENDPOINT_CHARS:
        raise BadLine(f"endpoint longer than {MAX_ENDPOINT_CHARS} characters")
    if not endpoint.isascii():
        try:
            endpoint.encode("utf-8")
        except UnicodeEncodeError as err:
            raise BadLine("endpoint is not valid Unicode (lone surrogate)") from err
    return endpoint


def check_user(user: object) -> str | None:
    """Return `user` as a string (None when absent or empty: `""` names nobody, in every
    format).

    Raises:
        BadLine: a user that is not a string or number, or is too long.
    """  # noqa: D205
    if user is None or user == "":
        return None
    if isinstance(user, bool) or not isinstance(user, (str, int)):
        raise BadLine(f"user must be a string, got {type(user).__name__}")
    text = str(user)
    if len(text) > MAX_USER_CHARS:
        raise BadLine(f"user longer than {MAX_USER_CHARS} characters")
    return text


def as_seconds(ts: object) -> float:
    """A timestamp given to the library (`record`, `record_many`) as a float.

    Raises:
        BadLine: not a number (a string is refused: files' timestamps are parsed by formats).
    """
    if isinstance(ts, str | bytes | bool) or not hasattr(ts, "__float__"):
        shown = f" {ts!r:.40}" if isinstance(ts, str | bytes) else ""
        raise BadLine(
            f"timestamp must be a number of epoch seconds, got {type(ts).__name__}{shown}"
        )
    try:
        return float(ts)
    except (OverflowError, ValueError, TypeError) as err:
        raise BadLine(f"timestamp is not a usable number: {err}") from err


def check_ts(ts: float) -> float:
    """Return `ts` (epoch seconds) if it is finite, after 1970 and at most a year ahead.

    Raises:
        BadLine: NaN, infinite, negative, or more than a year past the wall clock.
    """
    if not math.isfinite(ts):
        raise BadLine(f"timestamp is not finite: {ts!r}")
    if ts < 0:
        raise BadLine(f"timestamp before 1970: {ts!r}")
    if ts > MAX_TS:
        raise BadLine(f"timestamp after year 9999: {ts!r}")
    if ts > latest_plausible_ts():
        raise BadLine(f"timestamp more than a year in the future: {ts!r} (a typo?)")
    return float(ts)


def latest_plausible_ts() -> float:
    """The latest timestamp accepted from input: a year past the wall clock.

    A line dated centuries ahead (an extra digit) would otherwise move the replay clock
    there and prune every real hit.
    """
    return min(MAX_TS, time.time() + FUTURE_SLACK_S)


def plain_float(text: str) -> float:
    """`float(text)` for a number as JSON or a log writes it: ASCII, no `_` (float() also
    reads `1_700_000_000` and other scripts' digits).

    Raises:
        ValueError: anything else.
    """  # noqa: D205
    if not text.isascii() or "_" in text:
        raise ValueError(f"not a plain number: {text[:40]!r}")
    return float(text)


def epoch_from_number(value: float) -> float:
    """Epoch seconds from a number: seconds, or milliseconds when above 1e11.

    Raises:
        BadLine: the value is not a valid timestamp.
    """
    if value > EPOCH_MS_THRESHOLD:
        value = value / 1000.0
    return check_ts(value)


#: The offsets places on Earth use (UTC-12:00 to UTC+14:00), in seconds east of UTC.
EARTH_OFFSETS_S = (-12 * 3600, 14 * 3600)


def is_earth_offset(east_s: float) -> bool:
    """Whether some place uses this offset (seconds east of UTC): `+2359` is garbled."""
    return EARTH_OFFSETS_S[0] <= east_s <= EARTH_OFFSETS_S[1]


#: An ISO 8601 offset at the end of a date-time: its minutes and seconds (hours are checked
#: by the range of offsets places use).
_ISO_OFFSET = re.compile(r"[+-]\d\d(?::?(\d\d)(?::?(\d\d)(?:\.\d+)?)?)?\Z")


def epoch_from_iso(text: str) -> float:
    """Epoch seconds from an ISO 8601 string; without an offset it is read as UTC.

    Raises:
        BadLine: the text is not an ISO 8601 date-time.
    """
    candidate = text.strip()
    # fromisoformat also reads other scripts' digits, and any character between the date
    # and the time (`2023-11-14_22:13:20`): ISO 8601 and RFC 3339 put a T or a space there
    odd_separator = candidate[4:5] == "-" and len(candidate) > 10 and candidate[10] not in "Tt "
    if not candidate.isascii() or odd_separator:
        raise BadLine(f"timestamp is not a number or ISO 8601 date: {text[:40]!r}")
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    zone = _ISO_OFFSET.search(candidate, 11)  # fromisoformat takes `+00:99` (1h39m)
    if zone is not None and any(int(part or 0) > 59 for part in zone.groups()):
        raise BadLine(f"timestamp has an offset of more than 59 minutes: {text[:40]!r}")
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError as err:
        raise BadLine(f"timestamp is not a number or ISO 8601 date: {text[:40]!r}") from err
    east = moment.utcoffset()
    if east is None:
        moment = moment.replace(tzinfo=timezone.utc)
    elif not is_earth_offset(east.total_seconds()):  # a garbled one moved a hit a day
        raise BadLine(f"timestamp has an offset no place uses (-12:00..+14:00): {text[:40]!r}")
    return check_ts(moment.timestamp())


def epoch_from_value(value: object) -> float:
    """Epoch seconds from a decoded field: int, float, numeric string or ISO 8601 string.

    Raises:
        BadLine: anything else.
    """
    if isinstance(value, bool):
        raise BadLine("timestamp must be a number or a string, got bool")
    if isinstance(value, (int, float)):
        try:
            return epoch_from_number(float(value))
        except OverflowError as err:
            raise BadLine("timestamp is absurdly large") from err
    if isinstance(value, str):
        try:
            number = plain_float(value)
        except ValueError:
            return epoch_from_iso(value)
        return epoch_from_number(number)
    raise BadLine(f"timestamp must be a number or a string, got {type(value).__name__}")


def hit_of(index: int, item: object) -> Hit:
    """Item `index` of `record_many`'s hits, a `(endpoint, ts[, user])` tuple, as a Hit.

    Raises:
        BadLine: anything else.
    """
    if not isinstance(item, tuple | list) or not 2 <= len(item) <= 3:
        raise BadLine(f"item {index} is not a Hit or (endpoint, ts[, user]): {item!r:.80}")
    return Hit(item[0], as_seconds(item[1]), *item[2:3])
