"""Distinct-user registers in bulk: numpy arrays instead of one Python dict per sketch.

The batch path of `DistinctTracker` never touches a `HyperLogLog` per hit. A batch becomes
*register entries*: for each (endpoint, bucket) pair the largest rank seen per register,
found with one sort (`reduce_registers`, run in the worker processes of a parallel replay).
The tracker keeps them in a `RegisterLog`: int64 keys `pair << (p + 6) | register << 6 |
rank` appended per batch and compacted (sorted, largest rank kept) when read. Saving encodes
the sketches straight from the keys, byte for byte what `HyperLogLog.to_bytes` gives for the
same registers; a query turns the log into `HyperLogLog` objects first.
"""

from __future__ import annotations

import math
from base64 import b64decode
from binascii import Error as Base64Error
from binascii import b2a_base64
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hitcount.model.packed import Base64Value
from hitcount.sketches.hll import HyperLogLog, dense_header, sparse_header
from hitcount.sketches.registers import (
    RANK_BITS,
    RegisterEntries,
    largest_rank_per_register,
    run_starts,
)

_PADS = ("", "=", "==")
_PART_KEYS = 1 << 20


_PACKED_FIELDS = frozenset(
    ("endpoints", "pair_endpoints", "pair_buckets", "pair_sizes", "registers", "ranks")
)


def _array(packed: Mapping[str, object], name: str, dtype: str) -> npt.NDArray[np.generic]:
    text = packed.get(name)
    if not isinstance(text, str):
        raise ValueError(f"packed distinct-users {name} must be a base64 string")
    try:
        raw = b64decode(text, validate=True)
    except (Base64Error, ValueError) as err:
        raise ValueError(f"packed distinct-users {name} is not valid base64") from err
    width = np.dtype(dtype).itemsize
    if len(raw) % width:
        raise ValueError(f"packed distinct-users {name} has a partial item")
    return np.frombuffer(raw, dtype=dtype)


class RegisterLog:
    """Register entries of many (endpoint, bucket) sketches, appended in bulk."""

    def __init__(self, precision: int) -> None:
        """An empty log for sketches of this precision."""
        self.precision = precision
        self._shift = precision + RANK_BITS
        self._chunks: list[npt.NDArray[np.int64]] = []
        #: Whether `_chunks` is one compacted array.
        self._compact = True
        self._pair_ids: dict[tuple[str, int], int] = {}
        self._pairs: list[tuple[str, int]] = []
        self._bucket_array: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self._runs_of: npt.NDArray[np.int64] | None = None
        self._runs_cache: tuple[npt.NDArray[np.int64], npt.NDArray[Any]] = (
            self._bucket_array,
            self._bucket_array,
        )

    def __bool__(self) -> bool:
        return any(len(chunk) for chunk in self._chunks)

    def add(
        self, names: Sequence[str], entries: RegisterEntries, keep: npt.NDArray[np.bool_]
    ) -> None:
        """Append the pairs of `entries` that `keep` marks (endpoint codes index `names`)."""
        wanted = list(
            zip(
                map(names.__getitem__, entries.codes[keep].tolist()),
                entries.buckets[keep].tolist(),
                strict=True,
            )
        )
        if not wanted:
            return
        pairs = list(map(self._pair_ids.get, wanted))
        if None in pairs:  # number the new pairs (a batch holds each pair once)
            new = [key for key, pair in zip(wanted, pairs, strict=True) if pair is None]
            numbers = range(len(self._pairs), len(self._pairs) + len(new))
            self._pair_ids.update(zip(new, numbers, strict=True))
            self._pairs.extend(new)
            pairs = list(map(self._pair_ids.__getitem__, wanted))
        sizes, registers, ranks = entries.sizes, entries.registers, entries.ranks
        if not keep.all():
            per_entry = np.repeat(keep, sizes)
            sizes, registers, ranks = sizes[keep], registers[per_entry], ranks[per_entry]
        keys = np.repeat(np.array(pairs, dtype=np.int64) << self._shift, sizes)
        keys |= registers.astype(np.int64) << RANK_BITS
        keys |= ranks
        self._chunks.append(keys)
        self._compact = False

    def add_sketch(self, endpoint: str, bucket: int, sketch: HyperLogLog) -> None:
        """Append the registers of one sketch."""
        sparse = sketch.sparse_registers()
        if sparse is not None:
            indexes = np.fromiter(sparse.keys(), dtype=np.int64, count=len(sparse))
            ranks = np.fromiter(sparse.values(), dtype=np.int64, count=len(sparse))
        else:
            registers = np.frombuffer(sketch.registers(), dtype=np.uint8)
            indexes = np.flatnonzero(registers).astype(np.int64)
            ranks = registers[indexes].astype(np.int64)
        pair = self._pair_id((endpoint, bucket))
        self._chunks.append((pair << self._shift) | (indexes << RANK_BITS) | ranks)
        self._compact = False

    def pairs(self) -> list[tuple[str, int]]:
        """The (endpoint, bucket) pairs numbered so far."""
        return self._pairs

    def _pair_id(self, key: tuple[str, int]) -> int:
        found = self._pair_ids.get(key)
        if found is None:
            found = self._pair_ids[key] = len(self._pairs)
            self._pairs.append(key)
        return found

    def compact(self) -> npt.NDArray[np.int64]:
        """All keys as one sorted array, one per pair and register (the largest rank)."""
        if not self._compact or len(self._chunks) != 1:
            merged = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int64)
            self._chunks = []  # freed before sorting: the log may hold millions of keys
            merged.sort(kind="stable")
            self._chunks = [largest_rank_per_register(merged)]
            self._compact = True
        return self._chunks[0]

    def prune(self, first_kept: int) -> tuple[set[tuple[str, int]], float]:
        """Drop the pairs of buckets before `first_kept`; return them and the oldest bucket left."""
        buckets = self._pair_buckets()
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
        return {self._pairs[pair] for pair in np.flatnonzero(dropped).tolist()}, lowest

    def _pair_buckets(self) -> npt.NDArray[np.int64]:
        """The bucket of every pair numbered so far (extended as pairs are numbered)."""
        known = len(self._bucket_array)
        if known < len(self._pairs):
            added = np.fromiter(
                (bucket for _, bucket in self._pairs[known:]),
                dtype=np.int64,
                count=len(self._pairs) - known,
            )
            self._bucket_array = np.concatenate((self._bucket_array, added))
        return self._bucket_array

    def drain(self) -> Iterator[tuple[str, int, HyperLogLog]]:
        """`(endpoint, bucket, sketch)` per pair; the log is empty afterwards."""
        keys = self.compact()
        self._chunks = []
        registers = (keys >> RANK_BITS) & ((1 << self.precision) - 1)
        ranks = (keys & 63).astype(np.uint8)
        for pair, start, end in self._spans(keys):
            sketch = HyperLogLog(self.precision)
            sketch.add_registers(registers[start:end], ranks[start:end])
            endpoint, bucket = self._pairs[pair]
            yield endpoint, bucket, sketch

    def _spans(self, keys: npt.NDArray[np.int64]) -> Iterator[tuple[int, int, int]]:
        """`(pair id, start, end)` of each pair's run of sorted keys."""
        if not len(keys):
            return
        pairs = keys >> self._shift
        starts = run_starts(pairs)
        ends = np.append(starts[1:], len(keys))
        yield from zip(pairs[starts].tolist(), starts.tolist(), ends.tolist(), strict=True)

    def sizes(self) -> npt.NDArray[np.int64]:
        """Registers set per (endpoint, bucket) pair held."""
        keys = self.compact()
        return np.diff(np.append(self._runs(keys)[1], len(keys)))

    def _runs(self, keys: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
        """The pair ids of the compacted keys and where each pair's run starts (remembered
        while the keys stay the same: metrics and the save both ask)."""  # noqa: D205, D209
        if self._runs_of is not keys:
            pairs = keys >> self._shift
            starts = run_starts(pairs)
            self._runs_cache = (pairs[starts], starts)
            self._runs_of = keys
        return self._runs_cache

    def packed(self) -> dict[str, object]:
        """The whole log as a few arrays, written as base64 (the state store's compact form).

        `endpoints` lists the names; pair i is endpoint `pair_endpoints[i]` (little-endian
        uint32) in bucket `pair_buckets[i]` (int64) with the next `pair_sizes[i]` (uint32)
        of `registers` (uint16, increasing within a pair) and `ranks` (uint8).
        """
        keys = self.compact()
        pair_ids, starts = self._runs(keys)
        held = [self._pairs[pair] for pair in pair_ids.tolist()]
        sizes = np.diff(np.append(starts, len(keys)))
        names = list(dict.fromkeys(endpoint for endpoint, _ in held))
        number = {name: i for i, name in enumerate(names)}
        return {
            "endpoints": names,
            "pair_endpoints": Base64Value(np.array([number[e] for e, _ in held], dtype="<u4")),
            "pair_buckets": Base64Value(np.array([bucket for _, bucket in held], dtype="<i8")),
            "pair_sizes": Base64Value(sizes.astype("<u4")),
            "registers": Base64Value(
                ((keys >> RANK_BITS) & ((1 << self.precision) - 1)).astype("<u2")
            ),
            "ranks": Base64Value((keys & 63).astype(np.uint8)),
        }

    @classmethod
    def from_packed(cls, precision: int, packed: Mapping[str, object]) -> RegisterLog:
        """The log of `packed()` output, strictly checked.

        Raises:
            ValueError: inconsistent lengths, unknown endpoints, repeated pairs, registers
                out of order or range, ranks out of range, bad base64.
        """
        unknown = set(packed) - _PACKED_FIELDS
        if unknown or len(packed) != len(_PACKED_FIELDS):
            fields = ", ".join(sorted(unknown or _PACKED_FIELDS - set(packed)))
            raise ValueError(f"packed distinct-users state: unknown or missing fields ({fields})")
        names = packed["endpoints"]
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise ValueError("packed distinct-users endpoints must be non-empty strings")
        endpoints = _array(packed, "pair_endpoints", "<u4")
        buckets = _array(packed, "pair_buckets", "<i8")
        sizes = _array(packed, "pair_sizes", "<u4").astype(np.int64)
        registers = _array(packed, "registers", "<u2").astype(np.int64)
        ranks = _array(packed, "ranks", "u1").astype(np.int64)
        if not len(endpoints) == len(buckets) == len(sizes):
            raise ValueError("packed distinct-users pairs have arrays of different lengths")
        if int(sizes.sum()) != len(registers) or len(registers) != len(ranks):
            raise ValueError("packed distinct-users registers do not match the pair sizes")
        if (len(sizes) and int(sizes.min()) < 1) or len(set(names)) != len(names):
            raise ValueError("packed distinct-users state has an empty pair or repeated names")
        if len(endpoints) and int(endpoints.max()) >= len(names):
            raise ValueError("packed distinct-users pair names an unknown endpoint")
        if len(ranks) and (int(ranks.min()) < 1 or int(ranks.max()) > 65 - precision):
            raise ValueError("packed distinct-users rank out of range")
        if len(registers) and int(registers.max()) >= 1 << precision:
            raise ValueError("packed distinct-users register out of range")
        log = cls(precision)
        named = map(names.__getitem__, endpoints.tolist())
        log._pairs = list(zip(named, buckets.tolist(), strict=True))
        log._pair_ids = {pair: i for i, pair in enumerate(log._pairs)}
        if len(log._pair_ids) != len(log._pairs):
            raise ValueError("packed distinct-users state repeats an (endpoint, bucket) pair")
        ids = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
        keys = (ids << log._shift) | (registers << RANK_BITS) | ranks
        if len(keys) > 1 and not bool(np.all((keys[1:] >> RANK_BITS) > (keys[:-1] >> RANK_BITS))):
            raise ValueError("packed distinct-users registers repeat or are out of order")
        log._chunks = [keys]
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
        pairs = self._pairs
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

    def _parts(self, keys: npt.NDArray[np.int64]) -> Iterator[npt.NDArray[np.int64]]:
        """Slices of about `_PART_KEYS` sorted keys, cut between pairs."""
        if not len(keys):
            return
        pairs = keys >> self._shift
        starts = run_starts(pairs)
        del pairs
        found = np.searchsorted(starts, np.arange(0, len(keys), _PART_KEYS))
        cuts = np.unique(starts[found[found < len(starts)]])  # no pair starts past the last
        for start, end in zip(cuts.tolist(), [*cuts[1:].tolist(), len(keys)], strict=True):
            yield keys[start:end]

    def _layout(
        self, keys: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Every sketch's `to_bytes()`, back to back, each padded to a multiple of 3 bytes.

        Also returns each sketch's unpadded length and its pair.
        """
        m = 1 << self.precision
        pairs = keys >> self._shift
        starts = run_starts(pairs)
        sizes = np.diff(np.append(starts, len(keys)))
        dense = sizes > HyperLogLog(self.precision).sparse_limit
        head = len(dense_header(self.precision))
        raw_lengths = np.where(dense, head + m, head + 4 + 3 * sizes)
        at = np.concatenate(([0], np.cumsum(-(-raw_lengths // 3) * 3)))
        out = np.zeros(int(at[-1]), dtype=np.uint8)
        at = at[:-1]
        headers = np.array(
            [list(sparse_header(self.precision, 0)[:head]), list(dense_header(self.precision))],
            dtype=np.uint8,
        )
        out[at[:, None] + np.arange(head)] = headers[dense.astype(np.intp)]
        counts = sizes[~dense].astype(">u4").view(np.uint8).reshape(-1, 4)
        out[at[~dense][:, None] + head + np.arange(4)] = counts
        entry_pair = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        registers, ranks = (keys >> RANK_BITS) & (m - 1), (keys & 63).astype(np.uint8)
        in_dense = dense[entry_pair]
        where = at[entry_pair] + np.where(
            in_dense, head + registers, head + 4 + 3 * (np.arange(len(keys)) - starts[entry_pair])
        )
        out[where[in_dense]] = ranks[in_dense]
        sparse = ~in_dense
        where, registers = where[sparse], registers[sparse]
        out[where], out[where + 1], out[where + 2] = registers >> 8, registers & 255, ranks[sparse]
        return out, raw_lengths, pairs[starts]
