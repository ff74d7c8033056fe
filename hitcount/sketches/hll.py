"""HyperLogLog: distinct counts in a few kilobytes, mergeable, with a stated error.

A sketch of precision `p` keeps `m = 2^p` registers. A user string is hashed to 64 bits
(`blake2b`, digest size 8: the same in every process and every run); the top `p` bits pick a
register, and the register keeps the largest "rank" seen — the position of the first 1 bit
in the remaining `64 - p` bits. The relative standard error of the estimate is about
`1.04 / sqrt(m)` (1.6% at the default p = 12, 4 KiB of registers).

Representation (HLL++ style, Heule, Nunkesser and Hall 2013): a new sketch is *sparse*, a
dict of register index -> rank holding only the registers that are set, and turns *dense*
(a `bytearray` of `m` registers) once the dict would no longer be smaller than the array.
Both forms hold exactly the same registers, so the switch changes no estimate and merging
a sparse and a dense sketch equals merging two dense ones. (HLL++ also raises the sparse
precision to 25 bits; we keep the sparse registers at precision `p` so that the switch is
lossless and merges stay exact register-wise maxima.)

Estimation: Ertl's improved estimator ("New cardinality estimation algorithms for
HyperLogLog sketches", 2017, algorithm 6). It works from the histogram of register values
and corrects both ends of the range analytically (the `sigma` term replaces linear counting
for small cardinalities, the `tau` term the saturation at large ones), so it needs neither
the empirical bias tables of HLL++ (one per precision) nor a threshold at which to switch
estimators, and its error stays near `1.04 / sqrt(m)` over the whole range, smaller for
small counts.
"""

from __future__ import annotations

import base64
import math
import struct
import sys
from collections.abc import Iterable, Mapping
from hashlib import blake2b
from itertools import chain
from statistics import NormalDist
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy only on the batch path
    import numpy as np
    import numpy.typing as npt

#: Smallest and largest precision accepted.
MIN_PRECISION = 4
MAX_PRECISION = 16
DEFAULT_PRECISION = 12
_MAGIC = b"HLL1"
_SPARSE, _DENSE = 0, 1
_HEADER = struct.Struct(">4sBB")  # magic, precision, kind
_ENTRY = struct.Struct(">HB")  # register index, rank
_ALPHA_INF = 1.0 / (2.0 * math.log(2.0))


def hash64(user: str) -> int:
    """The 64-bit hash of a user string (stable across processes and runs)."""
    digest = blake2b(user.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def sparse_header(precision: int, count: int) -> bytes:
    """The bytes before `count` sparse entries (`>HB`: index, rank) in `to_bytes`."""
    return _HEADER.pack(_MAGIC, precision, _SPARSE) + struct.pack(">I", count)


def dense_header(precision: int) -> bytes:
    """The bytes before the `2^precision` registers of a dense sketch in `to_bytes`."""
    return _HEADER.pack(_MAGIC, precision, _DENSE)


def check_precision(precision: object) -> int:
    """Return `precision` if it is an int in 4..16.

    Raises:
        ValueError: anything else.
    """
    if isinstance(precision, bool) or not isinstance(precision, int):
        raise ValueError(f"HyperLogLog precision must be an integer, got {precision!r}")
    if not MIN_PRECISION <= precision <= MAX_PRECISION:
        raise ValueError(
            f"HyperLogLog precision must be between {MIN_PRECISION} and {MAX_PRECISION},"
            f" got {precision}"
        )
    return precision


def standard_error(precision: int) -> float:
    """The relative standard error of a sketch of this precision: 1.04 / sqrt(2^p)."""
    return 1.04 / math.sqrt(1 << precision)


def z_score(confidence: float) -> float:
    """The two-sided normal quantile for `confidence` (1.96 for 0.95)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    return NormalDist().inv_cdf((1 + confidence) / 2)


class HyperLogLog:
    """A HyperLogLog sketch of a set of user strings.

    Example:
        sketch = HyperLogLog(12)
        sketch.add("u42")
        sketch.estimate()  # ~1.0
    """

    __slots__ = ("_dense", "_shift", "_sparse", "_sparse_limit", "_wmask", "m", "precision", "q")

    def __init__(self, precision: int = DEFAULT_PRECISION) -> None:
        """An empty sketch with `2^precision` registers (precision 4..16).

        Raises:
            ValueError: precision out of range.
        """
        self.precision = check_precision(precision)
        self.m = 1 << precision
        #: Bits left after the index; a rank is 1..q+1.
        self.q = 64 - precision
        self._shift = self.q
        self._wmask = (1 << self.q) - 1
        self._sparse: dict[int, int] | None = {}
        self._dense: bytearray | None = None
        self._sparse_limit = max(1, self.m // 16)

    # -- adding -------------------------------------------------------------------------

    @property
    def sparse_limit(self) -> int:
        """Registers set beyond which the sketch turns dense.

        m/16: the encoded sparse form is then at most 3/16 of the dense one, and the dict,
        whose entries cost far more memory than a byte each, stays small.
        """
        return self._sparse_limit

    @property
    def is_sparse(self) -> bool:
        """Whether the sketch still holds only its set registers."""
        return self._sparse is not None

    def add(self, user: str) -> None:
        """Add one user (a string)."""
        self.add_hash(hash64(user))

    def add_hash(self, hashed: int) -> None:
        """Add one 64-bit hash (from `hash64`)."""
        self._raise([self.register_of(hashed)])

    def add_many(self, users: Iterable[str]) -> None:
        """Add many users."""
        for hashed in map(hash64, users):
            self.add_hash(hashed)

    def register_of(self, hashed: int) -> tuple[int, int]:
        """The `(register index, rank)` a 64-bit hash updates."""
        return hashed >> self._shift, self.q + 1 - (hashed & self._wmask).bit_length()

    def add_registers(self, indexes: npt.NDArray[np.int64], ranks: npt.NDArray[np.uint8]) -> None:
        """Raise register `indexes[i]` to at least `ranks[i]` (what adding its user does)."""
        import numpy as np

        if self._sparse is not None:
            self._raise(zip(indexes.tolist(), ranks.tolist(), strict=True))
            return
        assert self._dense is not None
        np.maximum.at(np.frombuffer(self._dense, dtype=np.uint8), indexes, ranks)

    def _raise(self, registers: Iterable[tuple[int, int]]) -> None:
        """Raise each `(index, rank)` register to at least that rank (sparse or dense)."""
        sparse = self._sparse
        if sparse is not None:
            for index, rank in registers:
                if sparse.get(index, 0) < rank:
                    sparse[index] = rank
            if len(sparse) > self._sparse_limit:
                self._densify()
            return
        dense = self._dense
        assert dense is not None
        for index, rank in registers:
            if dense[index] < rank:
                dense[index] = rank

    def add_hashes(self, hashes: Iterable[int]) -> None:
        """Add many 64-bit hashes."""
        self._raise(map(self.register_of, hashes))

    def _densify(self) -> None:
        sparse = self._sparse
        assert sparse is not None
        dense = bytearray(self.m)
        for index, rank in sparse.items():
            dense[index] = rank
        self._dense, self._sparse = dense, None

    # -- reading ------------------------------------------------------------------------

    def registers(self) -> bytes:
        """All `m` registers (the same whatever the representation)."""
        if self._dense is not None:
            return bytes(self._dense)
        dense = bytearray(self.m)
        for index, rank in (self._sparse or {}).items():
            dense[index] = rank
        return bytes(dense)

    def sparse_registers(self) -> Mapping[int, int] | None:
        """The registers set, index -> rank, while the sketch is sparse (else None)."""
        return self._sparse

    def nonzero(self) -> int:
        """Registers set: a certain lower bound on the distinct count."""
        if self._sparse is not None:
            return len(self._sparse)
        assert self._dense is not None
        return self.m - self._dense.count(0)

    def is_empty(self) -> bool:
        """Whether nothing has been added."""
        return self.nonzero() == 0

    def histogram(self) -> list[int]:
        """`counts[k]`: how many registers hold value k, for k = 0..q+1."""
        counts = [0] * (self.q + 2)
        if self._sparse is not None:
            for rank in self._sparse.values():
                counts[rank] += 1
            counts[0] = self.m - len(self._sparse)
            return counts
        assert self._dense is not None
        data = self._dense
        for value in set(data):
            counts[value] = data.count(value)
        return counts

    def estimate(self) -> float:
        """The estimated number of distinct users (Ertl 2017, improved estimator)."""
        counts = self.histogram()
        m, q = self.m, self.q
        if counts[0] == m:
            return 0.0
        z = m * _tau(1.0 - counts[q + 1] / m)
        for k in range(q, 0, -1):
            z = 0.5 * (z + counts[k])
        z += m * _sigma(counts[0] / m)
        return _ALPHA_INF * m * m / z

    def standard_error(self) -> float:
        """Relative standard error: 1.04 / sqrt(m)."""
        return standard_error(self.precision)

    def bounds(self, confidence: float = 0.95) -> tuple[float, float]:
        """(low, high) around the estimate at `confidence`, from the standard error.

        The low bound is never below the number of registers set, which is certain.
        """
        estimate = self.estimate()
        spread = z_score(confidence) * self.standard_error()
        nonzero = self.nonzero()
        low = max(float(nonzero), estimate * (1.0 - spread))
        high = max(estimate * (1.0 + spread), collision_high(nonzero, self.m, confidence))
        return min(low, estimate), high

    def memory_bytes(self) -> int:
        """Bytes of the encoded registers (3 per sparse entry, m when dense)."""
        if self._sparse is not None:
            return _HEADER.size + 4 + _ENTRY.size * len(self._sparse)
        return _HEADER.size + self.m

    # -- merging ------------------------------------------------------------------------

    def copy(self) -> HyperLogLog:
        """An independent copy."""
        other = HyperLogLog(self.precision)
        if self._sparse is not None:
            other._sparse = dict(self._sparse)
        else:
            assert self._dense is not None
            other._sparse, other._dense = None, bytearray(self._dense)
        return other

    def merge(self, other: HyperLogLog) -> None:
        """Fold `other` in (register-wise maximum): the sketch of the union, exactly.

        Raises:
            ValueError: the precisions differ.
        """
        if other.precision != self.precision:
            raise ValueError(
                f"cannot merge HyperLogLog sketches of precision {self.precision}"
                f" and {other.precision}"
            )
        if other._sparse is not None:
            self._raise(other._sparse.items())
            return
        if self._sparse is not None:
            self._densify()
        assert self._dense is not None and other._dense is not None
        self._dense = _maximum(self._dense, other._dense)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HyperLogLog):
            return NotImplemented
        return self.precision == other.precision and self.registers() == other.registers()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        kind = "sparse" if self.is_sparse else "dense"
        return f"HyperLogLog(p={self.precision}, {kind}, ~{self.estimate():.1f})"

    # -- bytes --------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """A compact binary form: header, then sorted (index, rank) entries or all registers."""
        if self._sparse is not None:
            entries = sorted(self._sparse.items())
            # one pack call for every (index, rank) entry: as _ENTRY each, far faster
            body = struct.pack(">" + "HB" * len(entries), *chain.from_iterable(entries))
            return sparse_header(self.precision, len(entries)) + body
        assert self._dense is not None
        return dense_header(self.precision) + bytes(self._dense)

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
        """The sketch of `to_bytes` output, strictly validated.

        Raises:
            ValueError: wrong magic, precision, kind or length, an index out of range or
                out of order, or a rank that no 64-bit hash can produce.
        """
        if len(data) < _HEADER.size:
            raise ValueError("HyperLogLog data too short")
        magic, precision, kind = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise ValueError("not HyperLogLog data (bad magic)")
        sketch = cls(check_precision(precision))
        body = memoryview(data)[_HEADER.size :]
        top = sketch.q + 1
        if kind == _DENSE:
            if len(body) != sketch.m:
                raise ValueError(f"dense HyperLogLog needs {sketch.m} registers, got {len(body)}")
            registers = bytearray(body)
            if max(registers) > top:
                raise ValueError(f"HyperLogLog register above {top}")
            sketch._sparse, sketch._dense = None, registers
            return sketch
        if kind != _SPARSE:
            raise ValueError(f"unknown HyperLogLog kind {kind}")
        if len(body) < 4:
            raise ValueError("sparse HyperLogLog without an entry count")
        (count,) = struct.unpack_from(">I", body)
        if count > sketch.m or len(body) != 4 + _ENTRY.size * count:
            raise ValueError("sparse HyperLogLog length does not match its entry count")
        sparse: dict[int, int] = {}
        previous = -1
        for index, rank in _ENTRY.iter_unpack(body[4:]):
            if not previous < index < sketch.m:
                raise ValueError("sparse HyperLogLog indexes out of range or out of order")
            if not 1 <= rank <= top:
                raise ValueError(f"HyperLogLog rank {rank} outside 1..{top}")
            sparse[index] = rank
            previous = index
        sketch._sparse = sparse
        if len(sparse) > sketch.sparse_limit:
            sketch._densify()
        return sketch


def _maximum(left: bytearray, right: bytearray) -> bytearray:
    np = sys.modules.get("numpy")
    if np is not None:
        merged = np.maximum(np.frombuffer(left, dtype=np.uint8), np.frombuffer(right, np.uint8))
        return bytearray(merged.tobytes())
    return bytearray(map(max, left, right))


def collision_high(nonzero: int, m: int, confidence: float) -> float:
    """The most users that `nonzero` set registers of `m` leave plausible at `confidence`.

    Few users land in distinct registers but for a few collisions, about Poisson with mean
    `n - m (1 - (1 - 1/m)^n)`; the bound is the largest `n` for which at least
    `n - nonzero` collisions keep a chance of `(1 - confidence) / 2` (only while collisions
    are rare: above `m / 16` registers the standard error covers them).
    """
    if nonzero == 0 or nonzero > m // 16:
        return float(nonzero)
    tail = (1.0 - confidence) / 2
    n = nonzero
    while True:
        candidate = n + 1
        mean = candidate - m * (1.0 - (1.0 - 1.0 / m) ** candidate)
        needed = candidate - nonzero  # collisions that candidate users must have had
        below = sum(math.exp(-mean) * mean**j / math.factorial(j) for j in range(needed))
        if 1.0 - below < tail:
            return float(n)
        n = candidate


def _sigma(x: float) -> float:
    """Ertl's sigma(x) = x + sum_k x^(2^k) 2^(k-1)."""
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if z == previous:
            return z


def _tau(x: float) -> float:
    """Ertl's tau(x) = (1 - x - sum_k (1 - x^(2^-k))^2 2^-k) / 3."""
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == previous:
            return z / 3.0
