"""What is read from Redis, checked as strictly as a snapshot file is.

Anything may have written to the keys of a namespace (a script, a user with `redis-cli`, a
half-finished migration). Every value read is parsed here or by its layout's `state_part`,
and a value that hitcount could not have written is a `StateError` (exit 4) naming the key:
never an internal error, never a wrong answer.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from hitcount.errors import ConfigurationError, StateError
from hitcount.model.keys import Keying
from hitcount.model.positions import InputPosition
from hitcount.persist.document import VERSION
from hitcount.sketches.distinct_state import LEFT_CLOSED, RIGHT_CLOSED
from hitcount.strategies import get_strategy

METRIC_FIELDS = ("total_hits", "bad_lines", "late_hits", "pruned_events", "lines_read")


class DamagedValueError(ValueError):
    """A value read from Redis that hitcount could not have written (what is wrong)."""


def damaged(where: str, key: str, what: str) -> StateError:
    """The error for a damaged key of the namespace described by `where`."""
    return StateError(
        f"{where}: the key {key} is damaged: {what}",
        hint="restore a snapshot (hitcount snapshot restore FILE) or replay the logs again"
        " without --append",
    )


def parse_meta(fields: Mapping[str, str]) -> dict[str, Any]:
    """The header of a state document from a generation's meta hash.

    Raises:
        DamagedValueError: a field missing, of the wrong type or out of range.
    """
    strategy = _strategy(_field(fields, "strategy"))
    return {
        "format": "hitcount-snapshot",
        "version": _integer(_field(fields, "version"), "version", 1, VERSION),
        "created_at": fields.get("created_at", ""),
        "strategy": strategy,
        "clock": _time_or_none(fields.get("clock", ""), "clock"),
        "horizon": _time_or_none(fields.get("horizon", ""), "horizon"),
        "max_lateness_s": _number(_field(fields, "max_lateness_s"), "max_lateness_s", 0.0),
        "metrics": {
            name: _integer(fields.get(f"m:{name}", "0"), f"m:{name}", 0) for name in METRIC_FIELDS
        },
        "distinct": _distinct(fields),
        **_keys(fields),
        "extras": {
            key[2:]: finite(_number(value, key, -math.inf), key)
            for key, value in fields.items()
            if key.startswith("x:")
        },
    }


def _distinct(fields: Mapping[str, str]) -> dict[str, Any] | None:
    """The distinct-users parameters (`d:` fields; none: a state kept without sketches)."""
    if "d:precision" not in fields:
        return None
    return {
        "bucket_s": _positive(_field(fields, "d:bucket_s"), "d:bucket_s"),
        "precision": _integer(fields["d:precision"], "d:precision", 4, 16),
        "retention_s": _positive(_field(fields, "d:retention_s"), "d:retention_s"),
        "horizon": _time_or_none(fields.get("d:horizon", ""), "d:horizon"),
        "edges": _edges(fields.get("d:edges", LEFT_CLOSED)),
    }


def _edges(value: str) -> str:
    """Which end of a minute its sketch holds (`d:edges`; absent: the older `[lo, hi)`)."""
    if value not in (LEFT_CLOSED, RIGHT_CLOSED):
        raise DamagedValueError(f"d:edges is {value!r}, not {RIGHT_CLOSED!r} or {LEFT_CLOSED!r}")
    return value


def _keys(fields: Mapping[str, str]) -> dict[str, Any]:
    """The saved `--key`/`--where`/`--field`/`--decode-paths` (`keys`, JSON; absent: default)."""
    if "keys" not in fields:
        return {}
    saved = _json(fields["keys"], "the field 'keys'")
    if not isinstance(saved, dict):
        raise DamagedValueError("the field 'keys' is not a JSON object")
    try:
        Keying.from_dict(saved)
    except ConfigurationError as err:
        raise DamagedValueError(f"the field 'keys': {err.message}") from err
    return {"keys": saved}


def _positive(text: str, what: str) -> float:
    value = finite(_number(text, what, 0.0), what)
    if value <= 0:
        raise DamagedValueError(f"{what} is not positive: {text[:40]!r}")
    return value


def parse_events(raw: list[bytes]) -> list[dict[str, Any]]:
    """The recent events list: JSON objects.

    Raises:
        DamagedValueError: an item that is not a JSON object.
    """
    events = []
    for number, item in enumerate(raw):
        event = _json(item, f"event {number}")
        if not isinstance(event, dict):
            raise DamagedValueError(f"event {number} is not a JSON object")
        events.append(event)
    return events


def parse_position(raw: bytes) -> InputPosition | dict[str, Any]:
    """A recorded input position: an `InputPosition`, or the shape older hitcounts wrote
    (`{"identity": {"dev", "ino", "head"}, "head_len": n, "lines": n}`, returned as is).

    Raises:
        DamagedValueError: neither shape.
    """  # noqa: D205
    saved = _json(raw, "the position")
    if isinstance(saved, dict) and "identity" not in saved:
        try:
            return InputPosition.from_dict(saved)
        except ValueError as err:
            raise DamagedValueError(f"the position is damaged: {err}") from err
    if not isinstance(saved, dict) or not isinstance(saved.get("identity"), dict):
        raise DamagedValueError("the position is not an object with an identity")
    for name in ("head_len", "lines"):
        value = saved.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
            raise DamagedValueError(f"the position's {name} is not a count: {value!r}")
    return saved


def whole(text: bytes | str, what: str, low: int = 0, high: int = 2**63 - 1) -> int:
    """A decimal integer in `[low, high]`, as Redis stores counts and indices.

    Raises:
        DamagedValueError: anything else.
    """
    return _integer(
        text.decode(errors="replace") if isinstance(text, bytes) else text, what, low, high
    )


def finite(value: float, what: str) -> float:
    """`value` when it is a finite number.

    Raises:
        DamagedValueError: infinite or NaN.
    """
    if not math.isfinite(value):
        raise DamagedValueError(f"{what} is not a finite number: {value!r}")
    return value


def _field(fields: Mapping[str, str], name: str) -> str:
    if name not in fields:
        raise DamagedValueError(f"the field {name!r} is missing")
    return fields[name]


def _strategy(text: str) -> dict[str, Any]:
    spec = _json(text, "the field 'strategy'")
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise DamagedValueError("the field 'strategy' has no strategy name")
    params = spec.get("params")
    if not isinstance(params, dict):
        raise DamagedValueError(f"the strategy {spec['name']!r} has no parameters")
    try:
        resolved = get_strategy(spec["name"]).resolve_params(params)
    except ConfigurationError as err:  # an unknown strategy too
        raise DamagedValueError(f"the field 'strategy': {err.message}") from err
    return {"name": spec["name"], "params": resolved}


def _json(raw: bytes | str, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise DamagedValueError(f"{what} is not JSON ({err})") from err


def _integer(text: str, what: str, low: int, high: int = 2**63 - 1) -> int:
    if not text.strip().lstrip("-").isdigit():
        raise DamagedValueError(f"{what} is not a whole number: {text[:40]!r}")
    value = int(text)
    if not low <= value <= high:
        raise DamagedValueError(f"{what} is out of range: {value}")
    return value


def _number(text: str, what: str, low: float) -> float:
    try:
        value = float(text)
    except ValueError as err:
        raise DamagedValueError(f"{what} is not a number: {text[:40]!r}") from err
    if math.isnan(value) or value == math.inf or value < low:
        raise DamagedValueError(f"{what} is out of range: {text[:40]!r}")
    return value


def _time_or_none(text: str, what: str) -> float | None:
    if not text:
        return None
    return finite(_number(text, what, -math.inf), what)
