"""The batch: hits as columns (an endpoint table, numpy arrays of codes and timestamps).

Every fast path produces `Columns` (the C and numpy scanners, msgspec, worker processes) and
the engine and strategies consume them; numpy is the one third-party package this module uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import numpy.typing as npt

from hitcount.model.hits import Hit

if TYPE_CHECKING:
    from hitcount.sketches.registers import RegisterEntries


_Item = TypeVar("_Item", bound=np.generic)


def sorted_distinct(values: npt.NDArray[_Item]) -> npt.NDArray[_Item]:
    """`np.unique(values)` of a 1-D array, without the masked-array check by which numpy 2
    imports `numpy.ma` (25 ms of a small replay's start)."""  # noqa: D205, D209
    ordered = np.sort(values, kind="stable")
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


@dataclass(frozen=True, slots=True)
class Columns:
    """Hits as columns: `names[codes[i]]` hit at `ts[i]`."""

    names: list[str]
    codes: npt.NDArray[np.int32]
    ts: npt.NDArray[np.float64]
    #: Optional `argsort(codes, kind="stable")`, computed by a worker process to spare the parent.
    order: npt.NDArray[np.int32] | None = None
    #: The user of each hit (None where a line had none); None when no line had a user.
    users: list[str | None] | None = None
    #: Or the users coded: hit i by `user_names[user_codes[i]]` (code -1: no user).
    user_names: list[str] | None = None
    user_codes: npt.NDArray[np.int32] | None = None
    #: Or, instead of `user_names`, each coded user's HLL register at the sparse precision
    #: (`index << 6 | rank`, int64): what a worker's C scanner hashed from the bytes it read.
    user_registers: npt.NDArray[np.int64] | None = None
    #: From a worker: the users reduced to HLL registers per endpoint and bucket, used
    #: when no hit of the batch is late (else the coded users above are).
    user_entries: RegisterEntries | None = None
    #: From a worker: the hits reduced for the strategy (`strategies.reductions`), used
    #: when no hit of the batch is late (else the columns above are).
    reduced: object | None = None

    def grouped(self) -> Columns:
        """The same columns with `order` filled in."""
        codes = self.codes.astype(np.uint16) if len(self.names) <= 1 << 16 else self.codes
        order = np.argsort(codes, kind="stable").astype(np.int32)  # radix sort for 16 bits
        return dataclasses.replace(self, order=order)

    def __len__(self) -> int:
        return len(self.ts)

    def has_users(self) -> bool:
        """Whether some hit carries a user (in any of the forms)."""
        return bool(self.users) or self.user_codes is not None

    def user_list(self) -> list[str | None]:
        """The user of each hit (None where it has none).

        Raises:
            ValueError: the users came as registers only, without their names.
        """
        if self.user_registers is not None and self.user_names is None:
            raise ValueError("the users of this batch are HLL registers, not names")
        if self.users is not None:
            return self.users
        if self.user_names is not None and self.user_codes is not None:
            names: list[str | None] = [*self.user_names, None]  # code -1: the last one
            return [names[code] for code in self.user_codes.tolist()]
        return [None] * len(self)


def columns_from_hits(hits: Sequence[Hit]) -> Columns:
    """Columns for hits already checked (the library's `record_many` path)."""
    index: dict[str, int] = {}
    codes = [index.setdefault(hit.endpoint, len(index)) for hit in hits]
    users: list[str | None] | None = [hit.user for hit in hits]
    if users is not None and users.count(None) == len(users):
        users = None
    return Columns(
        list(index),
        np.array(codes, dtype=np.int32),
        np.array([hit.ts for hit in hits], dtype=np.float64),
        users=users,
    )


#: A batch of no hits (a block of blank lines).
EMPTY_COLUMNS = Columns([], np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float64))
