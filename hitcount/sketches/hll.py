"""HyperLogLog: distinct counts in a few kilobytes, mergeable, with a stated error.

A sketch of precision `p` keeps `m = 2^p` registers. A user string is hashed to 64 bits
(`blake2b`, digest size 8: the same in every process and every run); the top `p` bits pick a
register, which keeps the largest "rank" seen — the position of the first 1 bit in the other
`64 - p` bits. Relative standard error about `1.04 / sqrt(m)` (1.15% at the default p = 13:
8 KiB of registers, 6 KiB saved; less between m/4 and 20 m users). Folds exactly to a lower p.

Representation (HLL++ style, Heule, Nunkesser and Hall 2013): a new sketch is *sparse*, a
dict of the registers set at the high precision p' = 25 (index -> rank, 4 bytes each when
saved). With a few thousand users or fewer, 2^25 registers almost never collide, so the
estimate is exact or within a hair. Once the dict holds more entries than `m / 4` (saved,
`m` bytes by then, a third over the dense `3 m / 4`) it is folded into the dense registers:
the bits between p and p' move from the index into the rank, exactly the registers the
same users give at precision p, so merging stays a register-wise maximum and exact.
Sketches saved before (sparse at precision p, 3 bytes an entry) load and answer as before;
they stay at precision p (`sparse_precision`) and turn dense above `m / 16` entries.

Estimation: Ertl's improved estimator (see `hll_math`), on the sparse registers at p' or
the dense ones at p.
"""

from __future__ import annotations

import base64
import math
import struct
from _blake2 import blake2b  # hashlib's own BLAKE2: `hashlib` loads OpenSSL too (3 ms a start)
from collections.abc import Iterable, Mapping
from itertools import chain
from typing import TYPE_CHECKING

from hitcount.sketches.hll_bytes import (
    DENSE_6,
    DENSE_8,
    HEADER,
    MAGIC,
    SPARSE,
    SPARSE_HIGH,
    dense_header,
    dense_size,
    pack6,
    sparse_header,
    unpack6,
)
from hitcount.sketches.hll_math import (
    MAX_PRECISION,
    MIN_PRECISION,
    SPARSE_PRECISION,
    check_precision,
    collision_high,
    ertl_estimate,
    fold,
    fold_all,
    maximum,
    rank_of,
    sparse_entries,
    sparse_limit,
    standard_error,
    z_score,
)

if TYPE_CHECKING:  # numpy only on the batch path
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "MAX_PRECISION",
    "MIN_PRECISION",
    "SPARSE_PRECISION",
    "HyperLogLog",
    "check_precision",
    "collision_high",
    "dense_header",
    "sparse_header",
    "sparse_limit",
    "standard_error",
    "z_score",
]

DEFAULT_PRECISION = 13


def hash64(user: str) -> int:
    """The 64-bit hash of a user string (stable across processes and runs)."""
    digest = blake2b(user.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class HyperLogLog:
    """A HyperLogLog sketch of a set of user strings.

    Example:
        sketch = HyperLogLog(12)
        sketch.add("u42")
        sketch.estimate()  # 1.0
    """

    __slots__ = ("_dense", "_sparse", "_sparse_p", "m", "precision", "q")

    def __init__(self, precision: int = DEFAULT_PRECISION) -> None:
        """An empty sketch with `2^precision` registers (precision 4..16).

        Raises:
            ValueError: precision out of range.
        """
        self.precision = check_precision(precision)
        self.m = 1 << precision
        #: Bits left after the index; a rank is 1..q+1.
        self.q = 64 - precision
        self._sparse: dict[int, int] | None = {}
        self._sparse_p = SPARSE_PRECISION
        self._dense: bytearray | None = None

    # -- adding -------------------------------------------------------------------------

    @property
    def sparse_limit(self) -> int:
        """Entries beyond which the sparse sketch turns dense (see `sparse_limit`)."""
        return sparse_limit(self.precision, self._sparse_p)

    @property
    def sparse_precision(self) -> int:
        """The precision of the sparse registers: 25, or p for a sketch saved before."""
        return self._sparse_p

    @property
    def is_sparse(self) -> bool:
        """Whether the sketch still holds only its set registers."""
        return self._sparse is not None

    def add(self, user: str) -> None:
        """Add one user (a string)."""
        self.add_hash(hash64(user))

    def add_hash(self, hashed: int) -> None:
        """Add one 64-bit hash (from `hash64`)."""
        self.add_hashes((hashed,))

    def add_many(self, users: Iterable[str]) -> None:
        """Add many users."""
        self.add_hashes(map(hash64, users))

    def add_hashes(self, hashes: Iterable[int]) -> None:
        """Add many 64-bit hashes."""
        if self._sparse is not None:
            precision = self._sparse_p
            self._raise_sparse(rank_of(hashed, precision) for hashed in hashes)
            return
        precision = self.precision
        self._raise_dense(rank_of(hashed, precision) for hashed in hashes)

    def register_of(self, hashed: int) -> tuple[int, int]:
        """The dense `(register index, rank)` a 64-bit hash updates."""
        return rank_of(hashed, self.precision)

    def add_registers(
        self,
        indexes: npt.NDArray[np.int64],
        ranks: npt.NDArray[np.uint8],
        precision: int | None = None,
    ) -> None:
        """Raise register `indexes[i]` at `precision` (default: the sketch's) to at least
        `ranks[i]` (what adding its user does); `precision` is p or 25."""  # noqa: D205, D209
        import numpy as np

        precision = self.precision if precision is None else precision
        entries = zip(indexes.tolist(), ranks.tolist(), strict=True)
        if self._sparse is not None:
            self._merge_sparse(entries, precision)
        elif precision != self.precision:
            self._raise_dense(fold(i, r, precision, self.precision) for i, r in entries)
        else:
            assert self._dense is not None
            np.maximum.at(np.frombuffer(self._dense, dtype=np.uint8), indexes, ranks)

    def _raise_sparse(self, registers: Iterable[tuple[int, int]]) -> None:
        """Raise sparse registers (at the sparse precision); dense once past the limit."""
        sparse = self._sparse
        assert sparse is not None
        for index, rank in registers:
            if sparse.get(index, 0) < rank:
                sparse[index] = rank
        if len(sparse) > self.sparse_limit:
            self._densify()

    def _raise_dense(self, registers: Iterable[tuple[int, int]]) -> None:
        dense = self._dense
        assert dense is not None
        for index, rank in registers:
            if dense[index] < rank:
                dense[index] = rank

    def _merge_sparse(self, entries: Iterable[tuple[int, int]], precision: int) -> None:
        """Fold sparse entries at `precision` into this sparse sketch (the coarser wins)."""
        if precision < self._sparse_p:
            self._coarsen(precision)
        mine = self._sparse_p
        if precision != mine:
            entries = (fold(i, r, precision, mine) for i, r in entries)
        self._raise_sparse(entries)

    def _coarsen(self, precision: int) -> None:
        """Fold the sparse registers down to `precision` (p: the old sparse form)."""
        sparse, source = self._sparse, self._sparse_p
        assert sparse is not None
        self._sparse, self._sparse_p = {}, precision
        self._raise_sparse(fold(i, r, source, precision) for i, r in sparse.items())

    def _to_dense(self) -> None:
        sparse, source, precision = self._sparse, self._sparse_p, self.precision
        assert sparse is not None
        self._sparse, self._dense = None, bytearray(self.m)
        if source == precision:
            self._raise_dense(sparse.items())
        else:
            self._raise_dense(fold(i, r, source, precision) for i, r in sparse.items())

    def _densify(self) -> None:
        """Turn dense; at the sketch's precision, sparse again if few registers are set."""
        source = self._sparse_p
        self._to_dense()
        assert self._dense is not None
        limit = sparse_limit(self.precision, self.precision)
        if source != self.precision and self.m - self._dense.count(0) <= limit:
            self._sparse_p = self.precision
            self._sparse = {index: rank for index, rank in enumerate(self._dense) if rank}
            self._dense = None

    # -- reading ------------------------------------------------------------------------

    def registers(self) -> bytes:
        """All `m` dense registers (the same whatever the representation)."""
        if self._dense is not None:
            return bytes(self._dense)
        dense = bytearray(self.m)
        source, precision = self._sparse_p, self.precision
        for index, rank in (self._sparse or {}).items():
            index, rank = fold(index, rank, source, precision)
            if dense[index] < rank:
                dense[index] = rank
        return bytes(dense)

    def sparse_registers(self) -> Mapping[int, int] | None:
        """The registers set, index -> rank at `sparse_precision`, while sparse (else None)."""
        return self._sparse

    def nonzero(self) -> int:
        """Registers set (sparse ones while sparse): a certain lower bound on the count."""
        if self._sparse is not None:
            return len(self._sparse)
        assert self._dense is not None
        return self.m - self._dense.count(0)

    def is_empty(self) -> bool:
        """Whether nothing has been added."""
        return self.nonzero() == 0

    def histogram(self) -> list[int]:
        """`counts[k]`: how many registers hold value k, for k = 0..q+1 (of the registers
        the sketch holds: at `sparse_precision` while sparse)."""  # noqa: D205, D209
        if self._sparse is not None:
            counts = [0] * (66 - self._sparse_p)
            for rank in self._sparse.values():
                counts[rank] += 1
            counts[0] = (1 << self._sparse_p) - len(self._sparse)
            return counts
        assert self._dense is not None
        counts = [0] * (self.q + 2)
        data = self._dense
        for value in set(data):
            counts[value] = data.count(value)
        return counts

    def estimate(self) -> float:
        """The estimated number of distinct users: linear counting over the 2^25 sparse
        registers while sparse (exact but for collisions), else Ertl's improved estimator."""  # noqa: D205, D209
        if self._sparse is not None and self._sparse_p > self.precision:
            width = 1 << self._sparse_p
            return 0.0 - width * math.log1p(-len(self._sparse) / width)  # never -0.0
        width = self.m if self._sparse is None else 1 << self._sparse_p
        return ertl_estimate(self.histogram(), width)

    def standard_error(self) -> float:
        """Relative standard error of the dense registers: 1.04 / sqrt(m)."""
        return standard_error(self.precision)

    def bounds(self, confidence: float = 0.95) -> tuple[float, float]:
        """(low, high) around the estimate at `confidence`.

        The low bound is never below the number of registers set, which is certain. While
        the sketch is sparse at precision 25 the bounds are that count and the most users
        its register collisions leave plausible; otherwise they come from the standard
        error, the high one raised for collisions while registers are few.
        """
        estimate = self.estimate()
        nonzero = self.nonzero()
        if self._sparse is not None and self._sparse_p > self.precision:
            width = 1 << self._sparse_p
            return float(nonzero), max(estimate, collision_high(nonzero, width, confidence))
        spread = z_score(confidence) * self.standard_error()
        low = max(float(nonzero), estimate * (1.0 - spread))
        high = max(estimate * (1.0 + spread), collision_high(nonzero, self.m, confidence))
        return min(low, estimate), high

    def memory_bytes(self) -> int:
        """Bytes of the encoded registers (`len(to_bytes())`)."""
        if self._sparse is not None:
            entry = 4 if self._sparse_p > self.precision else 3
            return HEADER.size + 4 + entry * len(self._sparse)
        return dense_size(self.precision)

    # -- merging ------------------------------------------------------------------------

    def copy(self) -> HyperLogLog:
        """An independent copy."""
        other = HyperLogLog(self.precision)
        other._sparse_p = self._sparse_p
        if self._sparse is not None:
            other._sparse = dict(self._sparse)
        else:
            assert self._dense is not None
            other._sparse, other._dense = None, bytearray(self._dense)
        return other

    def merge(self, other: HyperLogLog) -> None:
        """Fold `other` in: the sketch of the union, exactly (register-wise maximum at the
        coarser of the two representations; `other` folded down to this precision first).

        Raises:
            ValueError: `other` has a lower precision.
        """  # noqa: D205
        if other.precision < self.precision:
            raise ValueError(
                f"cannot merge a HyperLogLog sketch of precision {other.precision} into one"
                f" of {self.precision}: fold this one down first (`folded`)"
            )
        other = other.folded(self.precision)
        if other._sparse is not None:
            if self._sparse is not None:
                self._merge_sparse(other._sparse.items(), other._sparse_p)
            else:
                source, precision = other._sparse_p, self.precision
                self._raise_dense(fold(i, r, source, precision) for i, r in other._sparse.items())
            return
        if self._sparse is not None:
            self._to_dense()
        assert self._dense is not None and other._dense is not None
        self._dense = maximum(self._dense, other._dense)

    def folded(self, precision: int) -> HyperLogLog:
        """This sketch at a lower `precision` (itself at its own): exactly the sketch its
        users give hashed at `precision` (the index bits dropped move into the rank)."""  # noqa: D205, D209
        if check_precision(precision) > self.precision:
            raise ValueError(f"cannot unfold precision {self.precision} to {precision}")
        if precision == self.precision:
            return self
        other = HyperLogLog(precision)
        if self._sparse is None:
            assert self._dense is not None
            other._sparse, other._dense = None, bytearray(other.m)
            other._raise_dense(fold_all(enumerate(self._dense), self.precision, precision))
            return other
        other._sparse_p = self._sparse_p if self._sparse_p > self.precision else precision
        other._raise_sparse(fold_all(self._sparse.items(), self._sparse_p, other._sparse_p))
        return other

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HyperLogLog):
            return NotImplemented
        if self.precision != other.precision:
            return False
        mine, theirs = self._sparse, other._sparse
        if mine is not None and theirs is not None and self._sparse_p == other._sparse_p:
            return mine == theirs
        return self.registers() == other.registers()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        kind = f"sparse at {self._sparse_p}" if self.is_sparse else "dense"
        return f"HyperLogLog(p={self.precision}, {kind}, ~{self.estimate():.1f})"

    # -- bytes --------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A compact binary form (`hll_bytes`): header, then sorted sparse entries or every
        register at 6 bits."""  # noqa: D205, D209
        if self._sparse is not None:
            entries = sorted(self._sparse.items())
            high = self._sparse_p > self.precision
            if high:  # one pack call for every entry: far faster than one each
                body = struct.pack(f">{len(entries)}I", *(i << 6 | r for i, r in entries))
            else:
                body = struct.pack(">" + "HB" * len(entries), *chain.from_iterable(entries))
            return sparse_header(self.precision, len(entries), high=high) + body
        assert self._dense is not None
        return dense_header(self.precision) + pack6(self._dense)

    def to_base64(self) -> str:
        """`to_bytes` as ASCII base64."""
        return base64.b64encode(self.to_bytes()).decode("ascii")

    @classmethod
    def from_base64(cls, text: str) -> HyperLogLog:
        """The sketch of `to_base64` text.

        Raises:
            ValueError: not base64, or not a valid sketch.
        """
        if not isinstance(text, str):
            raise ValueError("a HyperLogLog must be a base64 string")
        try:
            data = base64.b64decode(text.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError) as err:
            raise ValueError("HyperLogLog registers are not valid base64") from err
        return cls.from_bytes(data)

    @classmethod
    def from_bytes(cls, data: bytes) -> HyperLogLog:
        """The sketch of `to_bytes` output (this form or an older one), strictly validated.

        Raises:
            ValueError: wrong magic, precision, kind or length, an index out of range or
                out of order, or a rank that no 64-bit hash can produce.
        """
        if len(data) < HEADER.size:
            raise ValueError("HyperLogLog data too short")
        magic, precision, kind = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise ValueError("not HyperLogLog data (bad magic)")
        sketch = cls(check_precision(precision))
        body = memoryview(data)[HEADER.size :]
        if kind in (DENSE_6, DENSE_8):
            if kind == DENSE_8 and len(body) != sketch.m:
                raise ValueError(f"dense HyperLogLog needs {sketch.m} registers, got {len(body)}")
            registers = unpack6(body, sketch.m) if kind == DENSE_6 else bytearray(body)
            if max(registers) > sketch.q + 1:
                raise ValueError(f"HyperLogLog register above {sketch.q + 1}")
            sketch._sparse, sketch._dense = None, registers
            return sketch
        if kind not in (SPARSE, SPARSE_HIGH):
            raise ValueError(f"unknown HyperLogLog kind {kind}")
        sketch._sparse_p = SPARSE_PRECISION if kind == SPARSE_HIGH else sketch.precision
        sketch._sparse = sparse_entries(body, sketch._sparse_p)
        if len(sketch._sparse) > sketch.sparse_limit:
            sketch._densify()
        return sketch
