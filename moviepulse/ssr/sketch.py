"""A mergeable latency sketch: log-bucket histogram with bounded relative error (DDSketch-style).

Bucket ``i`` holds values in ``(γ^(i-1), γ^i]`` with ``γ = (1+α)/(1-α)``; a quantile is answered
with ``2γ^i/(γ+1)``, which is within relative error ``α`` of every value in the bucket. The rank
rule is the lower one (the ``floor(q·(n-1))``-th smallest sample), so the answer is within ``α``
of the exact sample quantile under the same rule. ``α`` is 0.8 % by default (stated bound: 1 %).

Values are milliseconds. Values ≤ ``MIN_MS`` go to a zero bucket (reported as 0); values above
``MAX_MS`` are clamped. Sketches merge by adding bucket counts, so per-minute sketches of many
workers and many minutes combine exactly as if one sketch had seen every sample.

Serialisation is compact: a version byte, then varints (zero count, bucket count, then per bucket
the zig-zag delta of the index and the count), zlib-compressed when that is smaller. The worst
case over the clamped range (1,370 buckets) is ~2.8 KB before compression; a typical route-minute
takes tens of bytes.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable

ALPHA = 0.008
GAMMA = (1 + ALPHA) / (1 - ALPHA)
_MULT = 1.0 / math.log(GAMMA)
MIN_MS = 1e-3
MAX_MS = 3_600_000.0
_VERSION_RAW = 1
_VERSION_ZLIB = 2

_log = math.log
_ceil = math.ceil


class LatencySketch:
    """Counts of samples per logarithmic bucket plus the zero bucket (count and sum live with the caller)."""

    __slots__ = ("buckets", "zero")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.zero = 0

    # -- adding ----------------------------------------------------------------------
    def add(self, ms: float) -> None:
        """Record one value in milliseconds."""
        if ms > MIN_MS:
            i = _ceil(_log(ms if ms < MAX_MS else MAX_MS) * _MULT)
            b = self.buckets
            b[i] = b.get(i, 0) + 1
        else:
            self.zero += 1

    def extend(self, values: Iterable[float]) -> None:
        for v in values:
            self.add(v)

    def merge(self, other: LatencySketch) -> LatencySketch:
        """Add ``other``'s counts into this sketch (in place; returns self)."""
        b = self.buckets
        for i, c in other.buckets.items():
            b[i] = b.get(i, 0) + c
        self.zero += other.zero
        return self

    # -- reading ---------------------------------------------------------------------
    @staticmethod
    def bucket_value(i: int) -> float:
        return 2.0 * GAMMA ** i / (GAMMA + 1.0)

    def quantile(self, q: float) -> float | None:
        """The ``q``-quantile (0 ≤ q ≤ 1) in ms, within relative error ALPHA; None when empty."""
        n = self.count
        if n == 0:
            return None
        if not 0.0 <= q <= 1.0:
            raise ValueError("q must be within [0, 1]")
        rank = math.floor(q * (n - 1))
        if rank < self.zero:
            return 0.0
        seen = self.zero
        for i in sorted(self.buckets):
            seen += self.buckets[i]
            if seen > rank:
                return self.bucket_value(i)
        return self.bucket_value(max(self.buckets))  # pragma: no cover - unreachable

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        """Several quantiles in one walk over the sorted buckets."""
        qs = list(qs)
        n = self.count
        if n == 0:
            return [None] * len(qs)
        ranks = sorted((math.floor(q * (n - 1)), k) for k, q in enumerate(qs))
        out: list[float | None] = [None] * len(qs)
        items = iter(sorted(self.buckets.items()))
        seen = self.zero
        current = 0.0
        for rank, k in ranks:
            if rank < self.zero:
                out[k] = 0.0
                continue
            while seen <= rank:
                i, c = next(items)
                seen += c
                current = self.bucket_value(i)
            out[k] = current
        return out

    def count_at_most(self, ms: float) -> int:
        """How many samples fell in buckets whose upper bound is ≤ ``ms`` (approximate at the edge)."""
        limit = _ceil(_log(ms) * _MULT) if ms > MIN_MS else None
        n = self.zero
        if limit is not None:
            n += sum(c for i, c in self.buckets.items() if i <= limit)
        return n

    @property
    def count(self) -> int:
        return self.zero + sum(self.buckets.values())

    # -- bytes -----------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        out = bytearray()
        _put(out, self.zero)
        _put(out, len(self.buckets))
        prev = 0
        for i in sorted(self.buckets):
            delta = i - prev
            _put(out, (delta << 1) ^ (delta >> 63))  # zig-zag
            _put(out, self.buckets[i])
            prev = i
        raw = bytes(out)
        if len(raw) > 256:
            packed = zlib.compress(raw, 6)
            if len(packed) < len(raw):
                return bytes([_VERSION_ZLIB]) + packed
        return bytes([_VERSION_RAW]) + raw

    @classmethod
    def from_bytes(cls, data: bytes | None) -> LatencySketch:
        """Rebuild a sketch from :meth:`to_bytes` output."""
        sketch = cls()
        if not data:
            return sketch
        version, body = data[0], data[1:]
        if version == _VERSION_ZLIB:
            body = zlib.decompress(body)
        elif version != _VERSION_RAW:
            raise ValueError(f"unknown sketch version {version}")
        pos = 0
        sketch.zero, pos = _get(body, pos)
        n, pos = _get(body, pos)
        prev = 0
        buckets = sketch.buckets
        for _ in range(n):
            z, pos = _get(body, pos)
            delta = (z >> 1) ^ -(z & 1)
            c, pos = _get(body, pos)
            prev += delta
            buckets[prev] = c
        return sketch

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LatencySketch) and self.buckets == other.buckets and self.zero == other.zero

    def __repr__(self) -> str:
        return f"LatencySketch(count={self.count}, buckets={len(self.buckets)})"


def _put(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _get(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
