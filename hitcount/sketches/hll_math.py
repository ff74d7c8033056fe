"""HyperLogLog registers: ranks, folding to a lower precision, parsing, estimates.

`ertl_estimate` is Ertl's improved estimator ("New cardinality estimation algorithms for
HyperLogLog sketches", 2017, algorithm 6): it works from the histogram of register values
and corrects both ends of the range analytically (`sigma` replaces linear counting for small
cardinalities, `tau` the saturation at large ones), so it needs no empirical bias tables and
no threshold at which to switch estimators. The same estimator reads the sparse registers
at precision 25 (where, with few users, it is linear counting over 2^25 registers: exact
but for the rare collision).
"""

from __future__ import annotations

import math
import struct
import sys
from collections.abc import Iterable

#: Smallest and largest precision accepted.
MIN_PRECISION = 4
MAX_PRECISION = 16
_ENTRY = struct.Struct(">HB")  # register index, rank (sparse at precision p: old form)
_HIGH_ENTRY = struct.Struct(">I")  # index << 6 | rank (sparse at precision 25)
#: Precision of the sparse registers (HLL++'s p').
SPARSE_PRECISION = 25
_ALPHA_INF = 1.0 / (2.0 * math.log(2.0))


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


def sparse_limit(precision: int, sparse_precision: int = SPARSE_PRECISION) -> int:
    """Entries beyond which a sparse sketch turns dense: m/4 at precision 25 (4-byte
    entries), m/16 for the old sparse form at precision p."""  # noqa: D205, D209
    m = 1 << precision
    return max(1, m // 4 if sparse_precision > precision else m // 16)


def standard_error(precision: int) -> float:
    """The relative standard error of a sketch of this precision: 1.04 / sqrt(2^p)."""
    return 1.04 / math.sqrt(1 << precision)


def z_score(confidence: float) -> float:
    """The two-sided normal quantile for `confidence` (1.96 for 0.95)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    from statistics import NormalDist  # here: `statistics` costs a query's start 3 ms

    return NormalDist().inv_cdf((1 + confidence) / 2)


def rank_of(hashed: int, precision: int) -> tuple[int, int]:
    """The `(register index, rank)` a 64-bit hash updates at `precision`."""
    free = 64 - precision
    return hashed >> free, free + 1 - (hashed & ((1 << free) - 1)).bit_length()


def fold(index: int, rank: int, precision: int, coarser: int) -> tuple[int, int]:
    """The register at `coarser` precision of register `(index, rank)` at `precision`.

    The hash bits between the two precisions move from the index into the rank: exactly
    what the hash would have given at the coarser precision (so folding loses nothing the
    coarser sketch keeps).
    """
    shift = precision - coarser
    low = index & ((1 << shift) - 1)
    if low:
        return index >> shift, shift - low.bit_length() + 1
    return index >> shift, shift + rank


def fold_all(
    registers: Iterable[tuple[int, int]], precision: int, coarser: int
) -> Iterable[tuple[int, int]]:
    """`fold` of every set register (rank above 0) from `precision` to `coarser`."""
    if precision == coarser:
        return ((index, rank) for index, rank in registers if rank)
    return (fold(index, rank, precision, coarser) for index, rank in registers if rank)


def ertl_estimate(counts: list[int], m: int) -> float:
    """The distinct count of `m` registers whose values have histogram `counts` (0..q+1)."""
    q = len(counts) - 2
    if counts[0] == m:
        return 0.0
    z = m * _tau(1.0 - counts[q + 1] / m)
    for k in range(q, 0, -1):
        z = 0.5 * (z + counts[k])
    z += m * _sigma(counts[0] / m)
    return _ALPHA_INF * m * m / z


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
        mean = candidate + m * math.expm1(candidate * math.log1p(-1.0 / m))
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


def sparse_entries(body: memoryview, precision: int) -> dict[int, int]:
    """The entries of a saved sparse sketch at `precision`, checked.

    Raises:
        ValueError: a length, count, index or rank that a sketch cannot have.
    """
    high = precision == SPARSE_PRECISION
    entry = _HIGH_ENTRY if high else _ENTRY
    if len(body) < 4:
        raise ValueError("sparse HyperLogLog without an entry count")
    (count,) = struct.unpack_from(">I", body)
    if count > 1 << precision or len(body) != 4 + entry.size * count:
        raise ValueError("sparse HyperLogLog length does not match its entry count")
    sparse: dict[int, int] = {}
    previous, size, top = -1, 1 << precision, 65 - precision
    for unpacked in entry.iter_unpack(body[4:]):
        index, rank = (unpacked[0] >> 6, unpacked[0] & 63) if high else unpacked
        if not previous < index < size:
            raise ValueError("sparse HyperLogLog indexes out of range or out of order")
        if not 1 <= rank <= top:
            raise ValueError(f"HyperLogLog rank {rank} outside 1..{top}")
        sparse[index] = rank
        previous = index
    return sparse


def maximum(left: bytearray, right: bytearray) -> bytearray:
    """The register-wise maximum of two dense sketches (registers below 128).

    Without numpy, all registers at once as one big integer a byte a lane: in each lane
    `(a + 128) - b` keeps its top bit exactly when `a >= b` (and never borrows from the next
    lane), which selects `a` or `b` there.
    """
    np = sys.modules.get("numpy")
    if np is not None:
        merged = np.maximum(np.frombuffer(left, dtype=np.uint8), np.frombuffer(right, np.uint8))
        return bytearray(merged.tobytes())
    a, b = int.from_bytes(left, "little"), int.from_bytes(right, "little")
    high = int.from_bytes(b"\x80" * len(left), "little")
    takes_a = (((a | high) - b) & high) >> 7
    return bytearray((b ^ ((a ^ b) & takes_a * 255)).to_bytes(len(left), "little"))
