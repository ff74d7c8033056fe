"""`replay --key` and `--where`: a line parser that counts a line under its key, or not at all.

It wraps a format's parser: the format reads the hit as usual (its endpoint, time and user,
checked), and names the line's fields; the keying (`model/keys.py`) filters the line and
makes its key, which becomes the endpoint. Fields by format:

- access logs: `path`, `method`, `status`, `status_class`, `host` and `user` (the client host);
- NDJSON: `path` (the endpoint), `user`, and every field of the object by name
  (`request.path` reaches into a nested object);
- CSV: `path`, `user`, and every column of the header by its (lowercased) name.

Every format also gives `ts` and, when it has a `status`, `status_class`. Under
`--decode-paths` the `path` field is decoded (`model/keys.py`) before filters and key.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hitcount.ingest.formats.access_log import access_record
from hitcount.ingest.formats.csv import CsvParser
from hitcount.ingest.formats.mapped import mapped_parser
from hitcount.ingest.formats.ndjson import NdjsonParser, invalid_json, ndjson_hit
from hitcount.model.hits import (
    MAX_ENDPOINT_CHARS,
    TRUNCATED_MARK,
    Hit,
    check_endpoint,
)
from hitcount.model.keys import Keying, decode_path, lookup, status_class

_ACCESS_LOGS = ("combined", "common")


class KeyedParser:
    """A format's parser, with each hit's endpoint replaced by its key (or the hit dropped)."""

    def __init__(self, inner: Any, keying: Keying) -> None:
        self.inner, self.keying = inner, keying
        self.name: str = inner.name
        #: Lines a --where filter skipped.
        self.skipped = 0
        #: The hits of the last line under its second and further keys (several --key).
        self.also: list[Hit] = []
        #: The block path's outcomes by the values of the fields named (`ingest/keyed_block`).
        self.memo: dict[tuple[Any, ...], Any] = {}

    def parse(self, line: bytes) -> Hit | None:
        """The hit of this line under its (first) key; None for a blank line or one filtered out.

        The hits under its other keys are left in `also`.

        Raises:
            BadLine: as the format's parser, or a key naming a field the line lacks.
        """
        found = self._record(line)
        if found is None:
            return None
        hit, fields = found
        endpoints = self.endpoints(fields)
        if endpoints is None:
            self.skipped += 1
            return None
        first, *more = (Hit(endpoint, hit.ts, hit.user) for endpoint in endpoints)
        self.also = more
        return first

    def endpoints(self, fields: dict[str, Any]) -> list[str] | None:
        """The endpoints a line with `fields` counts under (None: a filter rejects it).

        The one rule of both paths: the per-line one above, and the block one
        (`ingest/keyed_block.py`), which asks once per distinct combination of values.

        Raises:
            BadLine: a key names a field the line lacks, or makes an invalid endpoint.
        """
        if self.keying.decode_paths and isinstance(fields.get("path"), str):
            fields["path"] = decode_path(fields["path"])
        if "status" in fields and "status_class" not in fields:
            fields["status_class"] = status_class(fields.get("status"))
        keys = self.keying.apply_all(fields)
        return None if keys is None else [_endpoint(key) for key in keys]

    def _record(self, line: bytes) -> tuple[Hit, dict[str, Any]] | None:
        if self.name in _ACCESS_LOGS:
            return None if not line.strip() else access_record(line)
        if isinstance(self.inner, NdjsonParser):
            return self._ndjson(line)
        if hasattr(self.inner, "record"):  # a custom --log-format names its own fields
            found: tuple[Hit, dict[str, Any]] | None = self.inner.record(line)
            return found
        hit = self.inner.parse(line)
        if hit is None:
            return None
        base: dict[str, Any] = {"path": hit.endpoint, "ts": hit.ts, "user": hit.user}
        if isinstance(self.inner, CsvParser) or hasattr(self.inner, "last_fields"):
            header = self.inner.header or []
            columns = dict(zip(header, self.inner.last_fields, strict=False))
            return hit, {**columns, **base}
        return hit, Fields(_decoded(line), base)

    def _ndjson(self, line: bytes) -> tuple[Hit, dict[str, Any]] | None:
        """An NDJSON line decoded once, for its hit and its fields (as `NdjsonParser` reads it).

        A line msgspec refuses, or not an object, is left to the parser for its reason.
        """
        if not line.strip():
            return None
        try:
            record = msgspec.json.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as err:
            self.inner.parse(line)  # raises its reason
            raise invalid_json(err, line) from err
        if not isinstance(record, dict):
            self.inner.parse(line)  # raises "not a JSON object"
            record = {}
        get = record.get
        hit = ndjson_hit(get("endpoint"), get("ts"), get("timestamp"), get("user"))
        return hit, Fields(record, {"path": hit.endpoint, "ts": hit.ts, "user": hit.user})


def _endpoint(key: str) -> str:
    if len(key) > MAX_ENDPOINT_CHARS:  # a long path (already cut) and more: cut again
        key = key[: MAX_ENDPOINT_CHARS - len(TRUNCATED_MARK)] + TRUNCATED_MARK
    return check_endpoint(key)


class Fields(dict[str, Any]):
    """An NDJSON object's fields: `path`/`ts`/`user` first, then any field by (dotted) name."""

    def __init__(self, record: dict[str, Any], base: dict[str, Any]) -> None:
        super().__init__(base)
        self.record = record

    def get(self, name: str, default: Any = None) -> Any:
        """A field by name: `path`, `ts`, `user` as read, else the object's (dotted) field."""
        if dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        found = lookup(self.record, name)
        return default if found is None else found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None


def _decoded(line: bytes) -> dict[str, Any]:
    try:
        record = msgspec.json.decode(line)
    except msgspec.DecodeError as err:  # the format's parser accepted it: not expected
        raise invalid_json(err, line) from err
    return record if isinstance(record, dict) else {}


def keyed(parser: Any, keying: Keying | None) -> Any:
    """`parser` reading `keying`'s field names, wrapped in a `KeyedParser` for a key or filter.

    Raises:
        ConfigurationError: field names for a format that has none (access logs).
    """
    if keying is None or keying.default:
        return parser
    if keying.fields:
        parser = mapped_parser(parser.name, dict(keying.fields))
    return parser if keying.counts_path else KeyedParser(parser, keying)
