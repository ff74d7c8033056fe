"""Snapshots: the whole state as a versioned, self-describing JSON document.

A document looks like::

    {"format": "hitcount-snapshot", "version": 1, "created_at": "2026-11-28T00:00:00Z",
     "strategy": {"name": "fixed", "params": {"window_s": 60.0, "retention_s": 86400.0}},
     "clock": 1764201600.0, "horizon": null, "max_lateness_s": 60.0,
     "metrics": {"total_hits": 3, ...}, "recent_events": [...],
     "state": {"buckets": {"/api": {"29403360": 3}}},
     "distinct": {"bucket_s": 60.0, "precision": 12, "retention_s": 86400.0, "horizon": null,
                  "endpoints": {"/api": {"29403360": "<base64 HyperLogLog>"}}}}

`distinct` (distinct users per endpoint and bucket, see `distinct.py`) is optional: a
document without it loads with an empty tracker; `null` means distinct counting is off.
`max_endpoints` (the cap of `replay --max-endpoints`) is written only when there is one.
`inputs` is optional too, and only written when a `replay --follow` has read files: one
`InputPosition` per file (see `inputs.py`), e.g. ``[{"path": "/var/log/x.log", "device": 2049,
"inode": 131, "head_bytes": 1024, "head_sha256": "9f86...", "offset": 52311, "lines": 480}]``.

Loading validates every field (types, ranges), then cross-checks them (`plausible.py`: no
more hits held than recorded, no data after the clock or before the horizon) and never
executes anything; a damaged, forged, foreign or newer document raises `StateError` and
changes nothing.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec

from hitcount.engine import RECENT_EVENTS, HitCounter
from hitcount.engine.alerts import checked_tracks
from hitcount.engine.capping import checked_cap
from hitcount.engine.codec import register_document_codec
from hitcount.errors import ConfigurationError, HitcountError, StateError
from hitcount.model.hits import MAX_TS
from hitcount.model.keys import Keying
from hitcount.model.metrics import Metrics
from hitcount.model.positions import InputPosition
from hitcount.persist.atomic import write_output
from hitcount.persist.bigvalues import encode_chunks
from hitcount.persist.plausible import check_plausible
from hitcount.persist.reading import MAX_DOCUMENT_BYTES, read_document_file
from hitcount.sketches.distinct import DistinctTracker
from hitcount.strategies import get_strategy

FORMAT = "hitcount-snapshot"
VERSION = 1
#: Documents larger than this are refused before parsing (bytes).


class _Header(msgspec.Struct):
    format: Any = None
    version: Any = None


class _StrategySpec(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    params: dict[str, float | int]


class _Document(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    version: int
    strategy: _StrategySpec
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


def to_document(counter: HitCounter, *, compact: bool = False) -> dict[str, Any]:
    """The counter's whole state as a JSON-ready dict.

    Args:
        counter: the counter.
        compact: let the strategy use its compact form (large arrays as base64 of their
            bytes) — for the live state store; snapshots use the readable form.
    """
    strategy = counter.strategy
    document = {
        "format": FORMAT,
        "version": VERSION,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "strategy": {"name": strategy.name, "params": dict(strategy.params)},
        "clock": counter.clock,
        "horizon": strategy.horizon if math.isfinite(strategy.horizon) else None,
        "max_lateness_s": counter.max_lateness_s,
        "metrics": counter.metrics.as_dict(),
        "recent_events": list(counter.recent_events),
        "state": strategy.to_compact_state() if compact else strategy.to_state(),
        "distinct": (
            counter.distinct.to_state(compact=compact) if counter.distinct is not None else None
        ),
    }
    if counter.inputs:
        document["inputs"] = [position.to_dict() for position in counter.inputs.values()]
    if alerts := counter.saved_alerts():
        document["alerts"] = alerts
    if not counter.keying.default:
        document["keys"] = counter.keying.to_dict()
    if counter.max_endpoints is not None:  # only then: older versions refuse, not ignore it
        document["max_endpoints"] = counter.max_endpoints
    return document


def take_snapshot(counter: HitCounter) -> dict[str, Any]:
    """The whole state as a JSON-ready snapshot document (emits `snapshot_taken`)."""
    document = to_document(counter)
    counter.snapshot_taken()
    return document


def restore_snapshot(counter: HitCounter, document: dict[str, Any]) -> None:
    """Replace the counter's whole state (strategy, clock, metrics) with a snapshot's.

    Subscriptions stay. Emits `snapshot_restored`.

    Raises:
        StateError: the document is invalid; the counter is then left unchanged.
    """
    counter.replace_with(from_document(document))


class _Codec:
    """The deprecated `HitCounter.snapshot`/`restore` reach the format through this."""

    def take(self, counter: HitCounter) -> dict[str, Any]:
        return take_snapshot(counter)

    def restore(self, counter: HitCounter, document: dict[str, Any]) -> None:
        restore_snapshot(counter, document)


def encode(document: dict[str, Any], *, pretty: bool = False) -> bytes:
    """JSON bytes of a document (indented when `pretty`)."""
    data = b"".join(encode_chunks(document))
    return msgspec.json.format(data, indent=2) + b"\n" if pretty else data


def read_file(path: Path) -> HitCounter:
    """The counter saved in a snapshot (or state) file.

    Raises:
        StateError: the file is missing, unreadable, or not a valid snapshot.
    """
    try:
        data = read_document_file(path, "snapshot")
    except FileNotFoundError as err:
        raise StateError(f"{path}: no such snapshot file") from err
    except OSError as err:
        raise StateError(f"{path}: cannot read: {err.strerror}") from err
    return from_bytes(data, str(path))


def from_bytes(data: bytes, source: str, *, lazy_distinct: bool = False) -> HitCounter:
    """A counter rebuilt from snapshot bytes.

    Args:
        data: the JSON document.
        source: where it came from, for error messages.
        lazy_distinct: decode the distinct-users sketches only when first used (for
            read-only commands; their errors then surface at that point, as StateError).

    Raises:
        StateError: not JSON, not a hitcount snapshot, a newer version, or any invalid value.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise StateError(f"{source}: file too large to be a hitcount snapshot")
    try:
        document = msgspec.json.decode(data, type=_Document, strict=True)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as err:
        _check_header(data, source)  # a foreign or newer document says so first
        raise StateError(f"{source}: invalid snapshot: {err}") from err
    _check_header(document, source)
    try:
        counter = _build(document)
    except HitcountError as err:
        raise StateError(f"{source}: invalid snapshot: {err.message}") from err
    raw = document.distinct  # a view of `data`: copied only when the sketches are read
    if lazy_distinct:
        counter.load_distinct_later(lambda: _distinct_of(raw, source))
    else:
        counter.distinct = _distinct_of(raw, source)
    return counter


def _distinct_of(raw: msgspec.Raw, source: str) -> DistinctTracker | None:
    try:
        return _distinct(bytes(raw))
    except StateError as err:
        raise StateError(f"{source}: invalid snapshot: {err.message}") from err


def from_document(document: dict[str, Any], source: str = "snapshot") -> HitCounter:
    """A counter rebuilt from a document dict (as made by `to_document`).

    Raises:
        StateError: the document is invalid.
    """
    try:
        data = msgspec.json.encode(document)
    except (TypeError, ValueError, msgspec.EncodeError) as err:
        raise StateError(f"{source}: not a JSON document: {err}") from err
    return from_bytes(data, source)


def write_file(path: Path, data: bytes, *, hint: str | None = None) -> None:
    """Write a snapshot to `path` atomically, replacing only a hitcount snapshot or state.

    Args:
        path: the file; its directory must exist (nothing is created around it).
        data: the encoded document.
        hint: replaces the hint of the error for a file that is not a hitcount document.

    Raises:
        StateError: `path` exists and is not a hitcount snapshot or state (left as it is).
        OutputError: the file cannot be written (a missing or read-only directory).
    """
    if path.is_file():
        try:
            check_is_state(read_document_file(path, "snapshot"), str(path))
        except StateError as err:
            if hint is None:
                raise
            raise StateError(err.message, hint=hint) from err
    write_output(path, [data], what="snapshot")


def check_is_state(data: bytes, source: str) -> None:
    """Refuse to overwrite `source` unless it holds a hitcount document (any version).

    Raises:
        StateError: the bytes are not a hitcount snapshot or state.
    """
    try:
        header = msgspec.json.decode(data, type=_Header)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        header = _Header()
    if header.format != FORMAT:
        raise StateError(
            f"{source}: exists and is not a hitcount state file; refusing to overwrite it",
            hint="pass another --state path, or delete the file if it is a damaged state",
        )


def _check_header(data: bytes | _Document, source: str) -> None:
    """Refuse a foreign or newer document (given as bytes, or already decoded)."""
    try:
        header = data if isinstance(data, _Document) else msgspec.json.decode(data, type=_Header)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as err:
        raise StateError(
            f"{source}: not a hitcount snapshot (not a JSON object: {err})",
            hint="the file is damaged or is another kind of file",
        ) from err
    if header.format != FORMAT:
        raise StateError(
            f"{source}: not a hitcount snapshot (format is {header.format!r}, expected {FORMAT!r})"
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


def _check_time(name: str, value: float | None) -> None:
    if value is not None and not (math.isfinite(value) and -MAX_TS <= value <= MAX_TS):
        raise StateError(f"{name} out of range: {value!r}")


def _distinct(raw: bytes) -> DistinctTracker | None:
    """The tracker of a document: absent -> empty, null -> off."""
    if raw.strip() == b"null":
        return None
    if raw.strip() == b"{}":
        return DistinctTracker()
    try:
        return DistinctTracker.from_state(raw)
    except ValueError as err:
        raise StateError(str(err)) from err


def _build(document: _Document) -> HitCounter:
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
    counter = HitCounter(strategy, max_lateness_s=document.max_lateness_s)
    counter.clock = document.clock
    counter.metrics = document.metrics
    counter.recent_events.extend(document.recent_events[-RECENT_EVENTS:])
    counter.inputs = _inputs(document.inputs)
    try:
        counter.alert_tracks = checked_tracks(document.alerts)
    except ValueError as err:
        raise StateError(str(err)) from err
    try:
        counter.keying = Keying.from_dict(document.keys)
    except ConfigurationError as err:
        raise StateError(f"keys: {err.message}") from err
    counter.max_endpoints = checked_cap(document.max_endpoints, saved=True)
    check_plausible(counter)  # each part passed; do they agree with one another?
    return counter


def _inputs(items: list[Any]) -> dict[str, InputPosition]:
    """The input positions of a document, by path (absent in documents of older versions)."""
    try:
        positions = [InputPosition.from_dict(item) for item in items]
    except ValueError as err:
        raise StateError(str(err)) from err
    return {position.path: position for position in positions}


register_document_codec(_Codec())
