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
from hitcount.engine.codec import register_document_codec
from hitcount.errors import HitcountError, StateError
from hitcount.model.arguments import of_type
from hitcount.persist.atomic import write_output
from hitcount.persist.decoding import FORMAT as FORMAT  # re-exported
from hitcount.persist.decoding import VERSION as VERSION  # re-exported
from hitcount.persist.decoding import Document, Header, decode, distinct_of, parts_of
from hitcount.persist.decoding import encode as encode  # re-exported
from hitcount.persist.plausible import check_plausible
from hitcount.persist.reading import holds_sqlite, read_document_file


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
    of_type(counter, HitCounter, "counter", "a HitCounter")
    document = to_document(counter)
    counter.snapshot_taken()
    return document


def restore_snapshot(counter: HitCounter, document: dict[str, Any]) -> None:
    """Replace the counter's whole state (strategy, clock, metrics) with a snapshot's.

    Subscriptions stay. Emits `snapshot_restored`.

    Raises:
        StateError: the document is invalid; the counter is then left unchanged.
        ConfigurationError: `counter` is not a HitCounter.
    """
    of_type(counter, HitCounter, "counter", "a HitCounter")
    counter.replace_with(from_document(document))


class _Codec:
    """The deprecated `HitCounter.snapshot`/`restore` reach the format through this."""

    def take(self, counter: HitCounter) -> dict[str, Any]:
        return take_snapshot(counter)

    def restore(self, counter: HitCounter, document: dict[str, Any]) -> None:
        restore_snapshot(counter, document)


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
        ConfigurationError: `data` is not bytes (or str).
    """
    of_type(data, (bytes, bytearray, memoryview, str), "data", "the snapshot's bytes")
    document = decode(data, source)
    try:
        counter = _build(document)
    except HitcountError as err:
        raise StateError(f"{source}: invalid snapshot: {err.message}") from err
    raw = document.distinct  # a view of `data`: copied only when the sketches are read
    if lazy_distinct:
        counter.load_distinct_later(lambda: distinct_of(raw, source, document.clock))
    else:
        counter.distinct = distinct_of(raw, source, document.clock)
    return counter


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
        if holds_sqlite(path, "snapshot"):
            raise StateError(
                f"{path}: is a SQLite database (a state?); a snapshot is a JSON file and would"
                " replace it: refusing",
                hint="write the snapshot to another path (`hitcount snapshot restore FILE"
                f" --state {path}` loads one into that state)",
            )
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
        header = msgspec.json.decode(data, type=Header)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        header = Header()
    if header.format != FORMAT:
        raise StateError(
            f"{source}: exists and is not a hitcount state file; refusing to overwrite it",
            hint="pass another --state path, or delete the file if it is a damaged state",
        )


def _build(document: Document) -> HitCounter:
    parts = parts_of(document)
    counter = HitCounter(parts.strategy, max_lateness_s=parts.max_lateness_s)
    counter.clock = parts.clock
    counter.metrics = parts.metrics
    counter.recent_events.extend(parts.recent_events[-RECENT_EVENTS:])
    counter.inputs = parts.inputs
    counter.alert_tracks = parts.alert_tracks
    counter.keying = parts.keying
    counter.max_endpoints = parts.max_endpoints
    check_plausible(counter)  # each part passed; do they agree with one another?
    return counter


register_document_codec(_Codec())
