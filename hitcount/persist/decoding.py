"""A state document decoded into its checked parts, without building a `HitCounter`.

`persist/document.py` makes a counter of these parts (to record, swap or save); a read-only
command answers from them directly (`persist/answering.py`), without loading the counter's
recording half. Either way every field is checked here, once, the same way: types and
ranges on decoding, then the strategy's own `load_state`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import msgspec

from hitcount.engine.alert_tracks import checked_tracks
from hitcount.engine.capping import checked_cap
from hitcount.errors import ConfigurationError, StateError
from hitcount.model.event_names import EVENT_FIELDS
from hitcount.model.hits import MAX_TS
from hitcount.model.keys import Keying
from hitcount.model.metrics import Metrics
from hitcount.model.positions import InputPosition
from hitcount.persist.reading import MAX_DOCUMENT_BYTES
from hitcount.strategies import Strategy, get_strategy

if TYPE_CHECKING:
    from hitcount.sketches.distinct import DistinctTracker

FORMAT = "hitcount-snapshot"
VERSION = 1


class Header(msgspec.Struct):
    """What any version of a document starts with."""

    format: Any = None
    version: Any = None


class StrategySpec(msgspec.Struct, forbid_unknown_fields=True):
    """The strategy's name and parameters."""

    name: str
    params: dict[str, float | int]


class Document(msgspec.Struct, forbid_unknown_fields=True):
    """A state document, every field typed (`state` and `distinct` decoded later)."""

    format: str
    version: int
    strategy: StrategySpec
    clock: float | None
    horizon: float | None
    max_lateness_s: float
    metrics: Metrics
    state: msgspec.Raw
    created_at: str = ""
    recent_events: list[dict[str, Any]] = msgspec.field(default_factory=list)
    distinct: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))
    inputs: list[Any] = msgspec.field(default_factory=list)
    alerts: list[Any] = msgspec.field(default_factory=list)
    keys: dict[str, Any] | None = None
    max_endpoints: int | None = None


class StateParts(msgspec.Struct):
    """A decoded state's checked parts: what a counter or a read-only state is made of."""

    strategy: Strategy
    clock: float | None
    max_lateness_s: float
    metrics: Metrics
    recent_events: list[dict[str, Any]]
    inputs: dict[str, InputPosition]
    alert_tracks: list[dict[str, Any]]
    keying: Keying
    max_endpoints: int | None


def encode(document: dict[str, Any], *, pretty: bool = False) -> bytes:
    """JSON bytes of a document (indented when `pretty`)."""
    from hitcount.persist.bigvalues import encode_chunks  # a writer's: no reader loads it

    data = b"".join(encode_chunks(document))
    return msgspec.json.format(data, indent=2) + b"\n" if pretty else data


def decode(data: bytes, source: str) -> Document:
    """The typed document in `data` (`source` names it in messages).

    Raises:
        StateError: too large, not JSON, not a hitcount document, a newer version, or a
            field of the wrong type.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise StateError(f"{source}: file too large to be a hitcount snapshot")
    try:
        document = msgspec.json.decode(data, type=Document, strict=True)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as err:
        check_header(data, source)  # a foreign or newer document says so first
        raise StateError(f"{source}: invalid snapshot: {err}") from err
    check_header(document, source)
    return document


def check_header(data: bytes | Document, source: str) -> None:
    """Refuse a foreign or newer document (given as bytes, or already decoded).

    Raises:
        StateError: not a hitcount document, or a version this hitcount cannot read.
    """
    try:
        header = data if isinstance(data, Document) else msgspec.json.decode(data, type=Header)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as err:
        raise StateError(
            f"{source}: not a hitcount snapshot or JSON state (not a JSON object: {err})",
            hint="the file is damaged, or is another kind of file (a log given as --state?)",
        ) from err
    if header.format != FORMAT:
        raise StateError(
            f"{source}: not a hitcount snapshot or JSON state (format is {header.format!r},"
            f" expected {FORMAT!r})"
        )
    if not isinstance(header.version, int) or isinstance(header.version, bool):
        raise StateError(f"{source}: invalid snapshot version {header.version!r}")
    if header.version > VERSION:
        raise StateError(
            f"{source}: snapshot version {header.version} is newer than this hitcount"
            f" understands ({VERSION})",
            hint="upgrade hitcount to read it",
        )
    if header.version < 1:
        raise StateError(f"{source}: invalid snapshot version {header.version}")


def parts_of(document: Document) -> StateParts:
    """Every part of `document` checked on its own (how they agree: `plausible.py`).

    Raises:
        StateError: a value out of range, or a state its strategy refuses.
    """
    _check_time("clock", document.clock)
    if document.horizon is not None and abs(document.horizon) > 3 * MAX_TS:
        raise StateError(f"horizon out of range: {document.horizon!r}")
    if not 0 <= document.max_lateness_s <= MAX_TS:
        raise StateError(f"max_lateness_s out of range: {document.max_lateness_s!r}")
    try:
        document.metrics.check()
    except ValueError as err:
        raise StateError(str(err)) from err
    strategy = get_strategy(document.strategy.name)(**document.strategy.params)
    strategy.horizon = -math.inf if document.horizon is None else document.horizon
    strategy.load_state(bytes(document.state))
    if document.clock is None and any(True for _ in strategy.endpoints()):
        raise StateError("clock is null but the state holds hits")
    strategy.allow_lateness(document.max_lateness_s)
    try:
        tracks = checked_tracks(document.alerts)
    except ValueError as err:
        raise StateError(str(err)) from err
    try:
        keying = Keying.from_dict(document.keys)
    except ConfigurationError as err:
        raise StateError(f"keys: {err.message}") from err
    return StateParts(
        strategy, document.clock, document.max_lateness_s, document.metrics,
        _checked_events(document.recent_events), _inputs(document.inputs), tracks, keying,
        checked_cap(document.max_endpoints, saved=True),
    )  # fmt: skip


def distinct_of(raw: msgspec.Raw, source: str, clock: float | None) -> DistinctTracker | None:
    """The distinct-users tracker of a document's `distinct` (absent: empty; null: off),
    holding no sketch of a minute after the state's `clock`.

    Raises:
        StateError: the sketches are invalid.
    """  # noqa: D205
    # here, not at the top: the sketches' modules cost a read-only command's start ~4 ms,
    # and most commands never ask for distinct users
    from hitcount.sketches.distinct import DistinctTracker

    data = bytes(raw).strip()
    if data == b"null":
        return None
    if data == b"{}":
        return DistinctTracker()
    try:
        tracker = DistinctTracker.from_state(data)
    except ValueError as err:
        raise StateError(f"{source}: invalid snapshot: {err}") from err
    except StateError as err:
        raise StateError(f"{source}: invalid snapshot: {err.message}") from err
    newest = tracker.newest_bucket()
    if newest is not None and (clock is None or newest > tracker.bucket_of(clock)):
        raise StateError(
            f"{source}: invalid snapshot: a distinct-users sketch of bucket {newest} is after"
            f" the clock (bucket {None if clock is None else tracker.bucket_of(clock)})"
        )
    return tracker


def _check_time(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and -MAX_TS <= value <= MAX_TS):
        raise StateError(f"{name} out of range: {value!r}")


def _checked_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The remembered events, each an event hitcount emits: a known name, a clock that is
    a time (or null), fields of that event only (older states may lack the newer ones),
    each a JSON scalar.

    Raises:
        StateError: an event that is not one.
    """  # noqa: D205
    for number, event in enumerate(events, 1):
        name = event.get("event")
        fields = EVENT_FIELDS.get(name) if isinstance(name, str) else None
        clock = event.get("clock")
        extra = set(event) - {"event", "clock", *(fields or ())}
        problem = (
            f"unknown event {name!r}" if fields is None
            else f"clock {clock!r} is not a time" if not _is_time(clock)
            else f"unknown field {sorted(extra)[0]!r}" if extra
            else None
        )  # fmt: skip
        if problem is None and not all(_scalar(event[f]) for f in fields or () if f in event):
            problem = "a field that is not a number, a string or null"
        if problem is not None:
            raise StateError(f"recent_events[{number}]: {problem}")
    return events


def _is_time(value: object) -> bool:
    """A clock: null, or a finite number in range (not a boolean)."""
    if value is None:
        return True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and -MAX_TS <= value <= MAX_TS


def _scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float)


def _inputs(items: list[Any]) -> dict[str, InputPosition]:
    """The input positions of a document, by path (absent in documents of older versions)."""
    try:
        positions = [InputPosition.from_dict(item) for item in items]
    except ValueError as err:
        raise StateError(str(err)) from err
    return {position.path: position for position in positions}
