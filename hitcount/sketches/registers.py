"""Distinct users of a batch reduced to HyperLogLog register entries, with one sort.

For each (endpoint, time bucket) pair of a batch, the largest rank seen per register at the
sparse precision 25 (`reduce_registers`; the C extension `_reduce` when built, else numpy),
run in the worker processes of a parallel replay. `sketchlog.RegisterLog` keeps the entries
and folds a pair's registers to the dense precision when they grow many.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hitcount.sketches.hll import SPARSE_PRECISION, hash64

try:
    from hitcount.sketches import _reduce as native
except ImportError:  # installed without a C compiler: numpy sorts instead
    native = None  # type: ignore[assignment]

#: Users whose registers `user_registers` remembers, per process, before it starts over.
_REGISTER_CACHE_LIMIT = 1 << 20
_register_cache: dict[tuple[str, int], int] = {}
#: Bits of a register entry's rank (ranks are at most 64 - 4 + 1 = 61).
RANK_BITS = 6


def code_users(users: Sequence[str | None]) -> tuple[list[str], npt.NDArray[np.int32]]:
    """The distinct users, and each hit's position among them (-1: no user)."""
    names = [user for user in dict.fromkeys(users) if user is not None]
    position: dict[str | None, int] = {user: code for code, user in enumerate(names)}
    position[None] = -1
    codes = np.fromiter(map(position.__getitem__, users), dtype=np.int32, count=len(users))
    return names, codes


def user_registers(names: Sequence[str], precision: int) -> npt.NDArray[np.int64]:
    """Each user's HLL register and rank at `precision`, as `index << 6 | rank`.

    In C (`_reduce.user_registers`, BLAKE2b written out) when built; else each distinct
    user is hashed once in Python (and remembered, per process, bounded).
    """
    if native is not None:
        return np.frombuffer(native.user_registers(names, precision), dtype=np.int64)
    return python_user_registers(names, precision)


def python_user_registers(names: Sequence[str], precision: int) -> npt.NDArray[np.int64]:
    """`user_registers` without the C extension: `hll.hash64` per user, cached."""
    cache = _register_cache
    if len(cache) > _REGISTER_CACHE_LIMIT:
        cache.clear()
    free_bits = 64 - precision
    mask = (1 << free_bits) - 1
    packed = []
    for user in names:
        found = cache.get((user, precision))
        if found is None:
            hashed = hash64(user)
            rank = free_bits + 1 - (hashed & mask).bit_length()
            found = cache[(user, precision)] = (hashed >> free_bits) << RANK_BITS | rank
        packed.append(found)
    return np.array(packed, dtype=np.int64)


def reduce_users(
    codes: npt.NDArray[np.int32],
    timestamps: npt.NDArray[np.float64],
    user_names: Sequence[str],
    user_codes: npt.NDArray[np.int32],
    precision: int,
    bucket_s: float,
    closed_right: bool = True,
) -> RegisterEntries:
    """The entries of hits `codes[i]` at `timestamps[i]` by user `user_names[user_codes[i]]`
    (code -1: no user, skipped): the C reduction when built, else numpy's sort. Buckets are
    `(lo, hi]` (`closed_right`, the window's convention) or `[lo, hi)` (states saved before)."""  # noqa: D205, D209
    table = user_registers(user_names, SPARSE_PRECISION)
    return reduce_registered(
        codes, timestamps, table, user_codes, precision, bucket_s, closed_right
    )


def reduce_registered(
    codes: npt.NDArray[np.int32],
    timestamps: npt.NDArray[np.float64],
    table: npt.NDArray[np.int64],
    user_codes: npt.NDArray[np.int32],
    precision: int,
    bucket_s: float,
    closed_right: bool = True,
) -> RegisterEntries:
    """`reduce_users` with the users already hashed: hit i's user has the register
    `table[user_codes[i]]` (`user_registers` at the sparse precision; code -1: no user)."""  # noqa: D205, D209
    if native is not None:
        found = native.reduce(
            np.ascontiguousarray(codes, dtype=np.int32),
            np.ascontiguousarray(timestamps, dtype=np.float64),
            np.ascontiguousarray(user_codes, dtype=np.int32),
            table,
            bucket_s,
            SPARSE_PRECISION,
            closed_right,
        )
        if found is not None:
            pair_codes, pair_buckets, sizes, registers, ranks = found
            return RegisterEntries(
                precision,
                bucket_s,
                np.frombuffer(pair_codes, dtype=np.int64),
                np.frombuffer(pair_buckets, dtype=np.int64),
                np.frombuffer(sizes, dtype=np.int64),
                np.frombuffer(registers, dtype=np.uint32),
                np.frombuffer(ranks, dtype=np.uint8),
                closed_right,
            )
    with_none = np.append(table, np.int64(-1 << RANK_BITS))  # code -1 picks this last row
    chosen = with_none[user_codes]
    indexes = (chosen >> RANK_BITS).astype(np.int32)
    ranks8 = (chosen & 63).astype(np.uint8)
    return reduce_registers(
        codes, timestamps, indexes, ranks8, precision, bucket_s, closed_right=closed_right
    )


@dataclass(frozen=True, slots=True)
class RegisterEntries:
    """The largest rank per (endpoint code, bucket, register) of a batch.

    For sketches of `precision`; registers and ranks are at the sparse precision (25).
    Pair i is endpoint code `codes[i]` in bucket `buckets[i]`; its entries are the next
    `sizes[i]` of `registers`/`ranks` (sorted by register).
    """

    precision: int
    bucket_s: float
    codes: npt.NDArray[np.int64]
    buckets: npt.NDArray[np.int64]
    sizes: npt.NDArray[np.int64]
    registers: npt.NDArray[np.uint32]
    ranks: npt.NDArray[np.uint8]
    #: Whether buckets are `(lo, hi]` (else `[lo, hi)`).
    closed_right: bool = True


def reduce_registers(
    codes: npt.NDArray[np.int32],
    timestamps: npt.NDArray[np.float64],
    indexes: npt.NDArray[np.int32],
    ranks: npt.NDArray[np.uint8],
    precision: int,
    bucket_s: float,
    *,
    closed_right: bool = True,
) -> RegisterEntries:
    """The entries of hits `codes[i]` at `timestamps[i]` with register `indexes[i]` (-1: none)
    and rank `ranks[i]`, both at the sparse precision, for sketches of `precision`."""  # noqa: D205, D209
    has_user = indexes >= 0
    codes64 = codes[has_user].astype(np.int64)
    scaled = timestamps[has_user] / bucket_s
    buckets = (np.ceil(scaled) - 1 if closed_right else np.floor(scaled)).astype(np.int64)
    empty = np.zeros(0, dtype=np.int64)
    if not len(buckets):
        none32, none8 = np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint8)
        return RegisterEntries(
            precision, bucket_s, empty, empty, empty, none32, none8, closed_right
        )
    first = int(buckets.min())
    span = int(buckets.max()) - first + 1
    pair_bits = SPARSE_PRECISION + RANK_BITS
    fits = span * (int(codes64.max()) + 1) < 1 << (62 - pair_bits)
    if fits:
        pairs = codes64 * span + (buckets - first)
    else:  # buckets far apart: number the pairs first so that the keys fit in 64 bits
        both = np.stack((codes64, buckets), axis=1)
        table, inverse = np.unique(both, axis=0, return_inverse=True)
        pairs = inverse.reshape(-1).astype(np.int64)
    keys = (pairs << pair_bits) | (indexes[has_user].astype(np.int64) << RANK_BITS)
    keys = largest_rank_per_register(np.sort(keys | ranks[has_user]), in_place=True)
    pair_of = keys >> pair_bits
    starts = run_starts(pair_of)
    sizes = np.diff(np.append(starts, len(keys)))
    firsts = pair_of[starts]
    if fits:
        pair_codes, pair_buckets = firsts // span, firsts % span + first
    else:
        pair_codes, pair_buckets = table[firsts, 0], table[firsts, 1]
    registers = ((keys >> RANK_BITS) & ((1 << SPARSE_PRECISION) - 1)).astype(np.uint32)
    ranks_kept = (keys & 63).astype(np.uint8)
    return RegisterEntries(
        precision, bucket_s, pair_codes, pair_buckets, sizes, registers, ranks_kept, closed_right
    )


def low_words(
    keys: npt.NDArray[np.int64], starts: npt.NDArray[np.int64], sizes: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint32]:
    """The low 32 bits of each run `keys[start : start + size]`, runs in the order given,
    as little-endian uint32 (in C when built: one pass, no index array)."""  # noqa: D205, D209
    if native is not None:
        words = native.low_words(
            np.ascontiguousarray(keys, dtype=np.int64),
            np.ascontiguousarray(starts, dtype=np.int64),
            np.ascontiguousarray(sizes, dtype=np.int64),
        )
        return np.frombuffer(words, dtype=np.uint32).astype("<u4", copy=False)
    index = np.intp if len(keys) >= 2**31 else np.int32
    at = np.cumsum(sizes) - sizes
    source = np.repeat((starts - at).astype(index), sizes)
    source += np.arange(len(source), dtype=index)
    return keys.astype("<u4")[source]


def run_starts(values: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Where each run of equal values starts (of sorted values)."""
    boundary = np.ones(len(values), dtype=bool)
    np.not_equal(values[1:], values[:-1], out=boundary[1:])
    return np.flatnonzero(boundary)


def largest_rank_per_register(
    keys: npt.NDArray[np.int64], *, in_place: bool = False
) -> npt.NDArray[np.int64]:
    """Of sorted keys, the last (largest rank) of each pair and register.

    `in_place`: `keys` may be overwritten (in C, when built: one pass, no temporary).
    """
    if in_place and native is not None and keys.flags.c_contiguous and keys.flags.writeable:
        kept = native.last_per_register(keys)
        return keys[:kept] if 4 * kept >= 3 * len(keys) else keys[:kept].copy()
    registers = keys >> RANK_BITS
    last = np.ones(len(keys), dtype=bool)
    np.not_equal(registers[1:], registers[:-1], out=last[:-1])
    del registers
    return keys[last]
