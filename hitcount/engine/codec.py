"""The hook through which the deprecated `HitCounter.snapshot`/`restore` reach the format.

The document format lives a layer above the engine (`persist/document.py`) and registers
itself here when imported (importing `hitcount` does); the engine never imports it.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from hitcount.engine.counter import HitCounter


class DocumentCodec(Protocol):
    """The document format, as the deprecated `snapshot`/`restore` methods reach it."""

    def take(self, counter: HitCounter) -> dict[str, Any]:
        """The counter's snapshot document."""

    def restore(self, counter: HitCounter, document: dict[str, Any]) -> None:
        """Replace the counter's state with a document's."""


_codec: list[DocumentCodec] = []


def register_document_codec(codec: DocumentCodec) -> None:
    """Called once by `hitcount.persist.document`, which owns the format (a layer above)."""
    _codec[:] = [codec]


def document_codec() -> DocumentCodec:
    """The registered format (a RuntimeError before `hitcount.persist.document` is imported)."""
    if not _codec:
        raise RuntimeError("import hitcount (or hitcount.persist.document) first")
    return _codec[0]


class DeprecatedSnapshots:
    """`HitCounter.snapshot()` and `restore()`, kept for one release (0.1 -> 0.2)."""

    def snapshot(self) -> dict[str, Any]:
        """Deprecated: use `hitcount.take_snapshot(counter)` (kept for one release)."""
        warnings.warn(
            "HitCounter.snapshot() is deprecated: use hitcount.take_snapshot(counter)",
            DeprecationWarning,
            stacklevel=2,
        )
        return document_codec().take(cast("HitCounter", self))

    def restore(self, document: dict[str, Any]) -> None:
        """Deprecated: use `hitcount.restore_snapshot(counter, document)` (one release)."""
        warnings.warn(
            "HitCounter.restore() is deprecated: use hitcount.restore_snapshot(counter, document)",
            DeprecationWarning,
            stacklevel=2,
        )
        document_codec().restore(cast("HitCounter", self), document)
