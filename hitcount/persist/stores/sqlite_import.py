"""The old default state, `state.json`, imported once into the new default `state.db`.

The import builds the database under a temporary name beside it and links it into place
only when whole, so a crash or a second process importing at the same moment leaves
either no `state.db` (the next command imports again) or a complete one. The JSON file is
only read: never changed, moved or deleted.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hitcount.errors import StateError, StoreUnavailableError
from hitcount.persist.atomic import fsync_directory
from hitcount.persist.stores.file import FileStore

if TYPE_CHECKING:
    from hitcount.persist.stores.sqlite import SqliteStore


def import_legacy(
    store: SqliteStore,
    legacy: Path,
    make: Callable[[Path], SqliteStore],
    note: Callable[[str], None] | None,
) -> None:
    """Import the JSON state `legacy` into `store`'s (missing) database file.

    `make` opens a SQLite store at another path (the temporary one).

    Raises:
        StateError: the old state is damaged (nothing is written; it is left as it is).
        StoreUnavailableError: it cannot be read, or the database cannot be written.
    """
    # here, not at the top: the counter's modules would cost every read-only command's
    # start-up, and an old state is imported once
    from hitcount.persist.document import from_bytes

    data = FileStore(legacy).load()
    if data is None:  # gone since we looked
        return
    try:
        counter = from_bytes(data, str(legacy))
    except StateError as err:
        raise StateError(
            f"{legacy}: the old state cannot be imported into {store.path.name}: {err.message}",
            hint=f"it is left as it is: repair or move it away, or use it as it is with"
            f" --state {legacy}",
        ) from err
    temporary = store.path.with_name(f".{store.path.name}.import-{os.getpid()}")
    _remove(temporary)
    building = make(temporary)
    try:
        building._write(counter, whole=True)
        building.fold_wal()
    finally:
        building.close()
    try:
        os.link(temporary, store.path)  # fails if another process imported first
    except FileExistsError:
        pass
    except OSError as err:
        raise StoreUnavailableError(
            f"{store.path}: cannot create the state: {err.strerror}"
        ) from err
    else:
        fsync_directory(store.path.parent)
        if note is not None:
            note(
                f"imported the old state {legacy} into {store.path}"
                f" (the old file is left as it is; this happens once)"
            )
    finally:
        _remove(temporary)


def _remove(path: Path) -> None:
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.lock")):
        with contextlib.suppress(FileNotFoundError):
            name.unlink()
