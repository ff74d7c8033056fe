"""Distinct-user registers in bulk: numpy arrays instead of one Python dict per sketch.

The batch path of `DistinctTracker` never touches a `HyperLogLog` per hit. A batch becomes
*register entries*: for each (endpoint, bucket) pair the largest rank seen per register,
found with one sort (`reduce_registers`, run in the worker processes of a parallel replay).
The tracker keeps them in a `RegisterLog`: int64 keys `pair << 32 | dense << 31 | register
<< 6 | rank` appended per batch and compacted (sorted, largest rank kept) when read or when
the appended keys outgrow the compacted ones. `dense` 0: a register at the sparse precision
25; 1: a register at the sketch's precision p. Compaction folds a pair's sparse registers to
precision p once they are more than `sparse_limit` or the pair holds registers at p (what
`HyperLogLog` does). A pair at precision p is an old-form sparse sketch up to m/16 registers,
dense above. Saving encodes the sketches straight from the keys, byte for byte what
`HyperLogLog.to_bytes` gives for the same registers; a query turns the log into
`HyperLogLog` objects first.
"""

from __future__ import annotations

import math
from binascii import b2a_base64
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hitcount.model.columns import sorted_distinct
from hitcount.model.packed import Base64Value
from hitcount.sketches.hll import (
    SPARSE_PRECISION,
    HyperLogLog,
    dense_header,
    sparse_header,
    sparse_limit,
)
from hitcount.sketches.hll_bytes import dense_size, pack6_rows
from hitcount.sketches.packed_log import DENSE, packed_array, packed_entries, sketch_keys
from hitcount.sketches.pairs import PairTable
from hitcount.sketches.registers import (
    RANK_BITS,
    RegisterEntries,
    largest_rank_per_register,
    run_starts,
)
from hitcount.sketches.sparse_bytes import sparse_bytes, sparse_entries

_PADS = ("", "=", "==")
_PART_KEYS = 1 << 20


_PAIR_FIELDS = ("endpoints", "pair_endpoints", "pair_buckets", "pair_sizes")
#: The packed form: `entries` (this form) or `registers` and `ranks` at precision p (before).
_PACKED_FIELDS = (
    frozenset((*_PAIR_FIELDS, "entries")),
    frozenset((*_PAIR_FIELDS, "registers", "ranks")),
)
#: Bits below a key's pair, and its dense flag.
PAIR_SHIFT = 32
_SPARSE_MASK = (1 << SPARSE_PRECISION) - 1
#: Appended keys that trigger a compaction (when also more than the compacted ones).
_COMPACT_AT = 1 << 22


def fold_keys(keys: npt.NDArray[np.int64], precision: int) -> npt.NDArray[np.int64]:
    """Sparse keys (registers at precision 25) as keys of their registers at `precision`.

    The hash bits between the two precisions move from the index into the rank
    (`hll_math.fold`, for arrays).
    """
    shift = SPARSE_PRECISION - precision
    registers = (keys >> RANK_BITS) & _SPARSE_MASK
    ranks = keys & 63
    low = registers & ((1 << shift) - 1)
    low_bits = np.frexp(low.astype(np.float64))[1].astype(np.int64)  # bit length (0 for 0)
    folded = np.where(low != 0, shift - low_bits + 1, shift + ranks)
    pairs = keys >> PAIR_SHIFT
    return (pairs << PAIR_SHIFT) | DENSE | ((registers >> shift) << RANK_BITS) | folded


class RegisterLog:
    """Register entries of many (endpoint, bucket) sketches, appended in bulk."""

    def __init__(self, precision: int) -> None:
        """An empty log for sketches of this precision."""
        self.precision = precision
        self._shift = PAIR_SHIFT
        self._limit = sparse_limit(precision)
        self._chunks: list[npt.NDArray[np.int64]] = []
        #: Whether `_chunks` is one compacted array, and the keys appended since one was.
        self._compact = True
        self._pending = 0
        self._pairs = PairTable()

    def __bool__(self) -> bool:
        return any(len(chunk) for chunk in self._chunks)

    def add(
        self, names: Sequence[str], entries: RegisterEntries, keep: npt.NDArray[np.bool_]
    ) -> None:
        """Append the pairs of `entries` that `keep` marks (endpoint codes index `names`)."""
        codes, buckets = entries.codes[keep], entries.buckets[keep]
        if not len(codes):
            return
        pairs = self._pairs.number(names, codes, buckets)
        sizes, registers, ranks = entries.sizes, entries.registers, entries.ranks
        if not keep.all():
            per_entry = np.repeat(keep, sizes)
            sizes, registers, ranks = sizes[keep], registers[per_entry], ranks[per_entry]
        keys = np.repeat(pairs << self._shift, sizes)
        keys |= registers.astype(np.int64) << RANK_BITS
        keys |= ranks
        self._append(keys)

    def _append(self, keys: npt.NDArray[np.int64]) -> None:
        self._chunks.append(keys)
        self._compact = False
        self._pending += len(keys)
        if self._pending > _COMPACT_AT and self._pending > 2 * len(self._chunks[0]):
            self.compact()  # bounds the memory of a long replay

    def add_sketches(self, sketches: Sequence[tuple[str, int, HyperLogLog]]) -> None:
        """Append the registers of `(endpoint, bucket, sketch)`s, numbering their pairs at once
        (one by one, each merged into the sorted keys: time grew with their square)."""  # noqa: D205, D209
        pairs = self._pairs.number_all([(endpoint, bucket) for endpoint, bucket, _ in sketches])
        for pair, (_, _, sketch) in zip(pairs.tolist(), sketches, strict=True):
            self._append(sketch_keys(sketch, pair, self.precision, self._shift))

    def pairs(self) -> list[tuple[str, int]]:
        """The (endpoint, bucket) pairs numbered so far."""
        return self._pairs.pairs

    def pair_count(self) -> int:
        """How many (endpoint, bucket) pairs are numbered."""
        return len(self._pairs)

    def compact(self) -> npt.NDArray[np.int64]:
        """All keys as one sorted array, one per pair and register (the largest rank), the
        sparse registers of a pair folded to precision p when it has grown dense."""  # noqa: D205, D209
        if not self._compact or len(self._chunks) != 1:
            merged = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int64)
            self._chunks = []  # freed before sorting: the log may hold millions of keys
            merged.sort(kind="stable")
            keys = largest_rank_per_register(merged, in_place=True)
            del merged
            self._chunks = [self._fold(keys)]
            self._compact, self._pending = True, 0
        return self._chunks[0]

    def _fold(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Sorted compacted keys with the sparse registers of dense pairs at precision p."""
        if not len(keys):
            return keys
        pairs = keys >> self._shift
        starts = run_starts(pairs)
        ends = np.append(starts[1:], len(keys))
        sizes = ends - starts
        # Sparse keys sort first within a pair (DENSE is above the register bits): only a
        # pair starting sparse and ending dense, or past the limit, may fold (usually none).
        sparse_first, dense_last = (keys[starts] & DENSE) == 0, (keys[ends - 1] & DENSE) != 0
        if not (sparse_first & (dense_last | (sizes > self._limit))).any():
            return keys
        sparse = (keys & DENSE) == 0
        sparse_count = np.add.reduceat(sparse.astype(np.int64), starts)
        folds = (sparse_count > self._limit) | ((sizes > sparse_count) & (sparse_count > 0))
        if not folds.any():
            return keys
        moving = sparse & np.repeat(folds, sizes)
        keys = keys.copy()
        keys[moving] = fold_keys(keys[moving], self.precision)
        keys.sort(kind="stable")
        return largest_rank_per_register(keys, in_place=True)

    def prune(self, first_kept: int, also: set[tuple[str, int]]) -> tuple[int, float]:
        """Drop the pairs of buckets before `first_kept`; return how many distinct pairs they
        and `also` are, and the oldest bucket left."""  # noqa: D205, D209
        buckets = self._pairs.buckets()
        dropped = np.zeros(len(buckets), dtype=bool)
        lowest = math.inf
        for i, chunk in enumerate(self._chunks):
            held = buckets[chunk >> self._shift]
            old = held < first_kept
            if old.any():
                dropped[chunk[old] >> self._shift] = True
                self._chunks[i], held = chunk[~old], held[~old]
            if len(held):
                lowest = min(lowest, int(held.min()))
        gone = int(np.count_nonzero(dropped))
        if also and gone:  # pairs settled as sketches too: count each pair once
            ids = np.flatnonzero(dropped)
            ends = map(self._pairs.names().__getitem__, self._pairs.arrays()[0][ids].tolist())
            gone = len(also.union(zip(ends, buckets[ids].tolist(), strict=True)))
        else:
            gone += len(also)
        self._forget(buckets >= first_kept)
        return gone, lowest

    def _forget(self, live: npt.NDArray[np.bool_]) -> None:
        """Renumber the pairs `live` marks once the dropped ones pass a quarter of them, so
        the pair table stays within 1.25 times the pairs held (keys rewritten, order kept)."""  # noqa: D205, D209
        held = int(np.count_nonzero(live))
        if 4 * (len(live) - held) <= held:
            return
        renumber = self._pairs.keep(live)
        low = (1 << self._shift) - 1
        shift = self._shift
        self._chunks = [(renumber[c >> shift] << shift) | (c & low) for c in self._chunks]

    def drain(self) -> Iterator[tuple[str, int, HyperLogLog]]:
        """`(endpoint, bucket, sketch)` per pair; the log is empty afterwards."""
        keys = self.compact()
        self._chunks = []
        registers = (keys >> RANK_BITS) & _SPARSE_MASK
        ranks = (keys & 63).astype(np.uint8)
        dense_keys = (keys & DENSE) != 0
        m, p = 1 << self.precision, self.precision
        pairs = self._pairs.pairs
        for pair, start, end in self._spans(keys):
            sketch = HyperLogLog(p)
            if not dense_keys[start]:
                sketch.add_registers(registers[start:end], ranks[start:end], SPARSE_PRECISION)
            elif end - start > sparse_limit(p, p):
                dense = np.zeros(m, dtype=np.uint8)
                dense[registers[start:end]] = ranks[start:end]
                sketch = HyperLogLog.from_bytes(dense_header(p, packed=False) + dense.tobytes())
            else:
                sketch.add_registers(registers[start:end], ranks[start:end], p)
            endpoint, bucket = pairs[pair]
            yield endpoint, bucket, sketch

    def _spans(self, keys: npt.NDArray[np.int64]) -> Iterator[tuple[int, int, int]]:
        """`(pair id, start, end)` of each pair's run of sorted keys."""
        if not len(keys):
            return
        pairs, starts = self._runs(keys)
        ends = np.append(starts[1:], len(keys))
        yield from zip(pairs.tolist(), starts.tolist(), ends.tolist(), strict=True)

    def sizes(self) -> npt.NDArray[np.int64]:
        """Registers set per (endpoint, bucket) pair held."""
        keys = self.compact()
        return np.diff(np.append(self._runs(keys)[1], len(keys)))

    def memory_bytes(self) -> int:
        """Bytes of the encoded sketches (`HyperLogLog.memory_bytes` of each)."""
        keys = self.compact()
        return int(self._kinds(keys)[2].sum())

    def _runs(self, keys: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
        """The pair ids of the compacted keys and where each pair's run starts."""
        pairs = keys >> self._shift
        starts = run_starts(pairs) if len(keys) else np.zeros(0, dtype=np.intp)
        return pairs[starts], starts

    def _kinds(
        self, keys: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Per pair of compacted keys: where its run starts, its kind (0 sparse at 25, 1
        sparse at p, 2 dense) and the length of its `to_bytes()`."""  # noqa: D205, D209
        starts = self._runs(keys)[1]
        sizes = np.diff(np.append(starts, len(keys)))
        at_p = (keys[starts] & DENSE) != 0
        kind = np.where(
            at_p, np.where(sizes > sparse_limit(self.precision, self.precision), 2, 1), 0
        )
        head = len(dense_header(self.precision))
        lengths = np.select(
            (kind == 0, kind == 1),
            (head + 4 + 4 * sizes, head + 4 + 3 * sizes),
            dense_size(self.precision),
        )
        return starts, kind, lengths

    def packed(self) -> dict[str, object]:
        """The whole log as a few arrays, written as base64 (the state store's compact form).

        `endpoints` lists the names; pair i is endpoint `pair_endpoints[i]` (little-endian
        uint32) in bucket `pair_buckets[i]` (int64) with the next `pair_sizes[i]` (uint32)
        of `entries` (uint32 `dense << 31 | register << 6 | rank`, increasing within a pair).
        """
        keys = self.compact()
        pair_ids, starts = self._runs(keys)
        all_endpoints, all_buckets = self._pairs.arrays()
        held = all_endpoints[pair_ids]
        sizes = np.diff(np.append(starts, len(keys)))
        # endpoints numbered in order of first appearance among the held pairs
        used, first = np.unique(held, return_index=True)
        order = np.argsort(first, kind="stable")
        number = np.zeros(int(used.max()) + 1 if len(used) else 0, dtype=np.int64)
        number[used[order]] = np.arange(len(used))
        table = self._pairs.names()
        return {
            "endpoints": [table[endpoint] for endpoint in used[order].tolist()],
            "pair_endpoints": Base64Value(number[held].astype("<u4")),
            "pair_buckets": Base64Value(all_buckets[pair_ids].astype("<i8")),
            "pair_sizes": Base64Value(sizes.astype("<u4")),
            "entries": Base64Value((keys & 0xFFFFFFFF).astype("<u4")),
        }

    @classmethod
    def from_packed(cls, precision: int, packed: Mapping[str, object]) -> RegisterLog:
        """The log of `packed()` output (this form or the one before), strictly checked.

        Raises:
            ValueError: inconsistent lengths, unknown endpoints, repeated pairs, registers
                out of order or range, ranks out of range, bad base64.
        """
        if set(packed) not in _PACKED_FIELDS:
            fields = ", ".join(sorted(set(packed) ^ _PACKED_FIELDS["entries" not in packed]))
            raise ValueError(f"packed distinct-users state: unknown or missing fields ({fields})")
        names = packed["endpoints"]
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ValueError("packed distinct-users endpoints must be non-empty strings")
        endpoints = packed_array(packed, "pair_endpoints", "<u4")
        buckets = packed_array(packed, "pair_buckets", "<i8")
        sizes = packed_array(packed, "pair_sizes", "<u4").astype(np.int64)
        entries = packed_entries(packed, precision)
        if not len(endpoints) == len(buckets) == len(sizes):
            raise ValueError("packed distinct-users pairs have arrays of different lengths")
        if int(sizes.sum()) != len(entries):
            raise ValueError("packed distinct-users registers do not match the pair sizes")
        if (len(sizes) and int(sizes.min()) < 1) or len(set(names)) != len(names):
            raise ValueError("packed distinct-users state has an empty pair or repeated names")
        if len(endpoints) and int(endpoints.max()) >= len(names):
            raise ValueError("packed distinct-users pair names an unknown endpoint")
        log = cls(precision)
        named = map(names.__getitem__, endpoints.tolist())
        if not log._pairs.load(list(zip(named, buckets.tolist(), strict=True))):
            raise ValueError("packed distinct-users state repeats an (endpoint, bucket) pair")
        ids = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
        keys = (ids << log._shift) | entries
        if len(keys) > 1 and not bool(np.all((keys[1:] >> RANK_BITS) > (keys[:-1] >> RANK_BITS))):
            raise ValueError("packed distinct-users registers repeat or are out of order")
        log._chunks, log._compact = [keys], False  # folded when first read
        return log

    def encoded(self) -> dict[str, dict[int, str]]:
        """Each sketch's `HyperLogLog.to_base64()`, per endpoint and bucket."""
        result: dict[str, dict[int, str]] = {}
        for endpoint, bucket, text in self.encoded_rows():
            result.setdefault(endpoint, {})[bucket] = text
        return result

    def encoded_rows(self) -> list[tuple[str, int, str]]:
        """`(endpoint, bucket, HyperLogLog.to_base64())` of each sketch, in key order.

        All sketches are laid out in one buffer, each padded with zeros to a multiple of 3
        bytes, and base64-encoded in one call: a sketch's text is then its slice of the
        whole, with its last quantum cut back and `=`-padded as if encoded alone.
        """
        keys = self.compact()
        rows: list[tuple[str, int, str]] = []
        pairs = self._pairs.pairs
        for part in self._parts(keys):  # a million keys at a time bounds the temporaries
            out, raw_lengths, pair_ids = self._layout(part)
            text = b2a_base64(out.tobytes(), newline=False).decode("ascii")
            quanta = -(-raw_lengths // 3)
            padding = (3 - raw_lengths % 3) % 3
            rows += [
                (*pairs[pair], text[begin : begin + size] + _PADS[pad])
                for pair, begin, size, pad in zip(
                    pair_ids.tolist(),
                    ((np.cumsum(quanta) - quanta) * 4).tolist(),
                    (4 * quanta - padding).tolist(),
                    padding.tolist(),
                    strict=True,
                )
            ]
        return rows

    def byte_rows(self) -> list[tuple[str, int, bytearray]]:
        """`(endpoint, bucket, HyperLogLog.to_bytes())` of each sketch, in key order.

        Each sketch is its slice of one buffer laid out for all (as `encoded_rows`, without
        the base64). Slices of a `bytearray`: sqlite3 binds those without looking for an
        adapter, as it must for `bytes` (a quarter of an insert's time).
        """
        keys = self.compact()
        rows: list[tuple[str, int, bytearray]] = []
        pairs = self._pairs.pairs
        for part in self._parts(keys):  # a million keys at a time bounds the temporaries
            out, raw_lengths, pair_ids = self._layout(part)
            whole = bytearray(out.data)
            padded = -(-raw_lengths // 3) * 3
            rows += [
                (*pairs[pair], whole[begin : begin + size])
                for pair, begin, size in zip(
                    pair_ids.tolist(),
                    (np.cumsum(padded) - padded).tolist(),
                    raw_lengths.tolist(),
                    strict=True,
                )
            ]
        return rows

    def _parts(self, keys: npt.NDArray[np.int64]) -> Iterator[npt.NDArray[np.int64]]:
        """Slices of about `_PART_KEYS` sorted keys, cut between pairs."""
        if not len(keys):
            return
        pairs = keys >> self._shift
        starts = run_starts(pairs)
        del pairs
        found = np.searchsorted(starts, np.arange(0, len(keys), _PART_KEYS))
        cuts = sorted_distinct(starts[found[found < len(starts)]])  # no pair starts past the last
        for start, end in zip(cuts.tolist(), [*cuts[1:].tolist(), len(keys)], strict=True):
            yield keys[start:end]

    def _layout(
        self, keys: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Every sketch's `to_bytes()`, back to back, each padded to a multiple of 3 bytes.

        Also returns each sketch's unpadded length and its pair.
        """
        p = self.precision
        starts, kind, raw_lengths = self._kinds(keys)
        sizes = np.diff(np.append(starts, len(keys)))
        head = len(dense_header(p))
        at = np.concatenate(([0], np.cumsum(-(-raw_lengths // 3) * 3)))
        out = np.zeros(int(at[-1]), dtype=np.uint8)
        at = at[:-1]
        headers = np.array(
            [list(sparse_header(p, 0)[:head]), list(sparse_header(p, 0, high=False)[:head]),
             list(dense_header(p))],
            dtype=np.uint8,
        )  # fmt: skip
        out[at[:, None] + np.arange(head)] = headers[kind]
        sparse_pairs = kind < 2
        counts = sizes[sparse_pairs].astype(">u4").view(np.uint8).reshape(-1, 4)
        out[at[sparse_pairs][:, None] + head + np.arange(4)] = counts
        entry_pair = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        entry_kind = kind[entry_pair]
        out[sparse_bytes(at + head + 4, kind, sizes, len(out))] = sparse_entries(
            keys[entry_kind < 2], entry_kind[entry_kind < 2]
        )
        chosen, dense = np.flatnonzero(entry_kind == 2), np.flatnonzero(kind == 2)
        if len(chosen):
            rows = np.searchsorted(dense, entry_pair[chosen])
            registers = (keys[chosen] >> RANK_BITS) & _SPARSE_MASK
            ranks = (keys[chosen] & 63).astype(np.uint8)
            packed = pack6_rows(rows, registers, ranks, len(dense), 1 << p)
            for spot, row in zip((at[dense] + head).tolist(), packed, strict=True):
                out[spot : spot + len(row)] = row  # 6 bits a register, as `to_bytes`
        return out, raw_lengths, (keys >> self._shift)[starts]
