"""What a Redis state keeps beside its data: how far each input was read, the alert tracks.

Both are written with every generation (`redis.py`) and by every append (`redis_append.py`),
and read back by an append (to resume, to go on with a burst) and by a whole load (a
snapshot carries them, as a state file's does).
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import partial
from typing import TYPE_CHECKING, Any

from hitcount.engine.alert_tracks import checked_tracks
from hitcount.model.positions import InputPosition, offset_after_lines, position_at
from hitcount.persist.stores.redis_checks import damaged, parse_position

if TYPE_CHECKING:
    from hitcount.persist.stores.redis import RedisStore


def read_positions(store: RedisStore, generation: str) -> dict[str, InputPosition]:
    """Every recorded input position, by real path (a file renamed, linked or compressed
    since is found by identity among them); positions older hitcounts wrote are converted
    when they still name their file."""  # noqa: D205, D209
    found: dict[str, InputPosition] = {}
    key = store.gen_key(generation, "inputs")
    with store.errors("reading input positions"):
        recorded = store.client.hgetall(key)
    for raw_field, raw in recorded.items():
        field = raw_field.decode("utf-8", "surrogateescape")
        saved = store.checked(key, partial(parse_position, raw))
        position = saved if isinstance(saved, InputPosition) else _converted(field, saved)
        if position is not None:
            found[field] = position
    return found


def read_alerts(store: RedisStore, generation: str) -> list[dict[str, Any]]:
    """The alert tracks saved with the state (`Alerts.to_state`)."""
    key = store.gen_key(generation, "alerts")
    with store.errors("reading the alert state"):
        raw = store.client.get(key)
    try:
        return checked_tracks(json.loads(raw)) if raw else []
    except ValueError as err:  # JSONDecodeError included
        raise damaged(store.describe(), key, str(err)) from err


def _converted(source: str, saved: dict[str, Any]) -> InputPosition | None:
    """A position in the shape older hitcounts wrote (device, inode and a checksum of up to
    4 KiB, lines), as an `InputPosition` when it still names the file (else None)."""  # noqa: D205, D209
    head_len, identity = int(saved["head_len"]), saved["identity"]
    try:
        fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        status = os.fstat(fd)
        head = hashlib.sha256(os.pread(fd, head_len, 0)).hexdigest()
        now = {"dev": status.st_dev, "ino": status.st_ino, "head": head}
        if now != identity:
            return None
        lines = int(saved["lines"])
        return position_at(source, fd, offset_after_lines(fd, lines), lines)
    finally:
        os.close(fd)
